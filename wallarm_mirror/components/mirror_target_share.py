"""A hub's traffic mirror target, shared through AWS RAM with the accounts whose spoke stacks enrol.

AWS: "A traffic mirror target can be owned by an AWS account that is different from the traffic mirror
source"; the owner shares it with AWS Resource Access Manager, choosing the resource type "Traffic
Mirror Targets" and, as principals, AWS accounts, OUs or the organization; an account in another
organization accepts the share before it can use the target; only the owner can modify or delete it
(VPC Traffic Mirroring guide, "Cross-account traffic mirror targets",
https://docs.aws.amazon.com/vpc/latest/mirroring/cross-account-traffic-mirroring-targets.html).
Deleting a target that sessions use makes those sessions inactive (same guide, "Accept or delete a
shared traffic mirror target").
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..config import NAMESPACE
from .tags import name_fragment

_ARN_PATH = re.compile(r"arn:[^:]+:organizations::[0-9]{12}:(.+)")


@dataclass(frozen=True)
class MirrorTargetShareArgs:
    stack: str
    target_arn: pulumi.Input[str]
    # Account ids, OU ARNs or the organization's ARN: checked by the config (native_checks.share_principals).
    principals: list[str]
    allow_external: bool
    # The account the stack deploys to (the caller's, which owns the target): sharing with it is refused.
    account: pulumi.Output[str]
    tags: dict[str, str]


def principal_name(principal: str) -> str:
    """A resource-name-safe, one-to-one name of a principal: the account id, or the ARN's path."""
    match = _ARN_PATH.fullmatch(principal)
    return name_fragment(principal, shown=match.group(1) if match else None)


def checked_principal(principal: str, account: str) -> str:
    """The principal, or a RunError when it is the stack's own account (RAM cannot share with the owner)."""
    if principal == account:
        raise pulumi.RunError(
            f"{NAMESPACE}:trafficMirrorShareWith: lists {principal}, the account this stack deploys to, which "
            "owns the traffic mirror target already (RAM shares with other accounts). Fix: remove it from "
            f"{NAMESPACE}:trafficMirrorShareWith"
        )
    return principal


class MirrorTargetShare(pulumi.ComponentResource):
    """Creates an AWS RAM resource share (external principals refused unless trafficMirrorShareExternal),
    the association of the traffic mirror target with it, and one principal association per account,
    OU or organization in trafficMirrorShareWith."""

    def __init__(self, name: str, args: MirrorTargetShareArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wallarm:mirror:MirrorTargetShare", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.share = aws.ram.ResourceShare(
            f"{name}-target-share",
            name=f"wallarm-mirror-{args.stack}-traffic-mirror-target",
            # False (the default) makes RAM refuse any principal outside the organization when it is
            # associated, so a mistyped account id cannot hand the target to a stranger.
            allow_external_principals=args.allow_external,
            tags={**args.tags, "Name": f"{name}-target-share"},
            opts=child,
        )
        self.target_association = aws.ram.ResourceAssociation(
            f"{name}-target-share-target",
            resource_share_arn=self.share.arn,
            resource_arn=args.target_arn,
            opts=child,
        )
        # One association per principal, named after it: removing one principal replaces no other.
        self.principal_associations = [
            aws.ram.PrincipalAssociation(
                f"{name}-target-share-{principal_name(principal)}",
                resource_share_arn=self.share.arn,
                principal=args.account.apply(functools.partial(checked_principal, principal)),
                opts=child,
            )
            for principal in args.principals
        ]
        self.register_outputs({"traffic_mirror_share_arn": self.share.arn})
