"""The policies for the nativeNode analyser on hand-built props: each good shape passes, each bad one is refused.

The plan-based tests (test_policies.py) show the program's own native stack passes and that one
changed field of it is refused; these cover the shapes the program never writes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import rules
from plans import policy_resource, resource_args, violations
from pulumi_policy import PolicyResource, StackValidationArgs
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

LB = "aws:lb/loadBalancer:LoadBalancer"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG = "aws:ec2/securityGroup:SecurityGroup"
FILTER = "aws:ec2/trafficMirrorFilter:TrafficMirrorFilter"
RULE = "aws:ec2/trafficMirrorFilterRule:TrafficMirrorFilterRule"
SESSION = "aws:ec2/trafficMirrorSession:TrafficMirrorSession"
TARGET = "aws:ec2/trafficMirrorTarget:TrafficMirrorTarget"
ANYWHERE = "0.0.0.0/0"


def every_resource_violation(resource_type: str, name: str, props: dict[str, Any]) -> list[str]:
    """'policy: message' for every resource policy of the pack on one hand-built resource."""
    found = []
    for policy in rules.RESOURCE_POLICIES:
        found += [f"{policy.name}: {m}" for m in violations(policy, resource_args(resource_type, name, props))]
    return found


def filter_rule(direction: str, port: int | None = 80, **changes: Any) -> dict[str, Any]:
    """A rule as the program writes it: accept TCP to (ingress) or from (egress) one port, any address."""
    side = rules.APPLICATION_SIDE[direction]
    props: dict[str, Any] = {
        "trafficMirrorFilterId": "tmf-0123",
        "trafficDirection": direction,
        "ruleNumber": 100.0,
        "ruleAction": "accept",
        "protocol": 6.0,  # numbers arrive as floats from the engine
        "sourceCidrBlock": ANYWHERE,
        "destinationCidrBlock": ANYWHERE,
    }
    if port is not None:
        props[side] = {"fromPort": float(port), "toPort": float(port)}
    return {**props, **changes}


def rule_violations(props: dict[str, Any], config: dict[str, Any] | None = None) -> list[str]:
    args = resource_args(RULE, "mirror-filter-rule", props, config=config)
    return violations(rules.TRAFFIC_MIRROR_FILTER_TCP_PORTS, args)


# --- alb-internal covers every load balancer type -------------------------------------------


@pytest.mark.parametrize("lb_type", ["network", "gateway", "application", None])
@pytest.mark.parametrize("internal", [False, "false", None])
def test_internet_facing_load_balancer_of_any_type_is_refused(lb_type: str | None, internal: Any) -> None:
    props: dict[str, Any] = {"subnets": ["subnet-1", "subnet-2"]}
    if lb_type is not None:
        props["loadBalancerType"] = lb_type
    if internal is not None:
        props["internal"] = internal
    (message,) = every_resource_violation(LB, "mirror-nlb", props)
    assert message.startswith("alb-internal: Load balancer mirror-nlb: `internal` is ")
    assert "the NLB of nativeNode" in message
    assert message.endswith("Set internal=True (the wallarm-mirror program always does).")


def test_internal_nlb_passes() -> None:
    props = {"loadBalancerType": "network", "internal": True, "subnets": ["subnet-1"]}
    assert every_resource_violation(LB, "mirror-nlb", props) == []


# --- no-world-ingress on the node's UDP VXLAN port ------------------------------------------


@pytest.mark.parametrize(("field", "cidr"), [("cidrIpv4", "0.0.0.0/0"), ("cidrIpv6", "::/0")])
def test_udp_vxlan_ingress_from_the_internet_is_refused(field: str, cidr: str) -> None:
    props = {"securityGroupId": "sg-1", "ipProtocol": "udp", "fromPort": 4789.0, "toPort": 4789.0, field: cidr}
    assert every_resource_violation(INGRESS, "node-sg-vxlan", props) == [
        f"no-world-ingress: Security group ingress on node-sg-vxlan (this rule) allows {cidr}, the whole internet; "
        "mirror sources must be explicit. List the web tier's CIDRs in wallarm-mirror:mirrorSourceCidrs "
        "or its security groups in wallarm-mirror:mirrorSourceSecurityGroupIds."
    ]


def test_udp_vxlan_ingress_from_the_web_tier_passes() -> None:
    props = {
        "securityGroupId": "sg-1",
        "ipProtocol": "udp",
        "fromPort": 4789,
        "toPort": 4789,
        "cidrIpv4": "10.0.16.0/20",
    }
    assert every_resource_violation(INGRESS, "node-sg-vxlan", props) == []


def test_inline_udp_block_from_the_internet_is_refused() -> None:
    block = {"protocol": "udp", "fromPort": 4789, "toPort": 4789, "cidrBlocks": ["10.0.0.0/8", ANYWHERE]}
    (message,) = every_resource_violation(SG, "node-sg", {"ingress": [block]})
    assert message.startswith("no-world-ingress: Security group ingress on node-sg (ingress[0]) allows 0.0.0.0/0")


# --- traffic-mirror-filter-tcp-ports --------------------------------------------------------


@pytest.mark.parametrize("direction", ["ingress", "egress"])
def test_single_tcp_port_on_the_application_side_passes(direction: str) -> None:
    assert rule_violations(filter_rule(direction)) == []
    assert rule_violations(filter_rule(direction, protocol=6)) == []  # ints from the mocks


def test_reject_rules_are_never_refused() -> None:
    # A reject rule only narrows what the filter copies.
    props = filter_rule("ingress", None, ruleAction="reject")
    del props["protocol"]
    assert rule_violations(props) == []


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"protocol": None}, "accepts every protocol (protocol not set)"),
        ({"protocol": 0.0}, "accepts every protocol (protocol 0.0)"),
        ({"protocol": 17.0}, "accepts protocol 17, not TCP (6)"),
    ],
)
def test_accept_rule_that_is_not_tcp_is_refused(changes: dict[str, Any], reason: str) -> None:
    props = {k: v for k, v in {**filter_rule("ingress"), **changes}.items() if v is not None}
    assert rule_violations(props) == [
        f"Traffic mirror filter rule mirror-filter-rule (ingress, accept) {reason}. The Native Node analyses HTTP on "
        "the application's TCP ports only; every other packet copied is load on the NLB and the nodes and data the "
        "analyser should not see. Accept protocol 6 (TCP) with destinationPortRange from_port = to_port = an "
        "application port (wallarm-mirror:trafficMirrorPorts), one rule per port and direction, or raise "
        '{"traffic-mirror-filter-tcp-ports": {"maxPortsPerRule": N}} for a block of ports.'
    ]


@pytest.mark.parametrize(
    ("direction", "ranges", "reason"),
    [
        ("ingress", None, "has no destinationPortRange, so it accepts every port"),
        ("egress", None, "has no sourcePortRange, so it accepts every port"),
        ("ingress", {"fromPort": 0.0, "toPort": 65535.0}, "accepts every port (destinationPortRange 0-65535)"),
        ("egress", {"fromPort": 1, "toPort": 65535}, "accepts every port (sourcePortRange 1-65535)"),
        # A missing bound is open: from 80 up.
        ("ingress", {"fromPort": 80}, "accepts 65456 ports (destinationPortRange 80-65535), more than a single port"),
        (
            "ingress",
            {"fromPort": 80, "toPort": 81},
            "accepts 2 ports (destinationPortRange 80-81), more than a single port",
        ),
        (
            "egress",
            {"fromPort": 1024, "toPort": 2048},
            "accepts 1025 ports (sourcePortRange 1024-2048), more than a single port",
        ),
    ],
)
def test_accept_rule_wider_than_one_application_port_is_refused(
    direction: str, ranges: dict[str, Any] | None, reason: str
) -> None:
    props = filter_rule(direction, None)
    if ranges is not None:
        props[rules.APPLICATION_SIDE[direction]] = ranges
    (message,) = rule_violations(props)
    assert message.startswith(f"Traffic mirror filter rule mirror-filter-rule ({direction}, accept) {reason}. ")


def test_port_range_on_the_other_side_does_not_count() -> None:
    # An ingress rule narrowed by its *source* port still copies every destination port.
    props = filter_rule("ingress", None, sourcePortRange={"fromPort": 80, "toPort": 80})
    (message,) = rule_violations(props)
    assert "has no destinationPortRange, so it accepts every port" in message


def test_every_problem_of_a_rule_is_in_one_message() -> None:
    props = filter_rule("egress", None)
    del props["protocol"]
    (message,) = rule_violations(props)
    assert "(egress, accept) accepts every protocol (protocol not set); it has no sourcePortRange" in message


def test_unknown_direction_is_refused() -> None:
    (message,) = rule_violations(filter_rule("ingress", trafficDirection="both"))
    assert "(both, accept) has trafficDirection 'both', neither ingress nor egress." in message
    assert "destinationPortRange (ingress) or sourcePortRange (egress) from_port = to_port" in message


def test_max_ports_per_rule_is_configurable() -> None:
    props = filter_rule("ingress", None, destinationPortRange={"fromPort": 8080, "toPort": 8089})
    assert rule_violations(props, {"maxPortsPerRule": 10}) == []
    (message,) = rule_violations(props, {"maxPortsPerRule": 9})
    assert "accepts 10 ports (destinationPortRange 8080-8089), more than at most 9 ports" in message
    everything = filter_rule("ingress", None, destinationPortRange={"fromPort": 0, "toPort": 65535})
    assert rule_violations(everything, {"maxPortsPerRule": 65536}) != []  # all ports stays refused


def test_unknown_port_range_is_left_to_the_engine() -> None:
    props = filter_rule("ingress", None, destinationPortRange=UNKNOWN_STRING_VALUE)
    with pytest.raises(UnknownValueError):
        rule_violations(props)


def test_filter_with_network_services_is_refused() -> None:
    args = resource_args(FILTER, "mirror-filter", {"networkServices": ["amazon-dns"], "description": "x"})
    assert violations(rules.TRAFFIC_MIRROR_FILTER_TCP_PORTS, args) == [
        "Traffic mirror filter mirror-filter mirrors network services amazon-dns; the Native Node analyses HTTP "
        "only, so these copies are load on the NLB and the nodes and nothing else. Remove network_services from "
        "the filter."
    ]


@pytest.mark.parametrize("props", [{}, {"networkServices": []}, {"description": "TCP 80, both directions"}])
def test_filter_without_network_services_passes(props: dict[str, Any]) -> None:
    assert violations(rules.TRAFFIC_MIRROR_FILTER_TCP_PORTS, resource_args(FILTER, "mirror-filter", props)) == []


# --- traffic-mirror-both-directions (stack) -------------------------------------------------


def both_directions(*resources: PolicyResource) -> list[str]:
    return violations(rules.TRAFFIC_MIRROR_BOTH_DIRECTIONS, StackValidationArgs(list(resources)))


def rule_resource(name: str, props: dict[str, Any], **kwargs: Any) -> PolicyResource:
    return policy_resource(RULE, name, props, **kwargs)


def test_ports_accepted_both_ways_pass() -> None:
    assert (
        both_directions(
            rule_resource("in-80", filter_rule("ingress", 80)),
            rule_resource("out-80", filter_rule("egress", 80)),
            rule_resource("in-8080", filter_rule("ingress", 8080)),
            rule_resource("out-8080", filter_rule("egress", 8080)),
            rule_resource("drop-in-81", filter_rule("ingress", 81, ruleAction="reject")),  # rejects need no pair
        )
        == []
    )


def test_port_accepted_one_way_only_is_refused() -> None:
    assert both_directions(
        rule_resource("in-80", filter_rule("ingress", 80)),
        rule_resource("out-80", filter_rule("egress", 80)),
        rule_resource("in-443", filter_rule("ingress", 443)),
        rule_resource("in-8080", filter_rule("ingress", 8080)),
        rule_resource("out-9000", filter_rule("egress", None, sourcePortRange={"fromPort": 9000, "toPort": 9001})),
    ) == [
        "Traffic mirror filter tmf-0123 accepts TCP 443, 8080 ingress (destinationPortRange) but not egress "
        "(sourcePortRange); the Native Node reassembles each TCP stream from both directions, so those connections "
        "cannot be analysed. Add an egress accept rule for 443, 8080 with sourcePortRange (the program writes both "
        "for every wallarm-mirror:trafficMirrorPorts entry).",
        "Traffic mirror filter tmf-0123 accepts TCP 9000-9001 egress (sourcePortRange) but not ingress "
        "(destinationPortRange); the Native Node reassembles each TCP stream from both directions, so those "
        "connections cannot be analysed. Add an ingress accept rule for 9000-9001 with destinationPortRange (the "
        "program writes both for every wallarm-mirror:trafficMirrorPorts entry).",
    ]


def test_rule_for_every_protocol_covers_tcp_and_one_for_udp_does_not() -> None:
    # An all-protocol egress rule copies the responses too (traffic-mirror-filter-tcp-ports refuses
    # it for the rest it copies); a UDP rule on port 80 copies no TCP response.
    every_protocol = {k: v for k, v in filter_rule("egress", 80).items() if k != "protocol"}
    assert (
        both_directions(rule_resource("in-80", filter_rule("ingress", 80)), rule_resource("out", every_protocol)) == []
    )
    (message,) = both_directions(
        rule_resource("in-80", filter_rule("ingress", 80)), rule_resource("out", filter_rule("egress", 80, protocol=17))
    )
    assert message.startswith("Traffic mirror filter tmf-0123 accepts TCP 80 ingress (destinationPortRange) but not")


def test_directions_are_paired_within_one_filter() -> None:
    # The same port accepted ingress by one filter and egress by another is not a pair.
    found = both_directions(
        rule_resource("a-in-80", filter_rule("ingress", 80, trafficMirrorFilterId="tmf-a")),
        rule_resource("b-out-80", filter_rule("egress", 80, trafficMirrorFilterId="tmf-b")),
    )
    assert [m.split(" accepts ")[0] for m in found] == ["Traffic mirror filter tmf-a", "Traffic mirror filter tmf-b"]


def test_filter_is_known_by_its_resource_during_a_preview() -> None:
    # In a first preview the filter's id is unknown; the engine's property dependency names the filter.
    mirror_filter = policy_resource(FILTER, "wallarm-mirror-mirror-filter", {})
    unknown_id = {"trafficMirrorFilterId": UNKNOWN_STRING_VALUE}
    deps = {"property_dependencies": {"trafficMirrorFilterId": [mirror_filter]}}
    assert (
        both_directions(
            mirror_filter,
            rule_resource("in-80", filter_rule("ingress", 80, **unknown_id), **deps),
            rule_resource("out-80", filter_rule("egress", 80, **unknown_id), **deps),
        )
        == []
    )
    (message,) = both_directions(
        mirror_filter, rule_resource("in-80", filter_rule("ingress", 80, **unknown_id), **deps)
    )
    assert message.startswith("Traffic mirror filter wallarm-mirror-mirror-filter accepts TCP 80 ingress")


# --- traffic-mirror-session-own-target (stack) ----------------------------------------------


def own_target(*resources: PolicyResource) -> list[str]:
    return violations(rules.TRAFFIC_MIRROR_SESSION_OWN_TARGET, StackValidationArgs(list(resources)))


def session(target_id: Any, **kwargs: Any) -> PolicyResource:
    props = {"networkInterfaceId": "eni-1", "trafficMirrorFilterId": "tmf-1", "sessionNumber": 1.0}
    return policy_resource(SESSION, "mirror-session-eni-1", {**props, "trafficMirrorTargetId": target_id}, **kwargs)


def test_session_to_the_stacks_own_target_passes() -> None:
    target = policy_resource(TARGET, "mirror-target", {"id": "tmt-0123", "networkLoadBalancerArn": "arn:nlb"})
    assert own_target(target, session("tmt-0123")) == []
    # During a preview the id is unknown, and the engine's property dependency says where it comes from.
    deps = {"trafficMirrorTargetId": [target]}
    assert own_target(target, session(UNKNOWN_STRING_VALUE, property_dependencies=deps)) == []


@pytest.mark.parametrize("targets", [[], [{"id": "tmt-0123"}]])
def test_session_to_a_target_outside_the_stack_is_refused(targets: list[dict[str, Any]]) -> None:
    others = [policy_resource(TARGET, f"target-{i}", t) for i, t in enumerate(targets)]
    assert own_target(*others, session("tmt-0ffe1se")) == [
        "Traffic mirror session mirror-session-eni-1 sends its copies to target 'tmt-0ffe1se', which is not a "
        "traffic mirror target of this stack; the web tier's packets would leave for an analyser this stack does "
        "not run. Point traffic_mirror_target_id at this stack's target (the TrafficMirror component's `target`)."
    ]


def test_a_dependency_on_something_else_is_not_a_target() -> None:
    nlb = policy_resource(LB, "mirror-nlb", {"internal": True})
    (message,) = own_target(nlb, session("tmt-0ffe1se", property_dependencies={"trafficMirrorTargetId": [nlb]}))
    assert message.startswith("Traffic mirror session mirror-session-eni-1 sends its copies to target 'tmt-0ffe1se'")


def test_stack_without_sessions_passes() -> None:
    assert own_target(policy_resource(TARGET, "mirror-target", {"id": "tmt-0123"})) == []


# --- ssm-association-own-document: the host mirroring association ---------------------------

ASSOCIATION = "aws:ssm/association:Association"
DOCUMENT = "aws:ssm/document:Document"


def ssm_document(steps: list[dict[str, Any]] | None = None, name: str = "wallarm-mirror-test-host-mirror") -> Any:
    content = {
        "schemaVersion": "2.2",
        "mainSteps": steps
        if steps is not None
        else [
            {
                "action": "aws:runShellScript",
                "name": "hostMirror",
                "inputs": {"runCommand": ["set -eu", "curl -s http://169.254.169.254/latest/api/token", "sh x"]},
            }
        ],
    }
    return policy_resource(DOCUMENT, "host-mirror", {"name": name, "content": json.dumps(content)})


def association(**changes: Any) -> Any:
    props = {
        "name": "wallarm-mirror-test-host-mirror",
        "targets": [{"key": "tag:role", "values": ["web"]}],
        "parameters": {"action": "apply"},
        **changes,
    }
    return policy_resource(ASSOCIATION, "host-mirror", props)


def association_violations(*resources: Any) -> list[str]:
    return violations(rules.SSM_ASSOCIATION_OWN_DOCUMENT, StackValidationArgs(list(resources)))


def test_the_host_mirroring_association_shape_passes() -> None:
    assert association_violations(association(), ssm_document()) == []


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"targets": [{"key": "InstanceIds", "values": ["*"]}]}, "targets InstanceIds=* (every managed instance"),
        ({"targets": [{"key": "resource-groups:Name", "values": ["all"]}]}, "neither a tag nor instance ids"),
        ({"targets": []}, "has no targets"),
        ({"name": "AWS-RunShellScript"}, "runs document 'AWS-RunShellScript', which this stack does not define"),
    ],
)
def test_an_association_beyond_the_tagged_hosts_or_our_document_is_refused(changes: dict[str, Any], said: str) -> None:
    (message,) = association_violations(association(**changes), ssm_document())
    assert message.startswith("SSM association host-mirror ")
    assert said in message
    assert "runs its document as root on every instance it targets" in message


@pytest.mark.parametrize(
    ("steps", "said"),
    [
        (
            [{"action": "aws:downloadContent", "name": "fetch", "inputs": {}}],
            "its document host-mirror step 'fetch' is aws:downloadContent",
        ),
        (
            [{"action": "aws:runShellScript", "name": "s", "inputs": {"runCommand": ["curl -s https://x.example/s"]}}],
            "step 's' fetches with curl at run time",
        ),
        (
            [{"action": "aws:runShellScript", "name": "s", "inputs": {"runCommand": ["aws s3 cp s3://b/k /tmp/k"]}}],
            "fetches with aws s3 cp at run time",
        ),
    ],
)
def test_a_document_that_fetches_what_it_runs_is_refused(steps: list[dict[str, Any]], said: str) -> None:
    (message,) = association_violations(association(), ssm_document(steps))
    assert said in message


def test_a_document_named_by_dependency_is_ours() -> None:
    document = ssm_document()
    linked = policy_resource(
        ASSOCIATION,
        "host-mirror",
        {"name": "renamed", "targets": [{"key": "tag:role", "values": ["web"]}]},
        property_dependencies={"name": [document]},
    )
    assert association_violations(linked, document) == []
