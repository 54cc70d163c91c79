"""Security groups of the mirror ALB and of the Wallarm nodes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .node_profiles import MIRROR_LISTENER_PORT
from .tags import name_fragment

HTTPS_PORT = 443


@dataclass(frozen=True)
class SecurityGroupsArgs:
    vpc_id: str
    mirror_source_cidrs: list[str]
    mirror_source_security_group_ids: list[str]
    node_egress_cidrs: list[str]
    node_port: int
    health_check_port: int
    tags: dict[str, str]


def _cidr_kwargs(cidr: str) -> dict[str, str]:
    return {"cidr_ipv6": cidr} if ipaddress.ip_network(cidr).version == 6 else {"cidr_ipv4": cidr}


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

        # Standalone rule resources (not inline blocks): each source is added or removed on its own.
        for cidr in args.mirror_source_cidrs:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-alb-sg-from-{name_fragment(cidr)}",
                security_group_id=self.alb.id,
                description=f"mirrored traffic from {cidr}",
                ip_protocol="tcp",
                from_port=MIRROR_LISTENER_PORT,
                to_port=MIRROR_LISTENER_PORT,
                tags=args.tags,
                opts=child,
                **_cidr_kwargs(cidr),
            )
        for group in args.mirror_source_security_group_ids:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-alb-sg-from-{name_fragment(group)}",
                security_group_id=self.alb.id,
                description=f"mirrored traffic from {group}",
                ip_protocol="tcp",
                from_port=MIRROR_LISTENER_PORT,
                to_port=MIRROR_LISTENER_PORT,
                referenced_security_group_id=group,
                tags=args.tags,
                opts=child,
            )

        node_ports = sorted({args.node_port, args.health_check_port})
        for port in node_ports:
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-alb-sg-to-nodes-{port}",
                security_group_id=self.alb.id,
                description=f"to the Wallarm nodes on {port}",
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                referenced_security_group_id=self.node.id,
                tags=args.tags,
                opts=child,
            )
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-node-sg-from-alb-{port}",
                security_group_id=self.node.id,
                description=f"from the mirror ALB on {port}",
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                referenced_security_group_id=self.alb.id,
                tags=args.tags,
                opts=child,
            )
        # DNS, NTP and instance metadata use link-local addresses that security groups do not filter,
        # so HTTPS is the only egress nodes need (Wallarm Cloud, SSM, Secrets Manager, package mirrors).
        for cidr in args.node_egress_cidrs:
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-node-sg-https-to-{name_fragment(cidr)}",
                security_group_id=self.node.id,
                description=f"HTTPS to {cidr}: Wallarm Cloud and AWS APIs",
                ip_protocol="tcp",
                from_port=HTTPS_PORT,
                to_port=HTTPS_PORT,
                tags=args.tags,
                opts=child,
                **_cidr_kwargs(cidr),
            )

        self.register_outputs({"alb_security_group_id": self.alb.id, "node_security_group_id": self.node.id})
