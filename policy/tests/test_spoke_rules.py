"""spoke-runs-no-nodes (issue 23): a stack holding a spoke (wallarm:mirror:NativeSpoke) plans no nodes, load
balancer or traffic mirror target: hand-built stacks, and the offline plan of the example spoke."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rules
from plans import REPO, Plan, finish, plan_from, policy_resource, stack_args, start, violations
from pulumi_policy import StackValidationArgs

SPOKE = "wallarm:mirror:NativeSpoke"
FACADE = "wallarm:mirror:WallarmMirror"
FILTER = "aws:ec2/trafficMirrorFilter:TrafficMirrorFilter"
SESSION = "aws:ec2/trafficMirrorSession:TrafficMirrorSession"
# The hub's outputs a spoke reads (the contract), as the hub's `pulumi stack output --json` prints them.
HUB = {
    "traffic_mirror_target_id": "tmt-0123456789abcdef0",
    "traffic_mirror_target_arn": "arn:aws:ec2:eu-west-1:111111111111:traffic-mirror-target/tmt-0123456789abcdef0",
    "nlb_dns_name": "hub-nlb-0123456789abcdef.elb.eu-west-1.amazonaws.com",
    "traffic_mirror_vni": 4242,
    "traffic_mirror_ports": [80],
    "mirror_source_cidrs": ["10.20.0.0/16", "10.30.0.0/16"],
}
HUB_ONLY = [
    ("aws:autoscaling/group:Group", "an auto scaling group"),
    ("aws:ec2/launchTemplate:LaunchTemplate", "a launch template"),
    ("aws:lb/loadBalancer:LoadBalancer", "a load balancer"),
    ("aws:lb/targetGroup:TargetGroup", "a load balancer target group"),
    ("aws:ec2/trafficMirrorTarget:TrafficMirrorTarget", "a traffic mirror target"),
]


def stack(*types_and_names: tuple[str, str]) -> StackValidationArgs:
    return StackValidationArgs([policy_resource(t, n, {}) for t, n in types_and_names], config={})


@pytest.mark.parametrize(("resource_type", "what"), HUB_ONLY)
@pytest.mark.parametrize("spoke_type", rules.NATIVE_SPOKE_TYPES)
def test_a_spoke_stack_with_a_hubs_resource_is_refused(resource_type: str, what: str, spoke_type: str) -> None:
    found = violations(rules.SPOKE_RUNS_NO_NODES, stack((spoke_type, "team-a"), (FILTER, "f"), (resource_type, "x")))
    assert found == [
        f"This stack holds the spoke team-a and plans {what}, x: a spoke only enrols its web tier into its hub's "
        "analyser, whose nodes, load balancer and traffic mirror target run in the hub's stack (shared by AWS RAM). "
        "Remove it from the spoke's stack, or run it as a nativeNode hub."
    ]


def test_a_spoke_stack_of_filter_sessions_and_enrolment_passes() -> None:
    resources = [(SPOKE, "team-a"), (FILTER, "f"), (SESSION, "s"), ("aws:lambda/function:Function", "enrolment")]
    assert violations(rules.SPOKE_RUNS_NO_NODES, stack(*resources)) == []


@pytest.mark.parametrize(("resource_type", "what"), HUB_ONLY)
def test_a_hub_without_a_spoke_may_run_all_of_it(resource_type: str, what: str) -> None:
    assert violations(rules.SPOKE_RUNS_NO_NODES, stack((FACADE, "hub"), (resource_type, "x"))) == []


def test_a_spokes_sessions_to_its_hubs_target_are_not_foreign_sessions() -> None:
    sessions = [(SESSION, "s")]
    # Without a spoke, a session to a target not in the stack is refused (traffic-mirror-session-own-target) ...
    assert len(violations(rules.TRAFFIC_MIRROR_SESSION_OWN_TARGET, stack(*sessions))) == 1
    # ... in a spoke's stack it is the design: the target is the hub's, shared by AWS RAM.
    assert violations(rules.TRAFFIC_MIRROR_SESSION_OWN_TARGET, stack((SPOKE, "team-a"), *sessions)) == []


@pytest.fixture(scope="module")
def spoke_plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    hub = tmp_path_factory.mktemp("hub") / "hub-outputs.json"
    hub.write_text(json.dumps(HUB))
    stack_file = Path(REPO) / "examples" / "spoke" / "Pulumi.spoke-b.yaml"  # static session and enrolment
    process = start(
        "-m",
        "wallarm_mirror",
        "plan",
        "--json",
        "--config-file",
        str(stack_file),
        "--stack-outputs",
        f"org/wallarm-mirror/hub={hub}",
    )
    return plan_from(finish(process, "the offline plan of the example spoke"))


def test_the_example_spoke_passes_every_stack_policy(spoke_plan: Plan) -> None:
    assert spoke_plan.all(SPOKE), "the stack program's facade holds a NativeSpoke"
    assert spoke_plan.all(SESSION), "a static session to the hub's target"
    for policy in rules.STACK_POLICIES:
        assert violations(policy, stack_args(spoke_plan)) == [], policy.name


def test_the_example_spoke_with_a_node_group_added_is_refused(spoke_plan: Plan) -> None:
    group = {"type": "aws:autoscaling/group:Group", "name": "nodes", "parent": None, "inputs": {}}
    grown = Plan(spoke_plan.project, spoke_plan.stack, [*spoke_plan.resources, group], spoke_plan.outputs)
    [found] = violations(rules.SPOKE_RUNS_NO_NODES, stack_args(grown))
    assert found.startswith("This stack holds the spoke wallarm-mirror and plans an auto scaling group, nodes:")
