"""The policies of the wallarm-mirror pack: what the design promises for every stack of it.

Kept apart from `__main__.py`, whose `PolicyPack(...)` starts the analyzer's gRPC server and
blocks, so the tests import this module and call each policy's `validate` directly.

Props arrive as the engine sends them: camelCase input names, numbers as floats, secrets already
opened, and wrapped in pulumi-policy's unknown-checking proxies (Mapping / Sequence, not dict /
list). Reading an unknown value raises, and pulumi-policy turns that into an advisory "can't run
during preview" note; `pulumi up` runs the policy again once the value is known, before the
resource is created. So the code never treats "unknown" as "fine".
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import user_data_scan
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

PACK_NAME = "wallarm-mirror"
# Every policy inherits this; a policy pack config file can lower any of them, e.g.
# {"no-token-in-user-data": "advisory"} or {"all": "advisory"}.
PACK_ENFORCEMENT = EnforcementLevel.MANDATORY

LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
CLASSIC_ELB = "aws:elb/loadBalancer:LoadBalancer"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"

SSH_PORT = 22
DEFAULT_PROD_STACK_PATTERN = r"(^|[-_.])prod(uction)?($|[-_.])"


# --- reading props --------------------------------------------------------------------------


def _get(props: Any, key: str) -> Any:
    """props[key], or None when absent; unknown values raise (see the module docstring)."""
    if isinstance(props, Mapping) and key in props:
        return props[key]
    return None


def _items(value: Any) -> list[Any]:
    """A list input as a list; None (absent) as empty. A string is not a list of characters."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return []


def _is_true(value: Any) -> bool:
    # The AWS provider takes several booleans as strings ("true") in launch templates.
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _port(value: Any) -> int | None:
    # Numbers come as floats from the engine and as ints from the mocks.
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def stack_of(urn: str) -> str:
    """The stack name in `urn:pulumi:<stack>::<project>::<type>::<name>`."""
    head = urn.split("::", 1)[0]
    return head.removeprefix("urn:pulumi:")


# --- security group ingress, normalised over the three ways of writing it -------------------


@dataclass(frozen=True)
class Ingress:
    """One ingress permission, whichever resource shape it came from."""

    where: str  # for messages: "this rule" or "ingress[2]"
    protocol: str  # lower case as written: "tcp", "6", "-1", "all", "icmp" ...
    from_port: int | None
    to_port: int | None
    cidrs: list[str]


def ingress_of(resource_type: str, props: Mapping[str, Any]) -> Iterator[Ingress]:
    """Every ingress permission a resource opens; nothing for other resources or egress."""
    if resource_type == INGRESS_RULE:
        cidrs = [c for c in (_get(props, "cidrIpv4"), _get(props, "cidrIpv6")) if c]
        yield Ingress(
            "this rule",
            str(_get(props, "ipProtocol") or "").lower(),
            _port(_get(props, "fromPort")),
            _port(_get(props, "toPort")),
            cidrs,
        )
    elif resource_type == SECURITY_GROUP_RULE:
        if str(_get(props, "type") or "").lower() != "ingress":
            return
        yield Ingress(
            "this rule",
            str(_get(props, "protocol") or "").lower(),
            _port(_get(props, "fromPort")),
            _port(_get(props, "toPort")),
            [*_items(_get(props, "cidrBlocks")), *_items(_get(props, "ipv6CidrBlocks"))],
        )
    elif resource_type == SECURITY_GROUP:
        for index, block in enumerate(_items(_get(props, "ingress"))):
            yield Ingress(
                f"ingress[{index}]",
                str(_get(block, "protocol") or "").lower(),
                _port(_get(block, "fromPort")),
                _port(_get(block, "toPort")),
                [*_items(_get(block, "cidrBlocks")), *_items(_get(block, "ipv6CidrBlocks"))],
            )


_ALL_PROTOCOLS = ("-1", "all")
# ICMP "ports" are type and code, so a range over 22 there opens no port.
_PORTLESS_PROTOCOLS = ("icmp", "1", "icmpv6", "58")


def _whole_internet(cidr: Any) -> bool:
    # strict=False and prefixlen 0: "0.0.0.0/0", "::/0", "::0/0" and even "10.0.0.0/0" all mean everything.
    try:
        return ipaddress.ip_network(str(cidr), strict=False).prefixlen == 0
    except ValueError:
        return False


def _opens_ssh(ingress: Ingress) -> str | None:
    """Why this permission opens port 22, or None."""
    if ingress.protocol in _ALL_PROTOCOLS:
        return f"allows every protocol and port (protocol {ingress.protocol}), SSH's port {SSH_PORT} included"
    if ingress.protocol in _PORTLESS_PROTOCOLS:
        return None
    # A missing bound is read as open: better a violation to look at than a silent SSH hole.
    low = 0 if ingress.from_port is None else ingress.from_port
    high = 65535 if ingress.to_port is None else ingress.to_port
    if low <= SSH_PORT <= high:
        ports = str(low) if low == high else f"{low}-{high}"
        return f"opens {ingress.protocol or 'protocol ?'} port {ports}, which includes SSH's port {SSH_PORT}"
    return None


