"""The read-only AWS calls of `status`, each returning plain facts (checks.py judges them).

boto3 is imported here and nowhere on the Pulumi program's or the plan's import path: `status` is
the only command that talks to AWS, and loading boto3 costs the plan ~0.3 s it must not pay.
Every call maps one IAM action (README, "The IAM policy of status"); a refused call raises
AwsRefused naming it, so the user learns which statement to add.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import boto3
import botocore.config
import botocore.exceptions

# The prefix the boot scripts log with (node/boot_script.py LOG_PREFIX; a test keeps them equal).
# Not imported: status stands apart from the generators, and the line is all it needs of them.
BOOT_LOG_PREFIX = "wallarm-boot:"

# Error codes meaning "these credentials may not do that" (or are not credentials at all).
_REFUSALS = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",  # EC2
    "AuthFailure",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "OptInRequired",
}
# boto3 service name -> IAM service prefix, for naming the refused action.
_IAM_PREFIX = {"elbv2": "elasticloadbalancing"}
# Bounded: a status run (and each --wait round) ends in seconds even when an endpoint hangs.
_CLIENT_CONFIG = botocore.config.Config(
    connect_timeout=5, read_timeout=20, retries={"mode": "standard", "max_attempts": 3}
)
_RECENT_ACTIVITIES = 20

T = TypeVar("T")
BOTOCORE_ERRORS = (botocore.exceptions.BotoCoreError,)


class AwsRefused(Exception):
    """AWS refused a call (credentials, or a missing IAM action): exit 3."""

    def __init__(self, action: str | None, message: str) -> None:
        super().__init__(message)
        self.action = action  # e.g. "cloudwatch:GetMetricData"; None when no call got through at all
        self.message = message


class AwsError(Exception):
    """AWS answered a call with an error that is not a refusal (e.g. the target group is gone)."""

    def __init__(self, action: str, code: str, message: str) -> None:
        super().__init__(f"{action}: {code}: {message}")
        self.action, self.code, self.message = action, code, message


@dataclass(frozen=True)
class Instance:
    """An instance of the Auto Scaling group."""

    instance_id: str
    lifecycle_state: str  # InService, Pending, Terminating, ...
    health_status: str  # Healthy / Unhealthy, as the group sees it


@dataclass(frozen=True)
class Activity:
    """A scaling activity; status_message is AWS's text, shown verbatim."""

    start_time: datetime
    status_code: str  # Successful, Failed, Cancelled, InProgress, ...
    description: str
    status_message: str


@dataclass(frozen=True)
class GroupFacts:
    """The Auto Scaling group, or found=False when it does not exist (in this region)."""

    name: str
    found: bool
    desired: int = 0
    minimum: int = 0
    maximum: int = 0
    instances: tuple[Instance, ...] = ()
    activities: tuple[Activity, ...] = ()  # newest first


@dataclass(frozen=True)
class TargetFacts:
    """One registered target of the target group, with AWS's reason and description."""

    target_id: str
    port: int | None
    state: str  # healthy, initial, unhealthy, unused, draining, unavailable
    reason: str = ""
    description: str = ""


@dataclass(frozen=True)
class AlarmFacts:
    """A CloudWatch alarm that belongs to the stack."""

    name: str
    state: str
    reason: str
    description: str
    since: datetime | None


def iam_action(service: str, operation: str) -> str:
    return f"{_IAM_PREFIX.get(service, service)}:{operation}"


def new_session() -> boto3.session.Session:
    """The standard chain (environment, profile, instance role); tests swap it for a hooked session."""
    return boto3.session.Session()


