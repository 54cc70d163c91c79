"""The top-level component: one Wallarm mirror analyser, from args checked like a stack config."""

# No `from __future__ import annotations`: the component package's schema analyzer reads the
# annotations of __init__ (the args) and of the class (the outputs) as real types at run time.
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from ..config import ConfigError
from .args import WallarmMirrorArgs
from .node_boot import boot_script_problems
from .node_identity import node_identity_for
from .resolve import ARGS_NAME, ResolvedArgs, resolve_args
from .tags import stack_tags

TYPE_TOKEN = "wallarm:mirror:WallarmMirror"


class HostedComponent(pulumi.ComponentResource):
    """A component the package can host (provider.py): it registers under its `_type_token`."""

    # The type the component registers: the program's, or the package's while the package hosts it
    # (provider.hosted). Not annotated: the schema analyzer reads annotations as outputs.
    _type_token = ""

    def _build_analyser(
        self, name: str, resolved: ResolvedArgs, opts: pulumi.ResourceOptions | None, program_type_token: str
    ) -> dict[str, pulumi.Input[object]]:
        """Register as `_type_token` (aliased to the program's type while hosted), build the analyser's
        children, set every annotated output as an attribute (None where a setting leaves it out), and
        register the outputs; returns them."""
        type_token = type(self)._type_token
        super().__init__(type_token, name, None, with_program_type_alias(opts, type_token, program_type_token))
        outputs = build_analyser(self, name, resolved, pulumi.get_stack())
        for key in type(self).__annotations__:
            setattr(self, key, outputs.get(key))
        self.register_outputs(outputs)
        return outputs


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
    traffic_mirror_target_arn: pulumi.Output[str | None]
    """nativeNode: ARN of the traffic mirror target (what a spoke account's enrolment role is allowed to use)."""
    nlb_zone_addresses: pulumi.Output[dict[str, str] | None]
    """nativeNode: the NLB node's private IPv4 address by availability zone ID (euw1-az1 -> 10.0.1.10)."""
    traffic_mirror_vni: pulumi.Output[int | None]
    """nativeNode: the VXLAN network id the nodes accept (trafficMirrorVni)."""
    traffic_mirror_ports: pulumi.Output[list[int] | None]
    """nativeNode: the TCP ports mirrored in both directions (trafficMirrorPorts)."""
    mirror_source_cidrs: pulumi.Output[list[str] | None]
    """nativeNode: the CIDRs the nodes accept VXLAN from (mirrorSourceCidrs)."""
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
    """The CloudWatch dashboard (None unless dashboardEnabled)."""
    launch_template_version: pulumi.Output[int]
    """The launch template version the nodes run."""
    traffic_mirror_session_ids: pulumi.Output[list[str] | None]
    """nativeNode: the sessions of trafficMirrorSourceEniIds (the enrolment function's are not Pulumi's)."""
    enrolment_function_name: pulumi.Output[str | None]
    """nativeNode: the enrolment Lambda (None without trafficMirrorSourceTags)."""
    host_mirror_document_name: pulumi.Output[str | None]
    """nativeNode: the SSM document holding the host mirroring script (None with trafficMirrorMethod aws or no
    source tags)."""
    host_mirror_association_id: pulumi.Output[str | None]
    """nativeNode: the State Manager association that runs it on the tagged instances (None as above)."""

    # The type this class registers. The component package (provider.py) hosts it under the package's
    # `<package>:index:WallarmMirror` and then aliases TYPE_TOKEN, so a stack built by the program or
    # the Python library keeps every resource when it moves to the package. Not annotated: no output.
    _type_token = TYPE_TOKEN

    def __init__(self, name: str, args: WallarmMirrorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        resolved = checked_args(args, ARGS_NAME)
        # Every output by its stack output name: the program exports them all (program.py).
        self.outputs = self._build_analyser(name, resolved, opts, TYPE_TOKEN)


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
        config = resolved.config
        problems = [] if config.native or config.spoke or resolved.secret_boot_text else boot_script_problems(config)
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
    if config.spoke:
        # A spoke has no VPC, identity or nodes of its own: only its enrolment (spoke.py). The facade
        # holds a NativeSpoke, so a stack program's spoke is one by its type too (the policy pack's
        # spoke rule looks for it).
        from .spoke import NativeSpoke, build_spoke

        if isinstance(parent, NativeSpoke):
            return build_spoke(parent, name, resolved, stack, tags)
        return NativeSpoke.from_resolved(name, resolved, pulumi.ResourceOptions(parent=parent)).outputs
    vpc_id = resolved.value("vpc_id")
    vpc = aws.ec2.get_vpc_output(id=vpc_id, opts=pulumi.InvokeOutputOptions(parent=parent))

    # Region, account and partition of the stack, read from the VPC's ARN: no extra lookup.
    def arn_part(index: int) -> pulumi.Output[str]:
        return vpc.arn.apply(lambda arn: arn.split(":")[index])

    partition, region, account = (arn_part(i) for i in (1, 3, 4))

    token = resolved.token
    identity = node_identity_for(parent, name, resolved, stack, partition, token, tags)
    if config.native:
        # Imported here: a stack of the NGINX node analyser never loads the native modules.
        from .native_analyser import build_native_analyser as build
    else:
        from .nginx_analyser import build_nginx_analyser as build
    return build(parent, name, resolved, stack, tags, vpc, identity, token, (partition, region, account))
