"""The internal Network Load Balancer that receives VXLAN copies from AWS VPC Traffic Mirroring."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# AWS VPC Traffic Mirroring sends VXLAN on UDP 4789, and an NLB target needs a UDP listener on it
# (AWS: "Understand traffic mirror target concepts", Network Load Balancer).
VXLAN_PORT = 4789
# Wallarm Native Node: health_check.listen_address ":8080" serves /live and /ready (all-in-one-conf.md).
NATIVE_HEALTH_PORT = 8080
NATIVE_HEALTH_PATH = "/ready"
# Copies in flight when a node leaves are worth little; a short drain speeds up refreshes.
DEREGISTRATION_DELAY_SECONDS = 30


@dataclass(frozen=True)
class NetworkLoadBalancerArgs:
    vpc_id: str
    subnet_ids: list[str]
    deletion_protection: bool
    tags: dict[str, str]


class MirrorNetworkLoadBalancer(pulumi.ComponentResource):
    """Creates the internal NLB (cross-zone on), its UDP 4789 listener and the UDP target group of the
    Native Nodes: source-IP stickiness, HTTP health check on the node's documented :8080 /ready."""

    def __init__(self, name: str, args: NetworkLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wallarm:mirror:NetworkLoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.nlb = aws.lb.LoadBalancer(
            f"{name}-nlb",
            load_balancer_type="network",
            internal=True,
            subnets=args.subnet_ids,
            # An NLB node only forwards to targets in its own zone unless cross-zone is on: with fewer
            # nodes than zones (a one-node stack), the copies of every zone without a node would be
            # dropped. The price is AWS's inter-zone data charge for the copies that cross.
            enable_cross_zone_load_balancing=True,
            enable_deletion_protection=args.deletion_protection,
            tags={**args.tags, "Name": f"{name}-nlb"},
            opts=child,
        )
        self.target_group = aws.lb.TargetGroup(
            f"{name}-vxlan-tg",
            vpc_id=args.vpc_id,
            port=VXLAN_PORT,
            protocol="UDP",
            target_type="instance",
            # Both directions of a TCP connection must reach the same node, or it cannot reassemble
            # the stream. A UDP flow is hashed on its 5-tuple, and AWS derives the outer VXLAN source
            # port from a hash of the mirrored packet's 5-tuple (packet-format page), so the two
            # directions may take different ports; with source-IP stickiness every packet mirrored
            # from one interface goes to one node. The NLB guide says stickiness may be reset when any
            # target's health changes or targets are (de)registered: a scale-out, a refresh or a
            # flapping node moves interfaces between nodes, and streams in flight then are lost.
            stickiness=aws.lb.TargetGroupStickinessArgs(enabled=True, type="source_ip"),
            deregistration_delay=DEREGISTRATION_DELAY_SECONDS,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                protocol="HTTP",
                port=str(NATIVE_HEALTH_PORT),
                path=NATIVE_HEALTH_PATH,
                matcher="200",
                interval=10,
                timeout=5,
                healthy_threshold=3,
                unhealthy_threshold=3,
            ),
            tags=args.tags,
            opts=child,
        )
        self.listener = aws.lb.Listener(
            f"{name}-vxlan-listener",
            load_balancer_arn=self.nlb.arn,
            port=VXLAN_PORT,
            protocol="UDP",
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=self.target_group.arn)],
            tags=args.tags,
            opts=child,
        )
        self.register_outputs({"nlb_arn": self.nlb.arn, "nlb_dns_name": self.nlb.dns_name})
