"""The top-level component: one Wallarm mirror analyser, from args checked like a stack config."""

# No `from __future__ import annotations`: the component package's schema analyzer reads the
# annotations of __init__ (the args) and of the class (the outputs) as real types at run time.
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from ..config import ConfigError
from ..mirror import MirrorEndpoint, render_all
from ..node.boot_script import TokenSource, encode_user_data, render_boot_script
from ..node.snippets import trusted_proxy_cidrs
from .access_logs import AccessLogsArgs, AccessLogsBucket
from .alarms import AlarmsArgs, MirrorAlarms
from .args import WallarmMirrorArgs
from .load_balancer import LoadBalancerArgs, MirrorLoadBalancer
from .node_boot import BOOT_TEXT_FIELDS, boot_script_problems, boot_spec, token_source, vpc_cidrs
from .node_group import NodeGroup, NodeGroupArgs
from .node_identity import NodeIdentity, NodeIdentityArgs
from .resolve import ARGS_NAME, ResolvedArgs, resolve_args
from .security_groups import MirrorSecurityGroups, SecurityGroupsArgs
from .tags import stack_tags

TYPE_TOKEN = "wallarm:mirror:WallarmMirror"


class HostedComponent(pulumi.ComponentResource):
    """A component the package can host (provider.py): it registers under its `_type_token`."""

    # The type the component registers: the program's, or the package's while the package hosts it
    # (provider.hosted). Not annotated: the schema analyzer reads annotations as outputs.
    _type_token = ""


class WallarmMirror(HostedComponent):
    """Creates everything one analyser needs. nginxNode: security groups, the internal mirror ALB with
    its target group and listener, the node identity (IAM, stored token) and the auto scaling group of
    NGINX nodes. nativeNode: the same identity and node group shape, of Wallarm Native Nodes behind an
    internal NLB that AWS VPC Traffic Mirroring feeds (see native_analyser.py).

    The args are checked by the stack config's model with the same sentences: what is known now
    raises here, before any child resource exists; an Output is checked when it resolves.
    """

    # Outputs of either analyser (None where the other analyser's resource would be).
    mirror_endpoint: pulumi.Output[str | None]
    """nginxNode: the URL the web tier mirrors to (http(s)://<alb dns or endpointHostname>:8445)."""
    alb_dns_name: pulumi.Output[str | None]
    """nginxNode: DNS name of the internal ALB."""
    alb_arn: pulumi.Output[str | None]
    """nginxNode: ARN of the internal ALB."""
    nlb_arn: pulumi.Output[str | None]
    """nativeNode: ARN of the internal NLB (the traffic mirror target)."""
    nlb_dns_name: pulumi.Output[str | None]
    """nativeNode: DNS name of the internal NLB."""
    traffic_mirror_target_id: pulumi.Output[str | None]
    """nativeNode: the traffic mirror target (tmt-...)."""
    traffic_mirror_filter_id: pulumi.Output[str | None]
    """nativeNode: the traffic mirror filter (tmf-...)."""
    target_group_arn: pulumi.Output[str]
    """The target group of the nodes."""
    asg_name: pulumi.Output[str]
    """The auto scaling group of the nodes."""
    launch_template_id: pulumi.Output[str]
    """The nodes' launch template."""
    node_role_arn: pulumi.Output[str]
    """The nodes' IAM role."""
    ami_id: pulumi.Output[str]
    """The image the nodes run."""
    node_security_group_id: pulumi.Output[str]
    """The nodes' security group."""
    token_store_arn: pulumi.Output[str | None]
    """The Secrets Manager secret or SSM parameter holding the token (None with tokenDelivery userData)."""
    alarm_topic_arn: pulumi.Output[str | None]
    """The SNS topic of the alarms (None with alarmsEnabled false)."""
    mirror_configs: pulumi.Output[dict[str, str] | None]
    """nginxNode: ready-to-paste mirror configs for the web tier, by server (nginx, envoy, istio, traefik)."""
    alb_zone_id: pulumi.Output[str | None]
    """nginxNode: hosted zone id of the ALB (for a Route 53 alias to endpointHostname)."""
    alb_security_group_id: pulumi.Output[str | None]
    """nginxNode: the ALB's security group."""
    access_logs_bucket: pulumi.Output[str | None]
    """nginxNode: the bucket of the ALB's access logs (None without access logs)."""
    dashboard_name: pulumi.Output[str | None]
    """nginxNode: the CloudWatch dashboard (None unless dashboardEnabled)."""
    launch_template_version: pulumi.Output[int]
    """The launch template version the nodes run."""
    traffic_mirror_session_ids: pulumi.Output[list[str] | None]
    """nativeNode: the sessions of trafficMirrorSourceEniIds (the enrolment function's are not Pulumi's)."""
    enrolment_function_name: pulumi.Output[str | None]
    """nativeNode: the enrolment Lambda (None without trafficMirrorSourceTags)."""

    # The type this class registers. The component package (provider.py) hosts it under the package's
    # `<package>:index:WallarmMirror` and then aliases TYPE_TOKEN, so a stack built by the program or
    # the Python library keeps every resource when it moves to the package. Not annotated: no output.
    _type_token = TYPE_TOKEN

    def __init__(self, name: str, args: WallarmMirrorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        resolved = checked_args(args, ARGS_NAME)
        self._build(name, resolved, pulumi.get_stack(), opts)

    def _build(self, name: str, resolved: ResolvedArgs, stack: str, opts: pulumi.ResourceOptions | None) -> None:
        type_token = type(self)._type_token
        super().__init__(type_token, name, None, with_program_type_alias(opts, type_token, TYPE_TOKEN))
        self.outputs: dict[str, pulumi.Input[object]] = build_analyser(self, name, resolved, stack)
        self._finish()

    def _finish(self) -> None:
        """Typed attributes for every output (None where this analyser has none), then register them."""
        for key in type(self).__annotations__:
            setattr(self, key, self.outputs.get(key))
        self.register_outputs(self.outputs)


def with_program_type_alias(
    opts: pulumi.ResourceOptions | None, type_token: str, program_type_token: str
) -> pulumi.ResourceOptions | None:
    """`opts`, plus an alias to the program's type when the component package hosts the component.

    Only this alias is needed: each child's URN holds the type in its parent chain, and the engine
    gives a child the aliases its parent's aliases imply (alias specs).
    """
    if type_token == program_type_token:
        return opts
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=program_type_token)]))


