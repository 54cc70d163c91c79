"""What follows the instances that carry the source tags, for a Native Node hub and a spoke alike:
the enrolment function (AWS sessions) and, unless trafficMirrorMethod is aws, host mirroring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi

from ..config import StackConfig
from .enrolment import EnrolmentArgs, TrafficMirrorEnrolment
from .traffic_mirror import session_description

if TYPE_CHECKING:
    from .host_mirroring import HostMirroring


@dataclass(frozen=True)
class TaggedSourcesArgs:
    """Where the copies go (the stack's own target and NLB, or a hub's) and the account around it."""

    stack: str
    target_id: pulumi.Input[str]
    filter_id: pulumi.Input[str]
    vni: pulumi.Input[int]
    ports: pulumi.Input[list[int]]
    nlb_dns_name: pulumi.Input[str]
    zone_addresses: pulumi.Input[dict[str, str]]
    region: pulumi.Input[str]
    account: pulumi.Input[str]
    partition: pulumi.Input[str]
    tags: dict[str, str]
    # A hub's target in another account (a spoke): its ARN names that account. None: this account's.
    target_arn: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class TaggedSources:
    enrolment: TrafficMirrorEnrolment
    host_mirroring: HostMirroring | None


def enrol_tagged_sources(
    name: str, config: StackConfig, args: TaggedSourcesArgs, opts: pulumi.ResourceOptions
) -> TaggedSources:
    """The enrolment function for config.traffic_mirror_source_tags and, with trafficMirrorMethod auto
    or host, the SSM document and association of the host script (the caller checks the tags are set)."""
    enrolment = TrafficMirrorEnrolment(
        name,
        EnrolmentArgs(
            stack=args.stack,
            source_tags=config.traffic_mirror_source_tags,
            target_id=args.target_id,
            target_arn=args.target_arn,
            filter_id=args.filter_id,
            vni=args.vni,
            session_number=config.traffic_mirror_session_number,
            description=session_description(args.stack),
            method=config.traffic_mirror_method,
            mutation_rate=config.traffic_mirror_enrolment_rate,
            region=args.region,
            account=args.account,
            partition=args.partition,
            tags=args.tags,
        ),
        opts,
    )
    if config.traffic_mirror_method == "aws":
        return TaggedSources(enrolment, None)
    # Imported here: a stack without host mirroring never loads pulumi_aws.ssm's document types.
    from .host_mirroring import HostMirroring, HostMirroringArgs

    host_mirroring = HostMirroring(
        name,
        HostMirroringArgs(
            stack=args.stack,
            method=config.traffic_mirror_method,
            source_tags=config.traffic_mirror_source_tags,
            vni=args.vni,
            ports=args.ports,
            nlb_dns_name=args.nlb_dns_name,
            tags=args.tags,
            zone_addresses=args.zone_addresses,
        ),
        opts,
    )
    return TaggedSources(enrolment, host_mirroring)
