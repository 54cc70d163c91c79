"""The nginxNode analyser: Wallarm NGINX nodes behind an internal ALB, fed by the web tier's HTTP mirror."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from ..config import ConfigError
from ..mirror import MirrorEndpoint, render_all
from ..node.boot_script import TokenSource, encode_user_data, render_boot_script
from ..node.snippets import trusted_proxy_cidrs
from .access_logs import AccessLogsArgs, AccessLogsBucket
from .alarms import AlarmsArgs, MirrorAlarms
from .load_balancer import LoadBalancerArgs, MirrorLoadBalancer
from .node_boot import BOOT_TEXT_FIELDS, boot_script_problems, boot_spec, token_source, vpc_cidrs
from .node_group import NodeGroup, NodeGroupArgs
from .node_identity import NodeIdentity
from .resolve import ResolvedArgs
from .security_groups import MirrorSecurityGroups, SecurityGroupsArgs


def build_nginx_analyser(
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
    """Creates the security groups, the access logs bucket (if asked), the internal ALB with its
    target group and listener, the node group of NGINX nodes and the alarms; returns the outputs."""
    partition, region, account = where
    config = resolved.config
    vpc_id = resolved.value("vpc_id")
    log_bucket: pulumi.Input[str] | None = resolved.value("access_logs_bucket")
    log_dependencies: tuple[pulumi.Resource, ...] = ()
    if config.create_access_logs_bucket:
        logs = AccessLogsBucket(
            name,
            AccessLogsArgs(
                prefix=config.access_logs_prefix,
                retention_days=config.access_logs_retention_days,
                account=account,
                region=region,
                partition=partition,
                tags=tags,
            ),
            pulumi.ResourceOptions(parent=parent),
        )
        log_bucket, log_dependencies = logs.bucket.id, (logs.policy,)

    groups = MirrorSecurityGroups(
        name,
        SecurityGroupsArgs(
            vpc_id=vpc_id,
            mirror_source_cidrs=config.mirror_source_cidrs,
            mirror_source_security_group_ids=resolved.items("mirror_source_security_group_ids"),
            node_egress_cidrs=config.node_egress_cidrs,
            node_port=config.effective_node_port,
            health_check_port=config.effective_health_check_port,
            tags=tags,
        ),
        pulumi.ResourceOptions(parent=parent),
    )
    balancer = MirrorLoadBalancer(
        name,
        LoadBalancerArgs(
            vpc_id=vpc_id,
            subnet_ids=resolved.value("alb_subnet_ids"),
            security_group_id=groups.alb.id,
            node_port=config.effective_node_port,
            health_check_port=config.effective_health_check_port,
            health_check_path=config.effective_health_check_path,
            certificate_arn=resolved.value("certificate_arn"),
            ssl_policy=config.effective_ssl_policy,
            deletion_protection=config.deletion_protection,
            tags=tags,
            access_logs_bucket=log_bucket,
            access_logs_prefix=config.access_logs_prefix,
            depends_on=log_dependencies,
            endpoint_hostname=config.endpoint_hostname,
        ),
        pulumi.ResourceOptions(parent=parent),
    )

    trusted = vpc.apply(lambda v: trusted_proxy_cidrs(vpc_cidrs(v), config.mirror_source_cidrs))
    # Snippets given as Outputs join the script when they resolve; the size check then runs too.
    late_text = {key: resolved.late[key] for key in BOOT_TEXT_FIELDS if key in resolved.late}

    def render(trusted_cidrs: list[str], token_source: TokenSource, text: dict[str, str]) -> str:
        full = config.model_copy(update=text) if text else config
        problems = boot_script_problems(full) if text else []
        if problems:
            raise pulumi.RunError(str(ConfigError(problems)))
        return render_boot_script(boot_spec(full, trusted_cidrs, token_source))

    source = token_source(config.token_delivery, identity.token_store_arn, token)
    script = pulumi.Output.all(trusted, source, pulumi.Output.all(**late_text)).apply(lambda v: render(*v))
    if config.boot_script_is_secret or resolved.secret_boot_text:
        # A snippet or post script stored with --secret (or given as an Output) keeps the whole script secret.
        script = pulumi.Output.secret(script)
    nodes = NodeGroup(
        name,
        NodeGroupArgs(
            node_version=config.node_version,
            ami_id=resolved.value("ami_id"),
            instance_type=config.instance_type,
            root_volume_size=config.root_volume_size,
            subnet_ids=resolved.nodes_subnets(),
            security_group_id=groups.node.id,
            instance_profile_arn=identity.instance_profile.arn,
            target_group_arn=balancer.target_group.arn,
            user_data_base64=script.apply(encode_user_data),
            min_size=config.min_size,
            max_size=config.max_size,
            desired_capacity=config.desired_capacity,
            cpu_target=config.cpu_target,
            tags=tags,
            request_label=pulumi.Output.concat(balancer.alb.arn_suffix, "/", balancer.target_group.arn_suffix),
            requests_per_node=config.requests_per_node_target,
        ),
        pulumi.ResourceOptions(parent=parent),
    )

    options = config.mirror_source
    outputs: dict[str, pulumi.Input[object]] = {
        "mirror_endpoint": balancer.endpoint,
        "mirror_configs": balancer.endpoint.apply(lambda url: render_all(MirrorEndpoint.parse(url), options)),
        "alb_dns_name": balancer.alb.dns_name,
        "alb_arn": balancer.alb.arn,
        "alb_zone_id": balancer.alb.zone_id,
        "target_group_arn": balancer.target_group.arn,
        "asg_name": nodes.group.name,
        "launch_template_id": nodes.launch_template.id,
        "launch_template_version": nodes.launch_template.latest_version,
        "node_role_arn": identity.role.arn,
        "ami_id": nodes.ami.id,
        "alb_security_group_id": groups.alb.id,
        "node_security_group_id": groups.node.id,
    }
    if identity.token_store_arn is not None:
        outputs["token_store_arn"] = identity.token_store_arn
    if log_bucket is not None:
        outputs["access_logs_bucket"] = log_bucket
    if config.alarms_enabled:
        alarms = MirrorAlarms(
            name,
            AlarmsArgs(
                stack=stack,
                topic_arn=resolved.value("alarm_topic_arn"),
                alb_arn_suffix=balancer.alb.arn_suffix,
                target_group_arn_suffix=balancer.target_group.arn_suffix,
                asg_name=nodes.group.name,
                region=region,
                dashboard=config.dashboard_enabled,
                tags=tags,
            ),
            pulumi.ResourceOptions(parent=parent),
        )
        outputs["alarm_topic_arn"] = alarms.topic_arn
        if alarms.dashboard_name is not None:
            outputs["dashboard_name"] = alarms.dashboard_name
    return outputs
