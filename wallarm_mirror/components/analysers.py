"""One component per analyser: NginxAnalyser and NativeAnalyser, each with only its own args and outputs.

They build the same children as the WallarmMirror facade (components/stack.py, _build_analyser) with
the same names and rules; a program that uses one of them learns from its type, not from a run-time
refusal, which args its analyser takes. WallarmMirror stays for the stack program and for code that
uses it: its type and children are unchanged, so its stacks replace nothing.

Outputs that every stack of the analyser has are plain `Output[...]`; the few that depend on a
setting (the token store with tokenDelivery userData, the alarm topic without alarms, ...) are
`Output[... | None]` and say so.
"""

# No `from __future__ import annotations`: the component package's schema analyzer reads the
# annotations of __init__ (the args) and of the class (the outputs) as real types at run time.
from collections.abc import Mapping
from typing import Any

import pulumi

from .args import NativeAnalyserArgs, NginxAnalyserArgs
from .stack import HostedComponent, checked_args

NGINX_TYPE_TOKEN = "wallarm:mirror:NginxAnalyser"
NATIVE_TYPE_TOKEN = "wallarm:mirror:NativeAnalyser"


def _with_analyser(args: Mapping[str, Any], analyzer: str, args_name: str) -> Mapping[str, Any]:
    """The args with their analyser set; an `analyzer` key of the caller's is refused by name."""
    if not isinstance(args, Mapping):
        return args  # resolve_args says what is wrong with it
    if "analyzer" in args:
        raise pulumi.RunError(
            f"{args_name}.analyzer: is not an arg here: this component is the {analyzer} analyser "
            "(use WallarmMirror to choose the analyser by an arg)"
        )
    return {**args, "analyzer": analyzer}


class NginxAnalyser(HostedComponent):
    """Creates the NGINX node analyser: security groups, the internal mirror ALB with its target group
    and listener, the node identity (IAM, stored token), the auto scaling group of Wallarm NGINX nodes,
    alarms; the web tier mirrors HTTP copies to `mirror_endpoint`."""

    mirror_endpoint: pulumi.Output[str]
    """The URL the web tier mirrors to (http(s)://<alb dns or endpointHostname>:8445)."""
    mirror_configs: pulumi.Output[dict[str, str]]
    """Ready-to-paste mirror configs for the web tier, by server (nginx, envoy, istio, traefik)."""
    alb_dns_name: pulumi.Output[str]
    """DNS name of the internal ALB."""
    alb_arn: pulumi.Output[str]
    """ARN of the internal ALB."""
    alb_zone_id: pulumi.Output[str]
    """Hosted zone id of the ALB (for a Route 53 alias to endpointHostname)."""
    alb_security_group_id: pulumi.Output[str]
    """The ALB's security group."""
    target_group_arn: pulumi.Output[str]
    """The target group of the nodes."""
    asg_name: pulumi.Output[str]
    """The auto scaling group of the nodes."""
    launch_template_id: pulumi.Output[str]
    """The nodes' launch template."""
    launch_template_version: pulumi.Output[int]
    """The launch template version the nodes run."""
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
    access_logs_bucket: pulumi.Output[str | None]
    """The bucket of the ALB's access logs (None without access logs)."""
    dashboard_name: pulumi.Output[str | None]
    """The CloudWatch dashboard (None unless dashboardEnabled)."""

    def __init__(self, name: str, args: NginxAnalyserArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        resolved = checked_args(_with_analyser(args, "nginxNode", "NginxAnalyserArgs"), "NginxAnalyserArgs")
        self._build_analyser(name, resolved, opts, NGINX_TYPE_TOKEN)

    # The type this class registers (the component package hosts it as <package>:index:NginxAnalyser).
    _type_token = NGINX_TYPE_TOKEN


class NativeAnalyser(HostedComponent):
    """Creates the Native Node analyser: an internal NLB (UDP 4789) with its target group, the traffic
    mirror target, filter and sessions, the enrolment function for tagged sources, the node identity,
    the auto scaling group of Wallarm Native Nodes, alarms; AWS VPC Traffic Mirroring feeds it."""

    nlb_arn: pulumi.Output[str]
    """ARN of the internal NLB (the traffic mirror target)."""
    nlb_dns_name: pulumi.Output[str]
    """DNS name of the internal NLB."""
    traffic_mirror_target_id: pulumi.Output[str]
    """The traffic mirror target (tmt-...)."""
    traffic_mirror_target_arn: pulumi.Output[str]
    """ARN of the traffic mirror target (what a spoke account's enrolment role is allowed to use)."""
    nlb_zone_addresses: pulumi.Output[dict[str, str]]
    """The NLB node's private IPv4 address by availability zone ID (euw1-az1 -> 10.0.1.10): host mirroring's remote."""
    traffic_mirror_vni: pulumi.Output[int]
    """The VXLAN network id the nodes accept (trafficMirrorVni)."""
    traffic_mirror_ports: pulumi.Output[list[int]]
    """The TCP ports mirrored in both directions (trafficMirrorPorts)."""
    mirror_source_cidrs: pulumi.Output[list[str]]
    """The CIDRs the nodes accept VXLAN from (mirrorSourceCidrs; a spoke's sources must be inside them)."""
    traffic_mirror_filter_id: pulumi.Output[str]
    """The traffic mirror filter (tmf-...)."""
    traffic_mirror_session_ids: pulumi.Output[list[str]]
    """The sessions of trafficMirrorSourceEniIds (the enrolment function's are not Pulumi's)."""
    target_group_arn: pulumi.Output[str]
    """The target group of the nodes."""
    asg_name: pulumi.Output[str]
    """The auto scaling group of the nodes."""
    launch_template_id: pulumi.Output[str]
    """The nodes' launch template."""
    launch_template_version: pulumi.Output[int]
    """The launch template version the nodes run."""
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
    enrolment_function_name: pulumi.Output[str | None]
    """The enrolment Lambda (None without trafficMirrorSourceTags)."""
    host_mirror_document_name: pulumi.Output[str | None]
    """The SSM document holding the host mirroring script (None with trafficMirrorMethod aws or no source tags)."""
    host_mirror_association_id: pulumi.Output[str | None]
    """The State Manager association that runs it on the tagged instances (None as above)."""
    dashboard_name: pulumi.Output[str | None]
    """The CloudWatch dashboard (None unless dashboardEnabled)."""

    def __init__(self, name: str, args: NativeAnalyserArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        resolved = checked_args(_with_analyser(args, "nativeNode", "NativeAnalyserArgs"), "NativeAnalyserArgs")
        self._build_analyser(name, resolved, opts, NATIVE_TYPE_TOKEN)

    # The type this class registers (the component package hosts it as <package>:index:NativeAnalyser).
    _type_token = NATIVE_TYPE_TOKEN
