"""The least-privilege IAM policy of the enrolment Lambda, as a pure function of plain strings.

What AWS allows to scope (Service Authorization Reference for Amazon EC2, "Actions, resources, and
condition keys for Amazon EC2", https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html,
and the Traffic Mirroring IAM example, https://docs.aws.amazon.com/vpc/latest/mirroring/traffic-mirroring-security.html):

- `ec2:Describe*` calls support no resource-level permissions: `Resource: "*"`.
- `ec2:CreateTrafficMirrorSession` is authorised against the target, the filter, the source
  network interface and the new session. The target and filter are pinned to our two ARNs; the
  source ENI can be any in this account and region (sources come and go with auto-scaling, and ENIs
  do not carry the instance's tags); the new session must be requested with our managed-by tag
  (`aws:RequestTag/<key>`) and with no tag keys besides it and `Name` (`aws:TagKeys`).
- Tagging on create needs `ec2:CreateTags` on the new session, allowed only as part of
  `CreateTrafficMirrorSession` (`ec2:CreateAction`) and with the same tag conditions, so the
  function cannot retag anything.
- `ec2:DeleteTrafficMirrorSession` only on sessions that already carry the managed-by tag
  (`ec2:ResourceTag/<key>`): the function cannot delete a session someone else made.
"""

from __future__ import annotations

from typing import Any

from .enrolment import NAME_TAG_KEY

DESCRIBE_ACTIONS = (
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeTrafficMirrorSessions",
)


def partition_of(region: str) -> str:
    """The ARN partition of a region (aws, aws-cn, aws-us-gov)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def enrolment_policy(
    region: str,
    account_id: str,
    target_id: str,
    filter_id: str,
    managed_tag_key: str,
    managed_tag_value: str,
    target_arn: str | None = None,
) -> dict[str, Any]:
    """The IAM policy document (a dict; `json.dumps` it) the enrolment function's role needs.

    Plain strings in, so the caller can build it inside an `Output.apply` once the target and filter
    ids are known. `target_arn`: a target of another account (a spoke's: the hub's, shared by AWS
    RAM), whose ARN names that account; by default the target is this account's.
    """
    for name, value in {
        "region": region,
        "account_id": account_id,
        "target_id": target_id,
        "filter_id": filter_id,
        "managed_tag_key": managed_tag_key,
        "managed_tag_value": managed_tag_value,
    }.items():
        if not value:
            raise ValueError(f"enrolment_policy needs a non-empty {name}")
    arn = f"arn:{partition_of(region)}:ec2:{region}:{account_id}"
    target = f"{arn}:traffic-mirror-target/{target_id}"
    if target_arn is not None:
        # Traffic mirroring is intra-Region: a target elsewhere is refused here, not by EC2 at 3 a.m.
        prefix = f"arn:{partition_of(region)}:ec2:{region}:"
        if not target_arn.startswith(prefix) or not target_arn.endswith(f":traffic-mirror-target/{target_id}"):
            raise ValueError(
                f"enrolment_policy: target ARN {target_arn} is not target {target_id} in {region} ({prefix}...): "
                "a session's target must be in the source's Region"
            )
        target = target_arn
    new_session = f"{arn}:traffic-mirror-session/*"
    request_tags: dict[str, dict[str, Any]] = {
        "StringEquals": {f"aws:RequestTag/{managed_tag_key}": managed_tag_value},
        "ForAllValues:StringEquals": {"aws:TagKeys": sorted({managed_tag_key, NAME_TAG_KEY})},
    }
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListSourcesAndSessions",
                "Effect": "Allow",
                "Action": list(DESCRIBE_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "CreateSessionFromAnyEniToOurTargetWithOurFilter",
                "Effect": "Allow",
                "Action": "ec2:CreateTrafficMirrorSession",
                "Resource": [
                    target,
                    f"{arn}:traffic-mirror-filter/{filter_id}",
                    f"{arn}:network-interface/*",
                ],
            },
            {
                "Sid": "CreateOnlyTaggedSessions",
                "Effect": "Allow",
                "Action": "ec2:CreateTrafficMirrorSession",
                "Resource": new_session,
                "Condition": request_tags,
            },
            {
                "Sid": "TagSessionsOnlyWhileCreatingThem",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": new_session,
                "Condition": {
                    **request_tags,
                    "StringEquals": {
                        **request_tags["StringEquals"],
                        "ec2:CreateAction": "CreateTrafficMirrorSession",
                    },
                },
            },
            {
                "Sid": "DeleteOnlyOurSessions",
                "Effect": "Allow",
                "Action": "ec2:DeleteTrafficMirrorSession",
                "Resource": f"{arn}:traffic-mirror-session/*",
                "Condition": {"StringEquals": {f"ec2:ResourceTag/{managed_tag_key}": managed_tag_value}},
            },
        ],
    }
