"""The nativeNode analyser: Wallarm Native Nodes behind an internal NLB, fed by AWS VPC Traffic Mirroring."""

from __future__ import annotations

import functools

import pulumi
import pulumi_aws as aws

from ..config import StackConfig
from ..config.checks import GRAVITON_FAMILY
from ..native_node.boot_script import Arch, NativeBootSpec, render_native_boot_script
from ..node.boot_script import TokenSource, encode_user_data
from .alarms import ENROLMENT_ALARMS, NATIVE_ALARMS, AlarmsArgs, MirrorAlarms, native_dashboard_body
from .native_security_group import NativeSecurityGroup, NativeSecurityGroupArgs
from .network_load_balancer import MirrorNetworkLoadBalancer, NetworkLoadBalancerArgs
from .node_boot import token_source, vpc_cidrs
from .node_group import AmiQuery, NodeGroup, NodeGroupArgs
from .node_identity import NodeIdentity
from .resolve import ResolvedArgs
from .tagged_sources import TaggedSourcesArgs, enrol_tagged_sources
from .traffic_mirror import TrafficMirror, TrafficMirrorArgs

# Debian's own AWS account publishes the official Debian 12 images, named debian-12-<arch>-<date>-<build>
# (wiki.debian.org/Cloud/AmazonEC2Image/Bookworm); Wallarm's all-in-one installer supports Debian 12.
DEBIAN_OWNER_ID = "136693071363"


def node_architecture(instance_type: str) -> tuple[str, Arch]:
    """(EC2 architecture, installer architecture) of an instance type: Graviton is arm64/aarch64."""
    if GRAVITON_FAMILY.fullmatch(instance_type.split(".")[0]):
        return "arm64", "aarch64"
    return "x86_64", "x86_64"


def debian_image(instance_type: str) -> AmiQuery:
    ec2_arch, _ = node_architecture(instance_type)
    name_arch = "arm64" if ec2_arch == "arm64" else "amd64"
    return AmiQuery(owners=[DEBIAN_OWNER_ID], name_pattern=f"debian-12-{name_arch}-*", architecture=ec2_arch)


def native_boot_spec(config: StackConfig, trusted: list[str], token: TokenSource) -> NativeBootSpec:
    """What a Native Node runs at first boot (a pure function of the config and what AWS returned)."""
    assert config.node_group is not None  # required for nativeNode by the config checks
    return NativeBootSpec(
        version=config.native_node_version,
        arch=node_architecture(config.instance_type)[1],
        api_host=config.api_host,
        node_group=config.node_group,
        token=token,
        vni=config.traffic_mirror_vni,
        ports=tuple(config.traffic_mirror_ports),
        trusted_networks=tuple(trusted),
        installer_sha256=config.native_node_installer_sha256,
    )