# --- the policies ---------------------------------------------------------------------------


def _alb_internal(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in (*LOAD_BALANCERS, CLASSIC_ELB):
        return
    internal = _get(args.props, "internal")
    if not _is_true(internal):
        shown = "not set (AWS then makes it internet-facing)" if internal is None else f"{internal!r}"
        report_violation(
            f"Load balancer {args.name}: `internal` is {shown}; the mirror ALB must never be internet-facing. "
            "Set internal=True (the wallarm-mirror program always does).",
            None,
        )


def _no_world_ingress(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for ingress in ingress_of(args.resource_type, args.props):
        for cidr in ingress.cidrs:
            if _whole_internet(cidr):
                report_violation(
                    f"Security group ingress on {args.name} ({ingress.where}) allows {cidr}, the whole internet; "
                    "mirror sources must be explicit. List the web tier's CIDRs in wallarm-mirror:mirrorSourceCidrs "
                    "or its security groups in wallarm-mirror:mirrorSourceSecurityGroupIds.",
                    None,
                )


def _no_ssh_ingress(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for ingress in ingress_of(args.resource_type, args.props):
        reason = _opens_ssh(ingress)
        if reason:
            report_violation(
                f"Security group ingress on {args.name} ({ingress.where}) {reason}; nodes are reached through "
                "SSM Session Manager, never SSH. Limit the rule to the ports it serves.",
                None,
            )


def _imdsv2_required(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LAUNCH_TEMPLATE:
        return
    options = _get(args.props, "metadataOptions")
    if options is None:
        report_violation(
            f"Launch template {args.name} has no metadataOptions, so its instances accept IMDSv1 and a request "
            "forgery on a node can read the instance role's credentials. Set metadata_options "
            'http_tokens="required" (and http_put_response_hop_limit=1).',
            None,
        )
        return
    tokens = _get(options, "httpTokens")
    if tokens != "required":
        shown = "not set (AWS then allows IMDSv1)" if tokens is None else f"{tokens!r}"
        report_violation(
            f"Launch template {args.name}: metadataOptions.httpTokens is {shown}; IMDSv2 must be required. "
            'Set metadata_options http_tokens="required".',
            None,
        )


def _ebs_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LAUNCH_TEMPLATE:
        return
    mappings = _items(_get(args.props, "blockDeviceMappings"))
    volumes = [m for m in mappings if _get(m, "ebs") is not None]
    if not volumes:
        report_violation(
            f"Launch template {args.name} has no EBS block device mapping, so whether the root volume is "
            "encrypted depends on the AMI and the account's EBS default. Map the AMI's root device name with "
            'ebs encrypted="true".',
            None,
        )
        return
    for index, mapping in enumerate(mappings):
        ebs = _get(mapping, "ebs")
        if ebs is None:
            continue  # instance store (virtualName) or a suppressed device (noDevice): no EBS volume
        encrypted = _get(ebs, "encrypted")
        if not _is_true(encrypted):
            device = _get(mapping, "deviceName") or f"blockDeviceMappings[{index}]"
            shown = "not set" if encrypted is None else f"{encrypted!r}"
            report_violation(
                f"Launch template {args.name}: the EBS volume on {device} has encrypted {shown}; every volume "
                'of a node must be encrypted. Set ebs encrypted="true".',
                None,
            )


# Which input holds user data, and whether it is base64, per resource type.
_USER_DATA_INPUTS: dict[str, tuple[tuple[str, bool], ...]] = {
    LAUNCH_TEMPLATE: (("userData", True),),
    INSTANCE: (("userData", False), ("userDataBase64", True)),
    LAUNCH_CONFIGURATION: (("userData", False), ("userDataBase64", True)),
}


def user_data_of(resource_type: str, props: Mapping[str, Any]) -> str | None:
    """The decoded user data of a launch template, instance or launch configuration, else None."""
    for key, base64_encoded in _USER_DATA_INPUTS.get(resource_type, ()):
        value = _get(props, key)
        if isinstance(value, str) and value:
            return user_data_scan.decode_user_data(value, base64_encoded=base64_encoded)
    return None


def _no_token_in_user_data(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    text = user_data_of(args.resource_type, args.props)
    if text is None:
        return
    for finding in user_data_scan.find_tokens(text):
        # Never quote the value: policy output lands in CI logs and in Pulumi Cloud.
        report_violation(
            f"User data of {args.name} holds a literal token ({finding.what}, {finding.length} characters, at "
            f"{finding.where}); anyone allowed to read launch templates or instance attributes can read it. "
            "Keep the token out of user data: wallarm-mirror:tokenDelivery secretsManager (the default) or ssm.",
            None,
        )


def _wallarm_mode(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    text = user_data_of(args.resource_type, args.props)
    if text is None or args.get_config().get("allowBlockingModes") is True:
        return
    for setting in user_data_scan.find_modes(text):
        # Only the modes Wallarm defines as blocking; a mode given as a variable cannot be judged.
        if setting.mode in user_data_scan.BLOCKING_MODES:
            report_violation(
                f"User data of {args.name} sets Wallarm mode {setting.mode} ({setting.how}, at {setting.where}); "
                "out-of-band nodes only see copies of requests and cannot block, so the mode must be monitoring "
                'or off. Set wallarm-mirror:mode monitoring, or allow it with {"wallarm-mode-monitoring": '
                '{"allowBlockingModes": true}} in the policy pack config.',
                None,
            )


def _prod_deletion_protection(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in LOAD_BALANCERS:
        return
    pattern = args.get_config().get("prodStackPattern") or DEFAULT_PROD_STACK_PATTERN
    try:
        prod_like = re.compile(pattern, re.IGNORECASE)
    except re.error as error:
        report_violation(f"Policy config prodStackPattern {pattern!r} is not a regular expression: {error}.", None)
        return
    stack = stack_of(args.urn)
    if not prod_like.search(stack):
        return
    if not _is_true(_get(args.props, "enableDeletionProtection")):
        report_violation(
            f"Load balancer {args.name} of stack {stack} (a production stack by its name) has deletion protection "
            "off. Set wallarm-mirror:deletionProtection true for this stack.",
            None,
        )


ALB_INTERNAL = ResourceValidationPolicy(
    name="alb-internal",
    description="Load balancers are internal: the mirror endpoint is never reachable from the internet.",
    validate=_alb_internal,
    severity=Severity.CRITICAL,
)
NO_WORLD_INGRESS = ResourceValidationPolicy(
    name="no-world-ingress",
    description="No security group ingress from 0.0.0.0/0 or ::/0 (rules, rule resources and inline blocks).",
    validate=_no_world_ingress,
    severity=Severity.CRITICAL,
)
NO_SSH_INGRESS = ResourceValidationPolicy(
    name="no-ssh-ingress",
    description="No security group ingress that opens port 22 or all protocols; operators use SSM Session Manager.",
    validate=_no_ssh_ingress,
    severity=Severity.HIGH,
)
IMDSV2_REQUIRED = ResourceValidationPolicy(
    name="imdsv2-required",
    description="Launch templates require IMDSv2 (metadataOptions.httpTokens = required).",
    validate=_imdsv2_required,
    severity=Severity.HIGH,
)
EBS_ENCRYPTED = ResourceValidationPolicy(
    name="ebs-encrypted",
    description="Launch templates map their EBS volumes, and every mapped EBS volume is encrypted.",
    validate=_ebs_encrypted,
    severity=Severity.HIGH,
)
NO_TOKEN_IN_USER_DATA = ResourceValidationPolicy(
    name="no-token-in-user-data",
    description="User data holds no literal Wallarm token (flags, assignments, token files, embedded files).",
    validate=_no_token_in_user_data,
    severity=Severity.CRITICAL,
)
WALLARM_MODE_MONITORING = ResourceValidationPolicy(
    name="wallarm-mode-monitoring",
    description="Wallarm nodes run in monitoring or off mode unless blocking modes are explicitly allowed.",
    validate=_wallarm_mode,
    severity=Severity.MEDIUM,
    config_schema=PolicyConfigSchema(
        properties={
            "allowBlockingModes": {
                "type": "boolean",
                "default": False,
                "description": "Allow safe_blocking and block (they block nothing out of band).",
            }
        }
    ),
)
PROD_DELETION_PROTECTION = ResourceValidationPolicy(
    name="prod-alb-deletion-protection",
    description="Load balancers of production stacks (by stack name) have deletion protection on.",
    validate=_prod_deletion_protection,
    severity=Severity.MEDIUM,
    config_schema=PolicyConfigSchema(
        properties={
            "prodStackPattern": {
                "type": "string",
                "default": DEFAULT_PROD_STACK_PATTERN,
                "description": "Regular expression (case-insensitive search) for production stack names.",
            }
        }
    ),
)

POLICIES: list[ResourceValidationPolicy] = [
    ALB_INTERNAL,
    NO_WORLD_INGRESS,
    NO_SSH_INGRESS,
    IMDSV2_REQUIRED,
    EBS_ENCRYPTED,
    NO_TOKEN_IN_USER_DATA,
    WALLARM_MODE_MONITORING,
    PROD_DELETION_PROTECTION,
]
