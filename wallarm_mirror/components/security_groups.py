"""Security groups of the mirror ALB and of the Wallarm nodes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..node.profiles import MIRROR_LISTENER_PORT
from .tags import item_name_fragment, name_fragment

HTTPS_PORT = 443


@dataclass(frozen=True)
class SecurityGroupsArgs:
    vpc_id: str
    mirror_source_cidrs: list[str]
    mirror_source_security_group_ids: list[pulumi.Input[str]]
    node_egress_cidrs: list[str]
    node_port: int
    health_check_port: int
    tags: dict[str, str]


def rule_peer(peer: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    """The other side of a rule: an IPv4 or IPv6 CIDR, or a security group (an id or our group's output)."""
    if isinstance(peer, str) and "/" in peer:
        return {"cidr_ipv6": peer} if ipaddress.ip_network(peer).version == 6 else {"cidr_ipv4": peer}
    return {"referenced_security_group_id": peer}


class MirrorSecurityGroups(pulumi.ComponentResource):
    """Creates the ALB security group (mirror port from the listed sources only, egress to nodes only)
    and the node security group (traffic and health ports from the ALB only, HTTPS out; no SSH)."""

    def __init__(self, name: str, args: SecurityGroupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wallarm:mirror:SecurityGroups", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.alb = aws.ec2.SecurityGroup(
            f"{name}-alb-sg",
            vpc_id=args.vpc_id,
            description="Wallarm mirror ALB: mirrored requests from the web tier only",
            tags={**args.tags, "Name": f"{name}-alb-sg"},
            opts=child,
        )
        self.node = aws.ec2.SecurityGroup(
            f"{name}-node-sg",
            vpc_id=args.vpc_id,
            description="Wallarm nodes: mirrored traffic and health checks from the mirror ALB only",
            tags={**args.tags, "Name": f"{name}-node-sg"},
            opts=child,
        )

        def tcp_rule(
            kind: type[aws.vpc.SecurityGroupIngressRule | aws.vpc.SecurityGroupEgressRule],
            rule_name: str,
            group: aws.ec2.SecurityGroup,
            port: int,
            peer: pulumi.Input[str],
            description: pulumi.Input[str],
        ) -> None:
            kind(
                rule_name,
                security_group_id=group.id,
                description=description,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                tags=args.tags,
                opts=child,
                **rule_peer(peer),
            )

        # Standalone rule resources (not inline blocks): each source is added or removed on its own. A
        # CIDR or a known group names its rule; a group given as an Output, its position in the list.
        sources = [(name_fragment(cidr), cidr) for cidr in args.mirror_source_cidrs] + [
            (item_name_fragment(group, index, "sg"), group)
            for index, group in enumerate(args.mirror_source_security_group_ids)
        ]
        for fragment, source in sources:
            tcp_rule(
                aws.vpc.SecurityGroupIngressRule,
                f"{name}-alb-sg-from-{fragment}",
                self.alb,
                MIRROR_LISTENER_PORT,
                source,
                f"mirrored traffic from {source}"
                if isinstance(source, str)
                else pulumi.Output.concat("mirrored traffic from ", source),
            )
        for port in sorted({args.node_port, args.health_check_port}):
            tcp_rule(
                aws.vpc.SecurityGroupEgressRule,
                f"{name}-alb-sg-to-nodes-{port}",
                self.alb,
                port,
                self.node.id,
                f"to the Wallarm nodes on {port}",
            )
            tcp_rule(
                aws.vpc.SecurityGroupIngressRule,
                f"{name}-node-sg-from-alb-{port}",
                self.node,
                port,
                self.alb.id,
                f"from the mirror ALB on {port}",
            )
        # DNS, NTP and instance metadata use link-local addresses that security groups do not filter,
        # so HTTPS is the only egress nodes need (Wallarm Cloud, SSM, Secrets Manager, package mirrors).
        for cidr in args.node_egress_cidrs:
            tcp_rule(
                aws.vpc.SecurityGroupEgressRule,
                f"{name}-node-sg-https-to-{name_fragment(cidr)}",
                self.node,
                HTTPS_PORT,
                cidr,
                f"HTTPS to {cidr}: Wallarm Cloud and AWS APIs",
            )

        self.register_outputs({"alb_security_group_id": self.alb.id, "node_security_group_id": self.node.id})
