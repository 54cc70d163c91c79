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
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import user_data_scan
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
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
TRAFFIC_MIRROR_FILTER = "aws:ec2/trafficMirrorFilter:TrafficMirrorFilter"
TRAFFIC_MIRROR_FILTER_RULE = "aws:ec2/trafficMirrorFilterRule:TrafficMirrorFilterRule"
TRAFFIC_MIRROR_SESSION = "aws:ec2/trafficMirrorSession:TrafficMirrorSession"
TRAFFIC_MIRROR_TARGET = "aws:ec2/trafficMirrorTarget:TrafficMirrorTarget"
SSM_ASSOCIATION = "aws:ssm/association:Association"
SSM_DOCUMENT = "aws:ssm/document:Document"
AUTOSCALING_GROUP = "aws:autoscaling/group:Group"
LB_TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
# A spoke of an organisation's analyser (issue 23): the program's type, and the component package's.
NATIVE_SPOKE_TYPES = ("wallarm:mirror:NativeSpoke", "wallarm-mirror:index:NativeSpoke")
RAM_RESOURCE_SHARE = "aws:ram/resourceShare:ResourceShare"
# The only step our host mirroring document runs; aws:downloadContent, aws:runDocument and the like
# would fetch what runs as root from somewhere else at run time.
SELF_CONTAINED_ACTIONS = frozenset({"aws:runShellScript"})
# A fetch from a URL other than the instance metadata service's, or from S3, in a runCommand line.
_FETCH = re.compile(
    r"\b(curl|wget)\b[^\n]*\b(?:https?|ftp)://(?!169\.254\.169\.254[:/])|\b(aws\s+s3\s+cp|aws\s+s3api\s+get-object)\b"
)

SSH_PORT = 22
TCP_PROTOCOL_NUMBER = 6
ALL_PORTS = (0, 65535)
# One port per accept rule, as the program writes them; a stack that serves a block of ports can
# raise it with {"traffic-mirror-filter-tcp-ports": {"maxPortsPerRule": 10}}.
DEFAULT_MAX_PORTS_PER_RULE = 1
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
            f"Load balancer {args.name}: `internal` is {shown}; no load balancer of a mirror stack (the ALB of "
            "nginxNode, the NLB of nativeNode, or any other type) may be internet-facing. "
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


