"""A spoke of an organisation's analyser: this account's web tier enrolled into a hub's Native Nodes.

The hub is a nativeNode stack (NLB, nodes, the traffic mirror target) in a security account, which
shares its target with this account by AWS RAM. A spoke creates no load balancer, no node, no token
and no target: its own traffic mirror filter with the hub's ports, sessions to the hub's target
(static ones for listed interfaces, the enrolment function's for tagged instances), the host
mirroring document and association sending VXLAN to the hub's NLB, and the enrolment alarms.
"""

# No `from __future__ import annotations`: the component package's schema analyzer reads the
# annotations of __init__ (the args) and of the class (the outputs) as real types at run time.
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from ..config import NAMESPACE
from .analysers import _with_analyser
from .args import NativeSpokeArgs
from .resolve import ResolvedArgs
from .stack import HostedComponent, checked_args

SPOKE_TYPE_TOKEN = "wallarm:mirror:NativeSpoke"


class NativeSpoke(HostedComponent):
    """Creates a spoke of an organisation's Native Node analyser, and only that: a traffic mirror
    filter accepting TCP to and from the hub's ports, a session per listed interface to the hub's
    shared target, the enrolment function creating sessions to that target for tagged instances (its
    IAM policy names the target's ARN in the hub's account), the host mirroring SSM document and
    association sending VXLAN to the hub's NLB, and the enrolment alarms. No NLB, no nodes, no token,
    no traffic mirror target: those are the hub's (a nativeNode stack whose outputs are `hub_outputs`).
    """

    hub_traffic_mirror_target_id: pulumi.Output[str]
    """The hub's traffic mirror target (tmt-...), shared with this account, that the sessions send to."""
    hub_traffic_mirror_target_arn: pulumi.Output[str]
    """Its ARN, in the hub's account."""
    hub_nlb_dns_name: pulumi.Output[str]
    """The hub NLB's DNS name, that host mirroring sends to."""
    hub_nlb_zone_addresses: pulumi.Output[dict[str, str]]
    """The hub NLB's private address per availability-zone ID (empty from a hub that does not export them);
    `status` checks this spoke's routes to them."""
    traffic_mirror_vni: pulumi.Output[int]
    """The VNI of the sessions and of host mirroring: the hub's."""
    mirror_source_cidrs: pulumi.Output[list[str]]
    """This spoke's mirrored subnets (each inside one of the hub's mirror_source_cidrs)."""
    traffic_mirror_filter_id: pulumi.Output[str]
    """This spoke's traffic mirror filter (tmf-...)."""
    traffic_mirror_session_ids: pulumi.Output[list[str]]
    """The sessions of trafficMirrorSourceEniIds (the enrolment function's are not Pulumi's)."""
    enrolment_function_name: pulumi.Output[str | None]
    """The enrolment Lambda (None without trafficMirrorSourceTags)."""
    host_mirror_document_name: pulumi.Output[str | None]
    """The SSM document holding the host mirroring script (None with trafficMirrorMethod aws or no source tags)."""
    host_mirror_association_id: pulumi.Output[str | None]
    """The State Manager association that runs it on the tagged instances (None as above)."""
    alarm_topic_arn: pulumi.Output[str | None]
    """The SNS topic of the enrolment alarms (None with alarmsEnabled false or no trafficMirrorSourceTags)."""

    def __init__(self, name: str, args: NativeSpokeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        resolved = checked_args(_with_analyser(args, "nativeSpoke", "NativeSpokeArgs"), "NativeSpokeArgs")
        self.outputs = self._build_analyser(name, resolved, opts, SPOKE_TYPE_TOKEN)

    @classmethod
    def from_resolved(cls, name: str, resolved: ResolvedArgs, opts: pulumi.ResourceOptions) -> "NativeSpoke":
        """The spoke of args the WallarmMirror facade has checked already (its child)."""
        spoke = cls.__new__(cls)
        spoke.outputs = spoke._build_analyser(name, resolved, opts, SPOKE_TYPE_TOKEN)
        return spoke

    # The type this class registers (the component package hosts it as <package>:index:NativeSpoke).
    _type_token = SPOKE_TYPE_TOKEN


def same_region(hub: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    """The hub's outputs, once its target is known to be in this spoke's Region (RunError otherwise)."""
    hub_region = str(hub["traffic_mirror_target_arn"]).split(":")[3]
    if hub_region != region:
        raise pulumi.RunError(
            f"{NAMESPACE}:hubOutputs: the hub's traffic mirror target {hub['traffic_mirror_target_id']} is in "
            f"{hub_region} and this spoke deploys to {region}: traffic mirroring is intra-Region "
            "(docs/organisation.md), so a spoke must be in its hub's Region. "
            f"Fix: pulumi config set aws:region {hub_region}, or enrol into the hub of {region}"
        )
    # A StackReference gives numbers as floats (4242.0); the checks accepted whole ones, and the
    # enrolment function's environment and the host script need the integers.
    return {
        **hub,
        "traffic_mirror_vni": int(hub["traffic_mirror_vni"]),
        "traffic_mirror_ports": [int(port) for port in hub["traffic_mirror_ports"]],
    }


def build_spoke(
    parent: pulumi.ComponentResource, name: str, resolved: ResolvedArgs, stack: str, tags: dict[str, str]
) -> dict[str, pulumi.Input[object]]:
    """Every child of one spoke, under `parent`; its outputs by stack output name."""
    # Imported here, like native_analyser.py's, so an NGINX stack never loads them.
    from .alarms import ENROLMENT_ALARMS, AlarmsArgs, MirrorAlarms
    from .tagged_sources import TaggedSourcesArgs, enrol_tagged_sources
    from .traffic_mirror import filter_description, filter_rules, mirror_sessions

    config = resolved.config
    child = pulumi.ResourceOptions(parent=parent)
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    # Region, account and partition of this spoke's account: no VPC of its own to read them from.
    region = aws.get_region_output(opts=invoke).region
    caller = aws.get_caller_identity_output(opts=invoke)
    account = caller.account_id
    partition = caller.arn.apply(lambda arn: arn.split(":")[1])
    # Checked by the hubOutputs rules now (known) or when they resolve (a StackReference's).
    hub = pulumi.Output.all(resolved.value("hub_outputs"), region).apply(lambda v: same_region(v[0], v[1]))

    def hub_value(key: str) -> pulumi.Output[Any]:
        return hub.apply(lambda h: h[key])

    target_id = hub_value("traffic_mirror_target_id")
    target_arn = hub_value("traffic_mirror_target_arn")
    nlb_dns_name = hub_value("nlb_dns_name")
    vni = hub_value("traffic_mirror_vni")
    ports = hub_value("traffic_mirror_ports")

    # No network services (no Amazon DNS): the node analyses HTTP only.
    mirror_filter = aws.ec2.TrafficMirrorFilter(
        f"{name}-filter",
        description=ports.apply(lambda p: filter_description(stack, p)),
        tags={**tags, "Name": f"{name}-filter"},
        opts=child,
    )
    # The rules follow the hub's ports: known now with explicit hubOutputs; from a StackReference only
    # when it resolves, which the engine does at preview and at up alike (a stack's outputs are read
    # from its state), so the rules are created inside the apply then.
    known_hub = "hub_outputs" not in resolved.late
    rules: pulumi.Input[list[aws.ec2.TrafficMirrorFilterRule]]
    if known_hub:
        rules = filter_rules(
            name, mirror_filter.id, list(config.hub_outputs["traffic_mirror_ports"]), config.traffic_mirror_ipv6, child
        )
    else:
        rules = ports.apply(lambda p: filter_rules(name, mirror_filter.id, list(p), config.traffic_mirror_ipv6, child))
    sessions = mirror_sessions(
        name,
        stack,
        resolved.items("traffic_mirror_source_eni_ids"),
        target_id,
        mirror_filter.id,
        vni,
        config.traffic_mirror_session_number,
        tags,
        parent,
        rules,
    )

    outputs: dict[str, pulumi.Input[object]] = {
        "hub_traffic_mirror_target_id": target_id,
        "hub_traffic_mirror_target_arn": target_arn,
        "hub_nlb_dns_name": nlb_dns_name,
        "hub_nlb_zone_addresses": hub.apply(lambda h: dict(h.get("nlb_zone_addresses") or {})),
        "traffic_mirror_vni": vni,
        "mirror_source_cidrs": config.mirror_source_cidrs,
        "traffic_mirror_filter_id": mirror_filter.id,
        "traffic_mirror_session_ids": [session.id for session in sessions],
    }
    if not config.traffic_mirror_source_tags:
        return outputs

    sources = enrol_tagged_sources(
        name,
        config,
        TaggedSourcesArgs(
            stack=stack,
            target_id=target_id,
            target_arn=target_arn,
            filter_id=mirror_filter.id,
            vni=vni,
            ports=ports,
            nlb_dns_name=nlb_dns_name,
            zone_addresses=hub.apply(lambda h: dict(h.get("nlb_zone_addresses") or {})),
            region=region,
            account=account,
            partition=partition,
            tags=tags,
        ),
        child,
    )
    enrolment = sources.enrolment
    outputs["enrolment_function_name"] = enrolment.function.name
    if sources.host_mirroring is not None:
        outputs["host_mirror_document_name"] = sources.host_mirroring.document.name
        outputs["host_mirror_association_id"] = sources.host_mirroring.association.id
    topic_arn = None
    if config.alarms_enabled:
        alarms = MirrorAlarms(
            name,
            AlarmsArgs(
                stack=stack,
                topic_arn=resolved.value("alarm_topic_arn"),
                # A spoke has no load balancer and no nodes: only the enrolment's alarms.
                alb_arn_suffix=None,
                target_group_arn_suffix=None,
                asg_name=None,
                region=region,
                dashboard=False,
                tags=tags,
                specs=ENROLMENT_ALARMS,
                extra_dimensions=enrolment.alarm_dimensions,
            ),
            child,
        )
        topic_arn = alarms.topic_arn
        outputs["alarm_topic_arn"] = topic_arn
    enrolment.pending_alarm(topic_arn)
    return outputs
