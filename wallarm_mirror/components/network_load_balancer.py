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


def node_interface_filters(values: list[str]) -> list[aws.ec2.GetNetworkInterfaceFilterArgs]:
    """The filters that find the NLB node's interface in one subnet: [ARN suffix, subnet id]."""
    arn_suffix, subnet = values
    return [
        aws.ec2.GetNetworkInterfaceFilterArgs(name="description", values=[f"ELB {arn_suffix}"]),
        aws.ec2.GetNetworkInterfaceFilterArgs(name="subnet-id", values=[subnet]),
    ]


def zone_addresses(entries: list[tuple[str, str]]) -> dict[str, str]:
    """{availability zone id: address} of the NLB's nodes, one per subnet (so one per zone)."""
    return dict(sorted(entries))


@dataclass(frozen=True)
class NetworkLoadBalancerArgs:
    vpc_id: str
    subnet_ids: list[pulumi.Input[str]]
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
        self.zone_addresses = self._zone_addresses(args.subnet_ids)
        self.register_outputs(
            {"nlb_arn": self.nlb.arn, "nlb_dns_name": self.nlb.dns_name, "nlb_zone_addresses": self.zone_addresses}
        )

    def _zone_addresses(self, subnet_ids: list[pulumi.Input[str]]) -> pulumi.Output[dict[str, str]]:
        """The private IPv4 address of the NLB's node in each zone, by availability zone ID.

        By zone ID, not name: zone names map to different physical zones in each account, IDs do not
        (RAM user guide, "Availability Zone IDs"), and a spoke in another account picks the node of
        its own physical zone. "When you enable an Availability Zone, you specify one subnet from that
        Availability Zone. Elastic Load Balancing creates a load balancer node in the Availability Zone
        and a network interface for the subnet (the description starts with "ELB net" and includes the
        name of the load balancer)" (NLB guide, "Network Load Balancers", Availability Zones): so one
        lookup per subnet, by that description and the subnet, finds the node's interface. The full
        description "ELB net/<name>/<id>" (the load balancer's ARN suffix) is inferred from AWS
        re:Post's "describe-network-interfaces --filters Name=description,Values="ELB app/<name>/<id>"".
        The zone ID is the subnet's (DescribeSubnets AvailabilityZoneId). The address lasts as long
        as the NLB: its node keeps one IPv4 address per zone (NLB guide: a static IP per zone).

        Not NLB subnet_mappings with private_ipv4_address: we would have to pick free addresses in
        subnets we do not own, and switching an existing NLB from subnets to addressed mappings
        replaces it, and with it the traffic mirror target every spoke's sessions use.
        """
        invoke = pulumi.InvokeOutputOptions(parent=self)
        entries: list[pulumi.Output[tuple[str, str]]] = []
        for subnet in subnet_ids:
            node = aws.ec2.get_network_interface_output(
                filters=pulumi.Output.all(self.nlb.arn_suffix, subnet).apply(node_interface_filters), opts=invoke
            )
            zone_id = aws.ec2.get_subnet_output(id=subnet, opts=invoke).availability_zone_id
            entries.append(pulumi.Output.all(zone_id, node.private_ip).apply(lambda v: (str(v[0]), str(v[1]))))
        return pulumi.Output.all(*entries).apply(lambda found: zone_addresses(list(found)))
