"""The top-level component: one Wallarm mirror analyser, from a validated stack config."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..config import StackConfig
from ..mirror import MirrorEndpoint, render_all
from ..node.boot_script import TokenInline, encode_user_data, render_boot_script
from ..node.snippets import trusted_proxy_cidrs
from .access_logs import AccessLogsArgs, AccessLogsBucket
from .alarms import AlarmsArgs, MirrorAlarms
from .load_balancer import LoadBalancerArgs, MirrorLoadBalancer
from .node_boot import boot_spec, stored_token_source, vpc_cidrs
from .node_group import NodeGroup, NodeGroupArgs
from .node_identity import NodeIdentity, NodeIdentityArgs
from .security_groups import MirrorSecurityGroups, SecurityGroupsArgs
from .tags import stack_tags


@dataclass(frozen=True)
class WallarmMirrorArgs:
    config: StackConfig
    stack: str


class WallarmMirror(pulumi.ComponentResource):
    """Creates everything one stack needs. nginxNode: security groups, the internal mirror ALB with its
    target group and listener, the node identity (IAM, stored token) and the auto scaling group of
    NGINX nodes. nativeNode: the same identity and node group shape, of Wallarm Native Nodes behind an
    internal NLB that AWS VPC Traffic Mirroring feeds (see native_analyser.py)."""

    def __init__(self, name: str, args: WallarmMirrorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wallarm:mirror:WallarmMirror", name, None, opts)
        config = args.config
        tags = stack_tags(config.tags, args.stack)
        vpc = aws.ec2.get_vpc_output(id=config.vpc_id, opts=pulumi.InvokeOutputOptions(parent=self))

        # Region, account and partition of the stack, read from the VPC's ARN: no extra lookup.
        partition, region, account = (vpc.arn.apply(lambda arn, i=i: arn.split(":")[i]) for i in (1, 3, 4))

        if config.native:
            # Imported here: a stack of the NGINX node analyser never loads the native modules.
            from .native_analyser import build_native_analyser

            token = pulumi.Output.secret(config.token.get_secret_value())
            identity = self._identity(name, args, partition, token, tags)
            self.outputs = build_native_analyser(
                self, name, config, args.stack, tags, vpc, identity, token, (partition, region, account)
            )
            self.register_outputs(self.outputs)

            return

        log_bucket: pulumi.Input[str] | None = config.access_logs_bucket
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
                pulumi.ResourceOptions(parent=self),
            )
            log_bucket, log_dependencies = logs.bucket.id, (logs.policy,)

        groups = MirrorSecurityGroups(
            name,
            SecurityGroupsArgs(
                vpc_id=config.vpc_id,
                mirror_source_cidrs=config.mirror_source_cidrs,
                mirror_source_security_group_ids=config.mirror_source_security_group_ids,
                node_egress_cidrs=config.node_egress_cidrs,
                node_port=config.effective_node_port,
                health_check_port=config.effective_health_check_port,
                tags=tags,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        balancer = MirrorLoadBalancer(
            name,
            LoadBalancerArgs(
                vpc_id=config.vpc_id,
                subnet_ids=config.alb_subnet_ids,
                security_group_id=groups.alb.id,
                node_port=config.effective_node_port,
                health_check_port=config.effective_health_check_port,
                health_check_path=config.effective_health_check_path,
                certificate_arn=config.certificate_arn,
                ssl_policy=config.effective_ssl_policy,
                deletion_protection=config.deletion_protection,
                tags=tags,
                access_logs_bucket=log_bucket,
                access_logs_prefix=config.access_logs_prefix,
                depends_on=log_dependencies,
                endpoint_hostname=config.endpoint_hostname,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        token = pulumi.Output.secret(config.token.get_secret_value())
        identity = self._identity(name, args, partition, token, tags)

        trusted = vpc.apply(lambda v: trusted_proxy_cidrs(vpc_cidrs(v), config.mirror_source_cidrs))
        if identity.token_store_arn is None:
            # The token is inside the script, so the script (and the launch template input) is secret.
            script = pulumi.Output.all(trusted, token).apply(
                lambda v: render_boot_script(boot_spec(config, v[0], TokenInline(v[1])))
            )
        else:
            script = pulumi.Output.all(trusted, identity.token_store_arn).apply(
                lambda v: render_boot_script(boot_spec(config, v[0], stored_token_source(config.token_delivery, v[1])))
            )
        if config.boot_script_is_secret:
            # A snippet or post script stored with --secret keeps the whole script secret.
            script = pulumi.Output.secret(script)
        nodes = NodeGroup(
            name,
            NodeGroupArgs(
                node_version=config.node_version,
                ami_id=config.ami_id,
                instance_type=config.instance_type,
                root_volume_size=config.root_volume_size,
                subnet_ids=config.nodes_subnets,
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
            pulumi.ResourceOptions(parent=self),
        )

        options = config.mirror_source
        self.outputs: dict[str, pulumi.Input[object]] = {
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
            self.outputs["token_store_arn"] = identity.token_store_arn
        if log_bucket is not None:
            self.outputs["access_logs_bucket"] = log_bucket
        if config.alarms_enabled:
            alarms = MirrorAlarms(
                name,
                AlarmsArgs(
                    stack=args.stack,
                    topic_arn=config.alarm_topic_arn,
                    alb_arn_suffix=balancer.alb.arn_suffix,
                    target_group_arn_suffix=balancer.target_group.arn_suffix,
                    asg_name=nodes.group.name,
                    region=region,
                    dashboard=config.dashboard_enabled,
                    tags=tags,
                ),
                pulumi.ResourceOptions(parent=self),
            )
            self.outputs["alarm_topic_arn"] = alarms.topic_arn
            if alarms.dashboard_name is not None:
                self.outputs["dashboard_name"] = alarms.dashboard_name
        self.register_outputs(self.outputs)

    def _identity(
        self,
        name: str,
        args: WallarmMirrorArgs,
        partition: pulumi.Output[str],
        token: pulumi.Output[str],
        tags: dict[str, str],
    ) -> NodeIdentity:
        """The node role, its instance profile and the stored token: the same for both analysers."""
        config = args.config
        return NodeIdentity(
            name,
            NodeIdentityArgs(
                stack=args.stack,
                partition=partition,
                token=token,
                token_delivery=config.token_delivery,
                token_kms_key_arn=config.token_kms_key_arn,
                extra_policy_arns=config.extra_policy_arns,
                tags=tags,
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _identity(
        self,
        name: str,
        args: WallarmMirrorArgs,
        partition: pulumi.Output[str],
        token: pulumi.Output[str],
        tags: dict[str, str],
    ) -> NodeIdentity:
        """The node role, its instance profile and the stored token: the same for both analysers."""
        config = args.config
        return NodeIdentity(
            name,
            NodeIdentityArgs(
                stack=args.stack,
                partition=partition,
                token=token,
                token_delivery=config.token_delivery,
                token_kms_key_arn=config.token_kms_key_arn,
                extra_policy_arns=config.extra_policy_arns,
                tags=tags,
            ),
            pulumi.ResourceOptions(parent=self),
        )