class Aws:
    """boto3 clients of one region; each method is one read-only question."""

    def __init__(self, session: boto3.session.Session, region: str) -> None:
        self.region = region
        self._session = session
        self._clients: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            config = _CLIENT_CONFIG
            client = self._session.client(service, region_name=self.region, config=config)  # type: ignore[call-overload]  # the stubs know literal service names; this one comes at run time
            self._clients[service] = client
        return self._clients[service]

    def _call(self, service: str, operation: str, call: Callable[[], T]) -> T:
        """Run one call, turning botocore's errors into AwsRefused or AwsError (never a traceback)."""
        action = iam_action(service, operation)
        try:
            return call()
        except botocore.exceptions.ClientError as error:
            details = error.response.get("Error", {})
            code = str(details.get("Code", "")) or "Unknown"
            message = " ".join(str(details.get("Message", "")).split())
            # An error body botocore could not parse (a proxy's page, another protocol's XML) leaves
            # the HTTP status as the code and the raw body as the message: keep the body's own.
            inner = re.search(r"<Code>([^<]+)</Code>.*?<Message>([^<]*)</Message>", message)
            if inner:
                code, message = inner.group(1), inner.group(2)
            message = message[:300]
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _REFUSALS or status == 403:
                raise AwsRefused(action, f"AWS refused {action} ({code}): {message}") from None
            raise AwsError(action, code, message) from None
        except botocore.exceptions.NoCredentialsError:
            raise AwsRefused(
                None, "no AWS credentials found (environment, ~/.aws profile or instance role): sign in first"
            ) from None
        except botocore.exceptions.BotoCoreError as error:
            # Endpoint unreachable, SSO session expired, a broken profile: no answer from AWS at all.
            raise AwsRefused(None, f"could not call {action}: {error}") from None

    def group(self, name: str) -> GroupFacts:
        """autoscaling:DescribeAutoScalingGroups and DescribeScalingActivities."""
        client = self._client("autoscaling")
        groups = self._call(
            "autoscaling",
            "DescribeAutoScalingGroups",
            lambda: client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"],
        )
        if not groups:
            return GroupFacts(name=name, found=False)
        group = groups[0]
        activities = self._call(
            "autoscaling",
            "DescribeScalingActivities",
            lambda: client.describe_scaling_activities(AutoScalingGroupName=name, MaxRecords=_RECENT_ACTIVITIES)[
                "Activities"
            ],
        )
        return GroupFacts(
            name=name,
            found=True,
            desired=int(group["DesiredCapacity"]),
            minimum=int(group["MinSize"]),
            maximum=int(group["MaxSize"]),
            instances=tuple(
                Instance(i["InstanceId"], str(i.get("LifecycleState", "")), str(i.get("HealthStatus", "")))
                for i in group.get("Instances", [])
            ),
            activities=tuple(
                sorted(
                    (
                        Activity(
                            start_time=a["StartTime"],
                            status_code=str(a.get("StatusCode", "")),
                            description=str(a.get("Description", "")),
                            status_message=str(a.get("StatusMessage", "")),
                        )
                        for a in activities
                    ),
                    key=lambda a: a.start_time,
                    reverse=True,
                )
            ),
        )

    def targets(self, target_group_arn: str) -> tuple[TargetFacts, ...]:
        """elasticloadbalancing:DescribeTargetHealth."""
        client = self._client("elbv2")
        descriptions = self._call(
            "elbv2",
            "DescribeTargetHealth",
            lambda: client.describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"],
        )
        return tuple(
            TargetFacts(
                target_id=d["Target"]["Id"],
                port=d["Target"].get("Port"),
                state=str(d.get("TargetHealth", {}).get("State", "")),
                reason=str(d.get("TargetHealth", {}).get("Reason", "")),
                description=str(d.get("TargetHealth", {}).get("Description", "")),
            )
            for d in descriptions
        )

    def boot_line(self, instance_id: str) -> str | None:
        """ec2:GetConsoleOutput: the last `wallarm-boot:` line of the instance's console, or None."""
        client = self._client("ec2")
        try:
            # Latest: the live buffer instead of the copy AWS takes at boot; Nitro instances only.
            answer = self._call(
                "ec2", "GetConsoleOutput", lambda: client.get_console_output(InstanceId=instance_id, Latest=True)
            )
        except AwsError as error:
            if error.code != "UnsupportedOperation":
                raise
            answer = self._call("ec2", "GetConsoleOutput", lambda: client.get_console_output(InstanceId=instance_id))
        return last_boot_line(str(answer.get("Output") or ""))

    def traffic(self, namespace: str, metrics: tuple[str, ...], load_balancer: str, minutes: int) -> dict[str, float]:
        """cloudwatch:GetMetricData: each metric's sum over the last `minutes` for the load balancer."""
        client = self._client("cloudwatch")
        end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        queries = [
            {
                "Id": f"m{index}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": metric,
                        "Dimensions": [{"Name": "LoadBalancer", "Value": load_balancer}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": True,
            }
            for index, metric in enumerate(metrics)
        ]
        answer = self._call(
            "cloudwatch",
            "GetMetricData",
            lambda: client.get_metric_data(
                MetricDataQueries=queries, StartTime=end - timedelta(minutes=minutes), EndTime=end
            ),
        )
        sums = {metric: 0.0 for metric in metrics}
        for result in answer.get("MetricDataResults", []):
            sums[metrics[int(result["Id"][1:])]] += float(sum(result.get("Values", [])))
        return sums

    def alarms(self, prefix: str | None, dimension_values: set[str]) -> tuple[int, tuple[AlarmFacts, ...]]:
        """cloudwatch:DescribeAlarms: how many alarms carry the stack's name prefix, and the stack's
        alarms in ALARM (by that prefix, or watching one of its load balancer, group or function)."""
        client = self._client("cloudwatch")
        named: list[dict[str, Any]] = []
        if prefix:
            named = self._call(
                "cloudwatch", "DescribeAlarms", lambda: list(_alarm_pages(client, AlarmNamePrefix=prefix))
            )
        firing = self._call("cloudwatch", "DescribeAlarms", lambda: list(_alarm_pages(client, StateValue="ALARM")))
        ours: dict[str, AlarmFacts] = {}
        for alarm in [*named, *firing]:
            watched = {str(d.get("Value")) for d in alarm.get("Dimensions", [])}
            belongs = (prefix is not None and alarm["AlarmName"].startswith(prefix)) or bool(watched & dimension_values)
            if belongs and alarm.get("StateValue") == "ALARM":
                ours[alarm["AlarmName"]] = AlarmFacts(
                    name=alarm["AlarmName"],
                    state="ALARM",
                    reason=" ".join(str(alarm.get("StateReason", "")).split()),
                    description=str(alarm.get("AlarmDescription", "")),
                    since=alarm.get("StateUpdatedTimestamp"),
                )
        return len(named), tuple(sorted(ours.values(), key=lambda a: a.name))


def _alarm_pages(client: Any, **filters: str) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"], **filters):
        yield from page.get("MetricAlarms", [])


def last_boot_line(console_output: str) -> str | None:
    """The last line holding the boot log prefix, from the prefix on (cloud-init and the kernel put
    timestamps and unit names before it). GetConsoleOutput answers base64; plain text passes too."""
    try:
        text = base64.b64decode(console_output, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        text = console_output
    found = None
    for line in text.splitlines():
        at = line.find(BOOT_LOG_PREFIX)
        if at >= 0:
            found = line[at:].strip()
    return found


def session_region(session: boto3.session.Session) -> str | None:
    """The region the standard chain gives (AWS_REGION, AWS_DEFAULT_REGION, the profile), if any."""
    return session.region_name