def _ram_share_internal(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != RAM_RESOURCE_SHARE or args.get_config().get("allowExternal") is True:
        return
    # Absent means false (the provider's default): RAM then refuses principals outside the organization.
    if _is_true(_get(args.props, "allowExternalPrincipals")):
        report_violation(
            f"RAM resource share {args.name} allows external principals: accounts outside your AWS organization "
            "could be given what it shares (a hub's traffic mirror target: copies of its traffic). Set "
            "wallarm-mirror:trafficMirrorShareExternal false and share within the organization, or allow it with "
            '{"ram-share-internal": {"allowExternal": true}} in the policy pack config.',
            None,
        )


# --- traffic mirroring (nativeNode) ---------------------------------------------------------

# Seen from the mirrored interface, a request comes in (ingress) to the application's port and
# its response goes out (egress) from it: the port range on the application's side.
APPLICATION_SIDE = {"ingress": "destinationPortRange", "egress": "sourcePortRange"}


@dataclass(frozen=True)
class AcceptedPorts:
    """The TCP ports on the application's side that one accepting filter rule lets through."""

    direction: str  # "ingress" or "egress"
    low: int
    high: int


def _ports_text(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}-{high}"


def _port_range(props: Mapping[str, Any], key: str) -> tuple[int, int] | None:
    """The range in `key` ({fromPort, toPort}); a missing bound is open. None when there is no range."""
    ranges = _get(props, key)
    if ranges is None:
        return None
    low, high = _port(_get(ranges, "fromPort")), _port(_get(ranges, "toPort"))
    return (ALL_PORTS[0] if low is None else low, ALL_PORTS[1] if high is None else high)


def accepted_ports(props: Mapping[str, Any]) -> AcceptedPorts | None:
    """What an accepting TCP rule lets through on the application's side; None for any other rule.

    A rule without that range accepts every port (0-65535), and one without a protocol (or 0) accepts
    TCP among the rest. Rules that reject, other protocols and unknown directions let no TCP port
    through (filter_rule_problems reports the last two).
    """
    if str(_get(props, "ruleAction") or "").lower() != "accept":
        return None
    direction = str(_get(props, "trafficDirection") or "").lower()
    if _port(_get(props, "protocol")) not in (None, 0, TCP_PROTOCOL_NUMBER) or direction not in APPLICATION_SIDE:
        return None
    low, high = _port_range(props, APPLICATION_SIDE[direction]) or ALL_PORTS
    return AcceptedPorts(direction, low, high)


def filter_rule_problems(props: Mapping[str, Any], max_ports: int) -> list[str]:
    """Why an accepting traffic mirror filter rule copies more than the application's TCP ports.

    Reject rules only narrow what a filter copies, so they are never a problem. A rule is fine when
    it accepts protocol 6 (TCP) and, on the application's side of its direction (ingress: the
    destination port, egress: the source port), a range of at most `max_ports` ports.
    """
    if str(_get(props, "ruleAction") or "").lower() != "accept":
        return []
    problems = []
    protocol = _get(props, "protocol")
    number = _port(protocol)
    if number is None or number == 0:
        shown = "not set" if protocol is None else f"{protocol!r}"
        problems.append(f"accepts every protocol (protocol {shown})")
    elif number != TCP_PROTOCOL_NUMBER:
        problems.append(f"accepts protocol {number}, not TCP ({TCP_PROTOCOL_NUMBER})")
    direction = str(_get(props, "trafficDirection") or "").lower()
    if direction not in APPLICATION_SIDE:
        problems.append(f"has trafficDirection {_get(props, 'trafficDirection')!r}, neither ingress nor egress")
        return problems
    key = APPLICATION_SIDE[direction]
    ranges = _port_range(props, key)
    if ranges is None:
        problems.append(f"has no {key}, so it accepts every port")
    elif ranges[0] <= 1 and ranges[1] >= ALL_PORTS[1]:
        problems.append(f"accepts every port ({key} {_ports_text(*ranges)})")
    elif ranges[1] - ranges[0] + 1 > max_ports:
        count = ranges[1] - ranges[0] + 1
        allowed = "a single port" if max_ports == 1 else f"at most {max_ports} ports"
        problems.append(f"accepts {count} ports ({key} {_ports_text(*ranges)}), more than {allowed}")
    return problems


def _traffic_mirror_filter_tcp_ports(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == TRAFFIC_MIRROR_FILTER:
        services = [str(s) for s in _items(_get(args.props, "networkServices"))]
        if services:
            report_violation(
                f"Traffic mirror filter {args.name} mirrors network services {', '.join(services)}; the Native "
                "Node analyses HTTP only, so these copies are load on the NLB and the nodes and nothing else. "
                "Remove network_services from the filter.",
                None,
            )
        return
    if args.resource_type != TRAFFIC_MIRROR_FILTER_RULE:
        return
    max_ports = _port(args.get_config().get("maxPortsPerRule")) or DEFAULT_MAX_PORTS_PER_RULE
    problems = filter_rule_problems(args.props, max_ports)
    if problems:
        direction = str(_get(args.props, "trafficDirection") or "?").lower()
        key = APPLICATION_SIDE.get(direction, "destinationPortRange (ingress) or sourcePortRange (egress)")
        report_violation(
            f"Traffic mirror filter rule {args.name} ({direction}, accept) {'; it '.join(problems)}. The Native "
            "Node analyses HTTP on the application's TCP ports only; every other packet copied is load on the "
            f"NLB and the nodes and data the analyser should not see. Accept protocol 6 (TCP) with {key} "
            "from_port = to_port = an application port (wallarm-mirror:trafficMirrorPorts), one rule per port "
            'and direction, or raise {"traffic-mirror-filter-tcp-ports": {"maxPortsPerRule": N}} for a block '
            "of ports.",
            None,
        )


def _depends_on(resource: PolicyResource, key: str, resource_type: str) -> list[PolicyResource]:
    """The resources of `resource_type` that the input `key` of `resource` comes from (engine-sent)."""
    return [d for d in resource.property_dependencies.get(key, []) if d.resource_type == resource_type]


def _filter_of(rule: PolicyResource) -> str:
    """The filter a rule belongs to: the filter resource's name when the engine says where the id
    comes from (also during a preview, when the id is still unknown), else the id as written."""
    filters = _depends_on(rule, "trafficMirrorFilterId", TRAFFIC_MIRROR_FILTER)
    if filters:
        return filters[0].name
    return str(_get(rule.props, "trafficMirrorFilterId"))


def _port_runs(ports: set[int]) -> str:
    """80, 443, 8080-8082: sorted ports with consecutive runs joined."""
    runs: list[list[int]] = []
    for port in sorted(ports):
        if runs and port == runs[-1][1] + 1:
            runs[-1][1] = port
        else:
            runs.append([port, port])
    return ", ".join(_ports_text(low, high) for low, high in runs)


def _address_family(props: Mapping[str, Any]) -> str:
    """The family label of a rule's CIDRs: 'IPv6 ', or '' for IPv4. A rule matches one address family,
    so an IPv4 request and an IPv6 response never meet (the program writes both directions per family)."""
    cidrs = (_get(props, "sourceCidrBlock"), _get(props, "destinationCidrBlock"))
    return "IPv6 " if any(":" in str(c) for c in cidrs if c is not None) else ""


def _traffic_mirror_both_directions(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    # (filter, family) -> direction -> ports, and one rule per filter for the violation's URN
    covered: dict[tuple[str, str], dict[str, set[int]]] = {}
    some_rule: dict[tuple[str, str], str] = {}
    for rule in args.resources:
        if rule.resource_type != TRAFFIC_MIRROR_FILTER_RULE:
            continue
        accepted = accepted_ports(rule.props)
        if accepted is None:
            continue
        key = (_filter_of(rule), _address_family(rule.props))
        directions = covered.setdefault(key, {"ingress": set(), "egress": set()})
        directions[accepted.direction].update(range(accepted.low, accepted.high + 1))
        some_rule.setdefault(key, rule.urn)
    for (name, family), directions in sorted(covered.items()):
        for one, other in (("ingress", "egress"), ("egress", "ingress")):
            missing = directions[one] - directions[other]
            if missing:
                ports = _port_runs(missing)
                report_violation(
                    f"Traffic mirror filter {name} accepts {family}TCP {ports} {one} ({APPLICATION_SIDE[one]}) "
                    "but not "
                    f"{other} ({APPLICATION_SIDE[other]}); the Native Node reassembles each TCP stream from both "
                    f"directions, so those connections cannot be analysed. Add an {other} accept rule for "
                    f"{ports} with {APPLICATION_SIDE[other]} (the program writes both for every "
                    "wallarm-mirror:trafficMirrorPorts entry).",
                    some_rule[(name, family)],
                )


def _traffic_mirror_session_own_target(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    sessions = [r for r in args.resources if r.resource_type == TRAFFIC_MIRROR_SESSION]
    if not sessions or _spokes(args):
        # A spoke's sessions send to its hub's target, shared from another stack by AWS RAM, by design.
        return
    targets = [r for r in args.resources if r.resource_type == TRAFFIC_MIRROR_TARGET]
    for session in sessions:
        if _depends_on(session, "trafficMirrorTargetId", TRAFFIC_MIRROR_TARGET):
            continue
        # Without the engine's dependency (a target id written as a literal), compare ids.
        target_id = _get(session.props, "trafficMirrorTargetId")
        if target_id is not None and any(_get(t.props, "id") == target_id for t in targets):
            continue
        report_violation(
            f"Traffic mirror session {session.name} sends its copies to target {target_id!r}, which is not a "
            "traffic mirror target of this stack; the web tier's packets would leave for an analyser this stack "
            "does not run. Point traffic_mirror_target_id at this stack's target (the TrafficMirror component's "
            "`target`).",
            session.urn,
        )


def _association_target_problems(association: PolicyResource) -> list[str]:
    targets = _items(_get(association.props, "targets"))
    if not targets and not _get(association.props, "instanceId"):
        return ["has no targets"]
    problems = []
    for target in targets:
        key = str(_get(target, "key") or "")
        values = [str(v) for v in _items(_get(target, "values"))]
        if key.lower() == "instanceids" and "*" in values:
            problems.append("targets InstanceIds=* (every managed instance of the account and region)")
        elif not key.startswith("tag:") and key.lower() != "instanceids":
            problems.append(f"targets {key}={','.join(values)}, neither a tag nor instance ids")
    return problems


def _document_problems(document: PolicyResource) -> list[str]:
    try:
        content = json.loads(str(_get(document.props, "content") or ""))
    except ValueError:
        return ["its content is not JSON, so what it runs cannot be read"]
    problems = []
    for step in _items(content.get("mainSteps") if isinstance(content, Mapping) else None):
        action = str(_get(step, "action"))
        if action not in SELF_CONTAINED_ACTIONS:
            problems.append(f"step {_get(step, 'name')!r} is {action}")
            continue
        lines = "\n".join(str(line) for line in _items(_get(_get(step, "inputs") or {}, "runCommand")))
        found = _FETCH.search(lines)
        if found:
            problems.append(f"step {_get(step, 'name')!r} fetches with {found.group(1) or found.group(2)} at run time")
    return problems


def _ssm_association_own_document(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    associations = [r for r in args.resources if r.resource_type == SSM_ASSOCIATION]
    documents = {str(_get(d.props, "name")): d for d in args.resources if d.resource_type == SSM_DOCUMENT}
    for association in associations:
        problems = _association_target_problems(association)
        name = str(_get(association.props, "name"))
        own = _depends_on(association, "name", SSM_DOCUMENT) or ([documents[name]] if name in documents else [])
        if not own:
            problems.append(f"runs document {name!r}, which this stack does not define")
        for document in own:
            problems += [f"its document {document.name} {p}" for p in _document_problems(document)]
        if problems:
            report_violation(
                f"SSM association {association.name} {'; '.join(problems)}. An association runs its document as "
                "root on every instance it targets: target the web tier's tag, and run a Command document of "
                "this stack whose whole script is in its content (aws:runShellScript steps, nothing fetched at "
                "run time), as the host mirroring association does.",
                association.urn,
            )


# Named when the ALB was the only load balancer; the name is a config key users may have set, so it
# stays, and the policy covers every type (application, network, gateway and the classic ELB).
ALB_INTERNAL = ResourceValidationPolicy(
    name="alb-internal",
    description="Load balancers of every type (ALB, NLB, classic ELB) are internal: never reachable from the internet.",
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

RAM_SHARE_INTERNAL = ResourceValidationPolicy(
    name="ram-share-internal",
    description="AWS RAM resource shares (a hub's traffic mirror target) reach principals of the organization "
    "only: allowExternalPrincipals is false unless the policy config allows it.",
    validate=_ram_share_internal,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(
        properties={
            "allowExternal": {
                "type": "boolean",
                "default": False,
                "description": "Allow resource shares with accounts outside the organization.",
            }
        }
    ),
)
TRAFFIC_MIRROR_FILTER_TCP_PORTS = ResourceValidationPolicy(
    name="traffic-mirror-filter-tcp-ports",
    description="Traffic mirror filters copy only TCP to and from the application's ports: accept rules are "
    "protocol 6 with a single port on the application's side, and no network services.",
    validate=_traffic_mirror_filter_tcp_ports,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(
        properties={
            "maxPortsPerRule": {
                "type": "integer",
                "minimum": 1,
                "default": DEFAULT_MAX_PORTS_PER_RULE,
                "description": "How many ports one accept rule may cover on the application's side.",
            }
        }
    ),
)
TRAFFIC_MIRROR_BOTH_DIRECTIONS = StackValidationPolicy(
    name="traffic-mirror-both-directions",
    description="Every TCP port a traffic mirror filter accepts is accepted both ways (requests in, responses "
    "out): the Native Node needs both directions to reassemble a stream.",
    validate=_traffic_mirror_both_directions,
    severity=Severity.MEDIUM,
)
TRAFFIC_MIRROR_SESSION_OWN_TARGET = StackValidationPolicy(
    name="traffic-mirror-session-own-target",
    description="Traffic mirror sessions send their copies to a traffic mirror target of the same stack.",
    validate=_traffic_mirror_session_own_target,
    severity=Severity.HIGH,
)


def _spokes(args: StackValidationArgs) -> list[PolicyResource]:
    return [r for r in args.resources if r.resource_type in NATIVE_SPOKE_TYPES]


# What only a hub runs, in the words of the sentence.
_HUB_ONLY = {
    AUTOSCALING_GROUP: "an auto scaling group",
    LAUNCH_TEMPLATE: "a launch template",
    **{lb: "a load balancer" for lb in (*LOAD_BALANCERS, CLASSIC_ELB)},
    LB_TARGET_GROUP: "a load balancer target group",
    TRAFFIC_MIRROR_TARGET: "a traffic mirror target",
}


def _spoke_runs_no_nodes(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    spokes = _spokes(args)
    if not spokes:
        return
    names = ", ".join(sorted(s.name for s in spokes))
    for resource in args.resources:
        what = _HUB_ONLY.get(resource.resource_type)
        if what is not None:
            report_violation(
                f"This stack holds the spoke {names} and plans {what}, {resource.name}: a spoke only enrols its web "
                "tier into its hub's analyser, whose nodes, load balancer and traffic mirror target run in the hub's "
                "stack (shared by AWS RAM). Remove it from the spoke's stack, or run it as a nativeNode hub.",
                resource.urn,
            )


RESOURCE_POLICIES: list[ResourceValidationPolicy] = [
    ALB_INTERNAL,
    NO_WORLD_INGRESS,
    NO_SSH_INGRESS,
    IMDSV2_REQUIRED,
    EBS_ENCRYPTED,
    NO_TOKEN_IN_USER_DATA,
    WALLARM_MODE_MONITORING,
    PROD_DELETION_PROTECTION,
    TRAFFIC_MIRROR_FILTER_TCP_PORTS,
    RAM_SHARE_INTERNAL,
]
SSM_ASSOCIATION_OWN_DOCUMENT = StackValidationPolicy(
    name="ssm-association-own-document",
    description="SSM associations target instances by tag or id (never all of them) and run a Command document "
    "of the same stack that holds its whole script: no download at run time, since it runs as root.",
    validate=_ssm_association_own_document,
    severity=Severity.HIGH,
)

SPOKE_RUNS_NO_NODES = StackValidationPolicy(
    name="spoke-runs-no-nodes",
    description="A stack holding a spoke (wallarm:mirror:NativeSpoke) plans no nodes: no auto scaling group, launch "
    "template, load balancer, target group or traffic mirror target; those are its hub's.",
    validate=_spoke_runs_no_nodes,
    severity=Severity.HIGH,
)

STACK_POLICIES: list[StackValidationPolicy] = [
    TRAFFIC_MIRROR_BOTH_DIRECTIONS,
    TRAFFIC_MIRROR_SESSION_OWN_TARGET,
    SSM_ASSOCIATION_OWN_DOCUMENT,
    SPOKE_RUNS_NO_NODES,
]
POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [*RESOURCE_POLICIES, *STACK_POLICIES]
