"""The security group of the Wallarm Native Nodes: VXLAN from the mirror sources, health checks from the NLB."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .network_load_balancer import NATIVE_HEALTH_PORT, VXLAN_PORT
from .security_groups import HTTPS_PORT, rule_peer
from .tags import name_fragment


@dataclass(frozen=True)
class NativeSecurityGroupArgs:
    vpc_id: pulumi.Input[str]
    mirror_source_cidrs: list[str]
    nlb_subnet_ids: list[pulumi.Input[str]]
    node_egress_cidrs: list[str]
    tags: dict[str, str]


class NativeSecurityGroup(pulumi.ComponentResource):
    """Creates the node security group: UDP 4789 only from mirrorSourceCidrs (the NLB keeps the
    mirror source's address for UDP), the health port only from the NLB's subnets, HTTPS out; no SSH."""

    def __init__(self, name: str, args: NativeSecurityGroupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wallarm:mirror:NativeSecurityGroup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.node = aws.ec2.SecurityGroup(
            f"{name}-node-sg",
            vpc_id=args.vpc_id,
            description="Wallarm Native Nodes: VXLAN copies from the mirror sources, health checks from the NLB",
            tags={**args.tags, "Name": f"{name}-node-sg"},
            opts=child,
        )
        # AWS: the target's security group must allow VXLAN (UDP 4789) from the mirror source; a UDP
        # NLB preserves the client address, so the nodes see the source interfaces' own addresses.
        for cidr in args.mirror_source_cidrs:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-node-sg-vxlan-from-{name_fragment(cidr)}",
                security_group_id=self.node.id,
                description=f"VXLAN (traffic mirroring) from {cidr}",
                ip_protocol="udp",
                from_port=VXLAN_PORT,
                to_port=VXLAN_PORT,
                tags=args.tags,
                opts=child,
                **rule_peer(cidr),
            )
        # NLB health checks come from the load balancer's own addresses, one per subnet it lives in.
        for index, subnet in enumerate(args.nlb_subnet_ids):
            # Named by the subnet id when it is known now; a subnet given as an Output by its place.
            label = subnet if isinstance(subnet, str) else f"subnet-{index}"
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-node-sg-health-from-{label}",
                security_group_id=self.node.id,
                description=pulumi.Output.concat("NLB health checks from ", subnet),
                ip_protocol="tcp",
                from_port=NATIVE_HEALTH_PORT,
                to_port=NATIVE_HEALTH_PORT,
                cidr_ipv4=aws.ec2.get_subnet_output(id=subnet, opts=pulumi.InvokeOutputOptions(parent=self)).cidr_block,
                tags=args.tags,
                opts=child,
            )
        # Installer download (meganode.wallarm.com), the Wallarm API and AWS APIs are all HTTPS.
        for cidr in args.node_egress_cidrs:
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-node-sg-https-to-{name_fragment(cidr)}",
                security_group_id=self.node.id,
                description=f"HTTPS to {cidr}: Wallarm installer, Wallarm Cloud and AWS APIs",
                ip_protocol="tcp",
                from_port=HTTPS_PORT,
                to_port=HTTPS_PORT,
                tags=args.tags,
                opts=child,
                **rule_peer(cidr),
            )
        self.register_outputs({"node_security_group_id": self.node.id})