def build_native_analyser(
    parent: pulumi.ComponentResource,
    name: str,
    resolved: ResolvedArgs,
    stack: str,
    tags: dict[str, str],
    vpc: pulumi.Output[aws.ec2.GetVpcResult],
    identity: NodeIdentity,
    token: pulumi.Output[str],
    where: tuple[pulumi.Output[str], pulumi.Output[str], pulumi.Output[str]],
) -> dict[str, pulumi.Input[object]]:
    """Creates the NLB, the traffic mirror target, filter and sessions, the enrolment function (for
    source tags), the node security group, the node group and the alarms; returns the outputs."""
    partition, region, account = where
    config = resolved.config
    child = pulumi.ResourceOptions(parent=parent)
    # A list for nativeNode (resolve_args refuses an Output list): one health rule per subnet.
    subnets = resolved.items("node_subnet_ids")  # required, and a list (resolve_args), with nativeNode
    vpc_id = resolved.value("vpc_id")
    group = NativeSecurityGroup(
        name,
        NativeSecurityGroupArgs(
            vpc_id=vpc_id,
            mirror_source_cidrs=config.mirror_source_cidrs,
            nlb_subnet_ids=subnets,
            node_egress_cidrs=config.node_egress_cidrs,
            tags=tags,
        ),
        child,
    )
    balancer = MirrorNetworkLoadBalancer(
        name,
        NetworkLoadBalancerArgs(
            vpc_id=vpc_id, subnet_ids=subnets, deletion_protection=config.deletion_protection, tags=tags
        ),
        child,
    )
    mirror = TrafficMirror(
        name,
        TrafficMirrorArgs(
            stack=stack,
            nlb_arn=balancer.nlb.arn,
            ports=config.traffic_mirror_ports,
            ipv6=config.traffic_mirror_ipv6,
            source_eni_ids=resolved.items("traffic_mirror_source_eni_ids"),
            vni=config.traffic_mirror_vni,
            session_number=config.traffic_mirror_session_number,
            tags=tags,
        ),
        child,
    )
    if config.traffic_mirror_share_with:
        # Imported here: a stack that shares nothing never loads pulumi_aws.ram.
        from .mirror_target_share import MirrorTargetShare, MirrorTargetShareArgs

        MirrorTargetShare(
            name,
            MirrorTargetShareArgs(
                stack=stack,
                target_arn=mirror.target.arn,
                principals=config.traffic_mirror_share_with,
                allow_external=config.traffic_mirror_share_external,
                # The caller's account owns the target; the VPC's ARN names the VPC's owner, which is
                # another account when the hub's subnets are shared with it (a RAM-shared VPC).
                account=aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).account_id,
                tags=tags,
            ),
            child,
        )
    enrolment = host_mirroring = None
    if config.traffic_mirror_source_tags:
        sources = enrol_tagged_sources(
            name,
            config,
            TaggedSourcesArgs(
                stack=stack,
                target_id=mirror.target.id,
                filter_id=mirror.filter.id,
                vni=config.traffic_mirror_vni,
                ports=config.traffic_mirror_ports,
                nlb_dns_name=balancer.nlb.dns_name,
                zone_addresses=balancer.zone_addresses,
                region=region,
                account=account,
                partition=partition,
                tags=tags,
            ),
            child,
        )
        enrolment, host_mirroring = sources.enrolment, sources.host_mirroring

    # X-Forwarded-For is trusted from the VPC's own ranges only (load balancers in front of the
    # mirrored instances add it there).
    trusted = vpc.apply(vpc_cidrs)
    source = token_source(config.token_delivery, identity.token_store_arn, token)
    script = pulumi.Output.all(trusted, source).apply(
        lambda v: render_native_boot_script(native_boot_spec(config, v[0], v[1]))
    )
    nodes = NodeGroup(
        name,
        NodeGroupArgs(
            node_version=config.native_node_version,
            ami_id=resolved.value("ami_id"),
            instance_type=config.instance_type,
            root_volume_size=config.root_volume_size,
            subnet_ids=subnets,
            security_group_id=group.node.id,
            instance_profile_arn=identity.instance_profile.arn,
            target_group_arn=balancer.target_group.arn,
            user_data_base64=script.apply(encode_user_data),
            min_size=config.min_size,
            max_size=config.max_size,
            desired_capacity=config.desired_capacity,
            cpu_target=config.cpu_target,
            tags=tags,
            ami_query=debian_image(config.instance_type),
            description="Wallarm Native Node analysing VXLAN copies from AWS VPC Traffic Mirroring",
        ),
        child,
    )
    outputs: dict[str, pulumi.Input[object]] = {
        "nlb_arn": balancer.nlb.arn,
        "nlb_dns_name": balancer.nlb.dns_name,
        "target_group_arn": balancer.target_group.arn,
        "traffic_mirror_target_id": mirror.target.id,
        # What a spoke stack reads (issue 23): the target's ARN (its enrolment role names it), the NLB
        # node's address per zone ID (its host mirroring), the VNI and ports its sessions and filter
        # use, and the CIDRs this hub's nodes accept VXLAN from (a spoke's sources must be in them).
        "traffic_mirror_target_arn": mirror.target.arn,
        "nlb_zone_addresses": balancer.zone_addresses,
        "traffic_mirror_vni": config.traffic_mirror_vni,
        "traffic_mirror_ports": list(config.traffic_mirror_ports),
        "mirror_source_cidrs": list(config.mirror_source_cidrs),
        "traffic_mirror_filter_id": mirror.filter.id,
        "traffic_mirror_session_ids": [session.id for session in mirror.sessions],
        "asg_name": nodes.group.name,
        "launch_template_id": nodes.launch_template.id,
        "launch_template_version": nodes.launch_template.latest_version,
        "node_role_arn": identity.role.arn,
        "ami_id": nodes.ami.id,
        "node_security_group_id": group.node.id,
    }
    if enrolment is not None:
        outputs["enrolment_function_name"] = enrolment.function.name
    if host_mirroring is not None:
        outputs["host_mirror_document_name"] = host_mirroring.document.name
        outputs["host_mirror_association_id"] = host_mirroring.association.id
    if identity.token_store_arn is not None:
        outputs["token_store_arn"] = identity.token_store_arn
    if config.alarms_enabled:
        specs = NATIVE_ALARMS + (ENROLMENT_ALARMS if enrolment is not None else ())
        extra = enrolment.alarm_dimensions if enrolment is not None else {}
        alarms = MirrorAlarms(
            name,
            AlarmsArgs(
                stack=stack,
                topic_arn=resolved.value("alarm_topic_arn"),
                alb_arn_suffix=balancer.nlb.arn_suffix,
                target_group_arn_suffix=balancer.target_group.arn_suffix,
                asg_name=nodes.group.name,
                region=region,
                dashboard=config.dashboard_enabled,
                tags=tags,
                specs=specs,
                extra_dimensions=extra,
                dashboard_body=functools.partial(native_dashboard_body, stack=stack, enrolment=enrolment is not None),
            ),
            child,
        )
        outputs["alarm_topic_arn"] = alarms.topic_arn
        if alarms.dashboard_name is not None:
            outputs["dashboard_name"] = alarms.dashboard_name
    if enrolment is not None:
        enrolment.pending_alarm(alarms.topic_arn if config.alarms_enabled else None)
    return outputs
