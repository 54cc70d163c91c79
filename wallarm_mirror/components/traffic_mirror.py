"""AWS VPC Traffic Mirroring: the target (our NLB), the filter and one session per listed interface.

The filter's rules and the sessions are functions of their own: a spoke (spoke.py) builds them
around a target of another account, its hub's, and creates no target.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .tags import item_name_fragment

TCP = 6
ANYWHERE_V4 = "0.0.0.0/0"
ANYWHERE_V6 = "::/0"
# Rule numbers: unique per filter and direction (EC2 API, CreateTrafficMirrorFilterRule); IPv4 keeps
# the numbers it always had, IPv6 takes its own block. At most 5 ports, so the blocks never meet.
FIRST_RULE = {ANYWHERE_V4: 100, ANYWHERE_V6: 200}


@dataclass(frozen=True)
class TrafficMirrorArgs:
    stack: str
    nlb_arn: pulumi.Input[str]
    ports: list[int]
    # Also mirror IPv6 (dual-stack sources): a rule matches one address family, so each port's two
    # rules are repeated with ::/0 (config check: at most 2 ports then, within 10 rules).
    ipv6: bool
    source_eni_ids: list[pulumi.Input[str]]
    vni: int
    session_number: int
    tags: dict[str, str]


def session_description(stack: str) -> str:
    """Shared with the enrolment Lambda, so a session says which stack made it."""
    return f"wallarm-mirror {stack}: copy to the Wallarm Native Nodes"


def filter_description(stack: str, ports: list[int]) -> str:
    # Unchanged by trafficMirrorIpv6: a new description would replace the filter, which the
    # sessions (also the enrolment function's, outside this stack) still use.
    return f"wallarm-mirror {stack}: TCP {', '.join(map(str, ports))}, both directions"


def filter_rules(
    name: str, filter_id: pulumi.Input[str], ports: list[int], ipv6: bool, opts: pulumi.ResourceOptions
) -> list[aws.ec2.TrafficMirrorFilterRule]:
    """The rules of a filter that accepts exactly TCP to and from `ports` (IPv4, and IPv6 if asked).

    A filter rejects what no rule accepts. Seen from the mirrored interface, requests come in
    (ingress) to the application port and responses go out (egress) from it; the node needs both to
    reassemble a stream. Rules are named by port (and family), so removing one port renames nothing;
    the IPv4 rules keep the names they had before IPv6 came.
    """
    rules: list[aws.ec2.TrafficMirrorFilterRule] = []
    families = [(ANYWHERE_V4, "tcp", "")] + ([(ANYWHERE_V6, "tcp6", " (IPv6)")] if ipv6 else [])
    for anywhere, kind, label in families:
        for index, port in enumerate(ports):
            to_port = aws.ec2.TrafficMirrorFilterRuleDestinationPortRangeArgs(from_port=port, to_port=port)
            from_port = aws.ec2.TrafficMirrorFilterRuleSourcePortRangeArgs(from_port=port, to_port=port)
            for direction, ranges in (
                ("ingress", {"destination_port_range": to_port}),
                ("egress", {"source_port_range": from_port}),
            ):
                rules.append(
                    aws.ec2.TrafficMirrorFilterRule(
                        f"{name}-filter-{direction}-{kind}-{port}",
                        traffic_mirror_filter_id=filter_id,
                        description=f"TCP{label} {'to' if direction == 'ingress' else 'from'} port {port}",
                        traffic_direction=direction,
                        rule_number=FIRST_RULE[anywhere] + index,
                        rule_action="accept",
                        protocol=TCP,
                        source_cidr_block=anywhere,
                        destination_cidr_block=anywhere,
                        opts=opts,
                        **ranges,
                    )
                )
    return rules


def mirror_sessions(
    name: str,
    stack: str,
    source_eni_ids: list[pulumi.Input[str]],
    target_id: pulumi.Input[str],
    filter_id: pulumi.Input[str],
    vni: pulumi.Input[int],
    session_number: int,
    tags: dict[str, str],
    parent: pulumi.Resource,
    rules: pulumi.Input[list[aws.ec2.TrafficMirrorFilterRule]],
) -> list[aws.ec2.TrafficMirrorSession]:
    """One session per interface, to `target_id` (ours, or a hub's shared with this account)."""
    return [
        aws.ec2.TrafficMirrorSession(
            # A known id names its session (as before); an Output's is named by its position.
            f"{name}-session-{eni if isinstance(eni, str) else item_name_fragment(eni, index, 'eni')}",
            network_interface_id=eni,
            traffic_mirror_target_id=target_id,
            traffic_mirror_filter_id=filter_id,
            session_number=session_number,
            virtual_network_id=vni,
            description=session_description(stack),
            tags={
                **tags,
                "Name": f"{name}-session-{eni}"
                if isinstance(eni, str)
                else pulumi.Output.concat(name, "-session-", eni),
            },
            # The filter's rules must exist before a session sends anything through it.
            opts=pulumi.ResourceOptions(parent=parent, depends_on=rules),
        )
        for index, eni in enumerate(source_eni_ids)
    ]


class TrafficMirror(pulumi.ComponentResource):
    """Creates the traffic mirror target (the NLB), a filter that accepts exactly TCP to and from the
    application ports in both directions (IPv4, and IPv6 unless turned off), and one session per
    interface in trafficMirrorSourceEniIds."""

    def __init__(self, name: str, args: TrafficMirrorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wallarm:mirror:TrafficMirror", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.target = aws.ec2.TrafficMirrorTarget(
            f"{name}-target",
            network_load_balancer_arn=args.nlb_arn,
            description=f"wallarm-mirror {args.stack}: Wallarm Native Nodes behind an NLB",
            tags={**args.tags, "Name": f"{name}-target"},
            opts=child,
        )
        # No network services (no Amazon DNS): the node analyses HTTP only.
        self.filter = aws.ec2.TrafficMirrorFilter(
            f"{name}-filter",
            description=filter_description(args.stack, args.ports),
            tags={**args.tags, "Name": f"{name}-filter"},
            opts=child,
        )
        self.rules = filter_rules(name, self.filter.id, args.ports, args.ipv6, child)
        self.sessions = mirror_sessions(
            name,
            args.stack,
            args.source_eni_ids,
            self.target.id,
            self.filter.id,
            args.vni,
            args.session_number,
            args.tags,
            self,
            self.rules,
        )
        self.register_outputs(
            {
                "traffic_mirror_target_id": self.target.id,
                "traffic_mirror_filter_id": self.filter.id,
                "traffic_mirror_session_ids": [s.id for s in self.sessions],
            }
        )