def checked_args(args: Mapping[str, Any], args_name: str) -> ResolvedArgs:
    """The args checked now where they are known (pulumi.RunError with the sentences otherwise).

    Called before the component's super().__init__: a refused value registers nothing, not even
    the component.
    """
    try:
        resolved = resolve_args(args, args_name)
        problems = [] if resolved.config.native or resolved.secret_boot_text else boot_script_problems(resolved.config)
        if problems:
            raise ConfigError(problems)
    except ConfigError as error:
        raise pulumi.RunError(str(error)) from None
    return resolved


def build_analyser(
    parent: pulumi.ComponentResource, name: str, resolved: ResolvedArgs, stack: str
) -> dict[str, pulumi.Input[object]]:
    """Every child resource of one analyser, under `parent`; its outputs by stack output name.

    The same children, names and settings whichever component is the parent: WallarmMirror (the
    facade) or NginxAnalyser / NativeAnalyser (components/analysers.py).
    """
    config = resolved.config
    # Valid but unwise settings: the component says so itself, so every caller sees it, the stack
    # program and a platform team's own program alike (issue 21).
    for warning in config.advice(stack):
        pulumi.log.warn(warning, resource=parent)
    tags = stack_tags(config.tags, stack)
    vpc_id = resolved.value("vpc_id")
    vpc = aws.ec2.get_vpc_output(id=vpc_id, opts=pulumi.InvokeOutputOptions(parent=parent))

    # Region, account and partition of the stack, read from the VPC's ARN: no extra lookup.
    def arn_part(index: int) -> pulumi.Output[str]:
        return vpc.arn.apply(lambda arn: arn.split(":")[index])

    partition, region, account = (arn_part(i) for i in (1, 3, 4))

    if config.native:
        # Imported here: a stack of the NGINX node analyser never loads the native modules.
        from .native_analyser import build_native_analyser

        token = resolved.token
        identity = _identity(parent, name, resolved, stack, partition, token, tags)
        return build_native_analyser(
            parent, name, resolved, stack, tags, vpc, identity, token, (partition, region, account)
        )

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
    token = resolved.token
    identity = _identity(parent, name, resolved, stack, partition, token, tags)

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


def _identity(
    parent: pulumi.Resource,
    name: str,
    resolved: ResolvedArgs,
    stack: str,
    partition: pulumi.Output[str],
    token: pulumi.Output[str],
    tags: dict[str, str],
) -> NodeIdentity:
    """The node role, its instance profile and the stored token: the same for both analysers."""
    config = resolved.config
    return NodeIdentity(
        name,
        NodeIdentityArgs(
            stack=stack,
            partition=partition,
            token=token,
            token_delivery=config.token_delivery,
            token_kms_key_arn=resolved.value("token_kms_key_arn"),
            extra_policy_arns=resolved.items("extra_policy_arns"),
            tags=tags,
        ),
        pulumi.ResourceOptions(parent=parent),
    )
