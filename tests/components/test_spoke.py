"""NativeSpoke (issue 23): a spoke creates only its enrolment, around the hub's shared target: its own
filter with the hub's ports, sessions and the enrolment function to the hub's target (the IAM policy
naming the target's ARN in the hub's account), host mirroring to the hub's NLB, enrolment alarms;
no NLB, no nodes, no token, no target. Plans of the component and of the stack program."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from wallarm_mirror import NativeSpoke, NativeSpokeArgs, WallarmMirror
from wallarm_mirror.__main__ import main
from wallarm_mirror.components.spoke import SPOKE_TYPE_TOKEN
from wallarm_mirror.components.stack import TYPE_TOKEN
from wallarm_mirror.offline.engine import OfflineFacts, OfflineRun, run_offline
from wallarm_mirror.traffic_mirror import enrolment as code

HUB_ACCOUNT, SPOKE_ACCOUNT = "222222222222", "333333333333"
TARGET = "tmt-0123456789abcdef0"
TARGET_ARN = f"arn:aws:ec2:eu-west-1:{HUB_ACCOUNT}:traffic-mirror-target/{TARGET}"
NLB = "hub-nlb-0123456789abcdef.elb.eu-west-1.amazonaws.com"
HUB: dict[str, Any] = {
    "traffic_mirror_target_id": TARGET,
    "traffic_mirror_target_arn": TARGET_ARN,
    "nlb_dns_name": NLB,
    "traffic_mirror_vni": 777,
    "traffic_mirror_ports": [8080, 9090],
    "mirror_source_cidrs": ["10.1.0.0/16"],
}
ARGS = NativeSpokeArgs(
    hub_outputs=HUB,
    mirror_source_cidrs=["10.1.16.0/20"],
    traffic_mirror_source_eni_ids=["eni-0123456789abcdef0"],
    traffic_mirror_source_tags={"role": "web"},
)
# What only the hub has: a spoke that plans one of these is not a spoke.
NODE_TYPES = {
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:lb/targetGroup:TargetGroup",
    "aws:autoscaling/group:Group",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/trafficMirrorTarget:TrafficMirrorTarget",
    "aws:secretsmanager/secret:Secret",
    "aws:secretsmanager/secretVersion:SecretVersion",
    "aws:ssm/parameter:Parameter",
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:ec2/securityGroup:SecurityGroup",
}


def run(build: Any, region: str = "eu-west-1") -> tuple[OfflineRun, Any]:
    made: dict[str, Any] = {}

    def program() -> None:
        made["component"] = build()

    facts = OfflineFacts(account=SPOKE_ACCOUNT)
    return run_offline({"aws:region": region}, stack="spoke", program=program, facts=facts), made["component"]


def inputs(plan: OfflineRun, kind: str) -> list[dict[str, Any]]:
    return [r.inputs for r in plan.all(kind)]


# The typed attributes the module's spoke run reads back (what a program of its own or `status` reads).
ATTRIBUTES = (
    "hub_traffic_mirror_target_id",
    "hub_nlb_dns_name",
    "traffic_mirror_vni",
    "mirror_source_cidrs",
    "enrolment_function_name",
    "hub_nlb_zone_addresses",
)


@pytest.fixture(scope="module")
def spoke_and_attributes() -> tuple[OfflineRun, dict[str, Any]]:
    """One run of NativeSpoke("spoke", ARGS) for the tests that only read it, with its typed attributes
    as they resolve."""
    seen: dict[str, Any] = {}

    def build() -> NativeSpoke:
        component = NativeSpoke("spoke", ARGS.copy())
        pulumi.Output.all(*(getattr(component, name) for name in ATTRIBUTES)).apply(
            lambda values: seen.update(zip(ATTRIBUTES, values, strict=True))
        )
        return component

    return run(build)[0], seen


@pytest.fixture
def spoke(spoke_and_attributes: tuple[OfflineRun, dict[str, Any]]) -> OfflineRun:
    return spoke_and_attributes[0]


def test_a_spoke_plans_no_nlb_no_nodes_no_token_and_no_target(spoke: OfflineRun):
    types = {r.typ for r in spoke.resources}
    assert not types & NODE_TYPES
    assert [r.name for r in spoke.resources if r.typ == SPOKE_TYPE_TOKEN] == ["spoke"]
    assert {"aws:ec2/trafficMirrorFilter:TrafficMirrorFilter", "aws:lambda/function:Function"} <= types


def test_the_filter_accepts_the_hubs_ports_both_ways_and_both_families(spoke: OfflineRun):
    rules = inputs(spoke, "TrafficMirrorFilterRule")
    assert len(rules) == 8  # 2 ports x ingress/egress x IPv4/IPv6
    ingress = sorted(r["destinationPortRange"]["fromPort"] for r in rules if r["trafficDirection"] == "ingress")
    egress = sorted(r["sourcePortRange"]["fromPort"] for r in rules if r["trafficDirection"] == "egress")
    assert ingress == egress == [8080, 8080, 9090, 9090]
    [mirror_filter] = inputs(spoke, "TrafficMirrorFilter")
    assert mirror_filter["description"] == "wallarm-mirror spoke: TCP 8080, 9090, both directions"


def test_static_sessions_go_to_the_hubs_target_with_its_vni(spoke: OfflineRun):
    [session] = inputs(spoke, "TrafficMirrorSession")
    assert session["trafficMirrorTargetId"] == TARGET
    assert session["virtualNetworkId"] == 777
    assert session["networkInterfaceId"] == "eni-0123456789abcdef0"
    assert session["trafficMirrorFilterId"] == spoke.id_of("TrafficMirrorFilter", "spoke-filter")


def test_the_enrolment_function_creates_sessions_to_the_hubs_target(spoke: OfflineRun):
    [function] = inputs(spoke, "Function")
    env = function["environment"]["variables"]
    assert env[code.ENV_TARGET_ID] == TARGET
    assert env[code.ENV_VNI] == "777"
    assert env[code.ENV_FILTER_ID] == spoke.id_of("TrafficMirrorFilter", "spoke-filter")


def test_the_enrolment_policy_names_the_hubs_target_arn_not_this_accounts(spoke: OfflineRun):
    [policy] = inputs(spoke, "RolePolicy")
    document = json.loads(policy["policy"])
    [create] = [s for s in document["Statement"] if s["Sid"] == "CreateSessionFromAnyEniToOurTargetWithOurFilter"]
    assert TARGET_ARN in create["Resource"]
    filter_id = spoke.id_of("TrafficMirrorFilter", "spoke-filter")
    # The filter and interfaces are this account's, the target the hub's.
    assert f"arn:aws:ec2:eu-west-1:{SPOKE_ACCOUNT}:traffic-mirror-filter/{filter_id}" in create["Resource"]
    assert not any(f"{SPOKE_ACCOUNT}:traffic-mirror-target" in r for r in create["Resource"])


def test_host_mirroring_sends_to_the_hubs_nlb_with_its_vni_and_ports(spoke: OfflineRun):
    [document] = inputs(spoke, "Document")
    content = document["content"]
    assert NLB in content
    assert "777" in content and "8080" in content and "9090" in content
    [association] = inputs(spoke, "Association")
    assert association["targets"] == [{"key": "tag:role", "values": ["web"]}]


def test_enrolment_alarms_go_to_a_topic_of_the_spoke(spoke: OfflineRun):
    names = sorted(r["name"] for r in inputs(spoke, "MetricAlarm"))
    assert names and all(name.startswith("wallarm-mirror-spoke-enrolment") for name in names)
    assert "wallarm-mirror-spoke-enrolment-pending" in names
    assert len(inputs(spoke, "Topic")) == 1


def test_without_alarms_there_is_no_topic_and_the_pending_alarm_has_no_action():
    plan, _ = run(lambda: NativeSpoke("spoke", {**ARGS, "alarms_enabled": False}))
    assert not plan.all("Topic")
    [pending] = inputs(plan, "MetricAlarm")
    assert pending["name"] == "wallarm-mirror-spoke-enrolment-pending" and not pending.get("alarmActions")


def test_the_spokes_outputs_are_typed_attributes(spoke_and_attributes: tuple[OfflineRun, dict[str, Any]]):
    _, seen = spoke_and_attributes
    assert [seen[name] for name in ATTRIBUTES[:5]] == [TARGET, NLB, 777, ["10.1.16.0/20"], "spoke-enrolment"]


def asset(value: Any) -> Any:
    # The enrolment function's code archive, by its files' paths (its repr names the object).
    return {name: str(getattr(a, "path", a)) for name, a in getattr(value, "assets", {}).items()} or repr(value)


def test_the_facade_holds_a_native_spoke_that_builds_the_same(spoke: OfflineRun):
    mine = spoke
    either: Any = {**ARGS, "analyzer": "nativeSpoke"}  # as the program builds a spoke through the facade
    theirs, _ = run(lambda: WallarmMirror("spoke", either))

    def children(plan: OfflineRun) -> dict[tuple[str, str], str]:
        shown = {(r.typ, r.name): json.dumps(r.inputs, sort_keys=True, default=asset) for r in plan.resources}
        return {key: text for key, text in shown.items() if key[0] not in (SPOKE_TYPE_TOKEN, TYPE_TOKEN)}

    assert children(mine) == children(theirs)
    # The facade's child is a NativeSpoke: a stack program's spoke is one by its type (policy pack).
    [held] = [r for r in theirs.resources if r.typ == SPOKE_TYPE_TOKEN]
    assert held.parent.endswith(f"{TYPE_TOKEN}::spoke")


def test_hub_outputs_as_outputs_are_checked_when_they_resolve():
    # As a StackReference gives them: the rules follow the hub's ports once known.
    late = {key: pulumi.Output.from_input(value) for key, value in HUB.items()}
    plan, _ = run(lambda: NativeSpoke("spoke", {**ARGS, "hub_outputs": late}))
    assert len(plan.all("TrafficMirrorFilterRule")) == 8
    [function] = inputs(plan, "Function")
    assert function["environment"]["variables"][code.ENV_TARGET_ID] == TARGET


def test_a_stack_references_floats_reach_the_function_and_sessions_as_integers():
    # What a StackReference gives a program of its own: 777.0 and [8080.0, 9090.0].
    floats = {**HUB, "traffic_mirror_vni": 777.0, "traffic_mirror_ports": [8080.0, 9090.0]}
    late = {key: pulumi.Output.from_input(value) for key, value in floats.items()}
    plan, _ = run(lambda: NativeSpoke("spoke", {**ARGS, "hub_outputs": late}))
    [function] = inputs(plan, "Function")
    assert function["environment"]["variables"][code.ENV_VNI] == "777"
    assert "TCP 8080, 9090, both" in inputs(plan, "TrafficMirrorFilter")[0]["description"]


def test_a_spoke_cidr_outside_a_late_hubs_is_refused_when_it_resolves():
    late = {**HUB, "mirror_source_cidrs": pulumi.Output.from_input(["10.2.0.0/16"])}
    with pytest.raises(pulumi.RunError) as refused:
        run(lambda: NativeSpoke("spoke", {**ARGS, "hub_outputs": late}))
    assert "NativeSpokeArgs.mirror_source_cidrs: 10.1.16.0/20 lies outside the hub's mirror_source_cidrs" in str(
        refused.value
    )


def test_a_known_spoke_cidr_outside_the_hubs_is_refused_before_anything_exists():
    with pytest.raises(pulumi.RunError, match=r"NativeSpokeArgs\.mirror_source_cidrs: 10\.9\.0\.0/24 lies outside"):
        run(lambda: NativeSpoke("spoke", {**ARGS, "mirror_source_cidrs": ["10.9.0.0/24"]}))


def test_a_spoke_in_another_region_than_its_hub_is_refused():
    with pytest.raises(pulumi.RunError) as refused:
        run(lambda: NativeSpoke("spoke", ARGS.copy()), region="us-east-1")
    assert str(refused.value).startswith(
        f"wallarm-mirror:hubOutputs: the hub's traffic mirror target {TARGET} is in eu-west-1 and this spoke deploys "
        "to us-east-1: traffic mirroring is intra-Region"
    )


def test_node_args_are_not_args_of_a_spoke():
    wrong: Any = {**ARGS, "token": "t"}
    with pytest.raises(pulumi.RunError, match=r"NativeSpokeArgs\.token: only applies when analyzer is nginxNode or "):
        NativeSpoke("spoke", wrong)


# --- the stack program with hubStack, through the offline plan's command line ----------------------

ROOT = Path(__file__).resolve().parents[2]


def stack_file(tmp_path: Path, name: str, config: dict[str, Any]) -> Path:
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


SPOKE_STACK = {
    "aws:region": "eu-west-1",
    "wallarm-mirror:analyzer": "nativeSpoke",
    "wallarm-mirror:hubStack": "org/wallarm-mirror/hub",
    "wallarm-mirror:mirrorSourceCidrs": ["10.1.16.0/20"],
    "wallarm-mirror:trafficMirrorSourceTags": {"role": "web"},
}


def plan_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], config: dict[str, Any], hub: Any) -> str:
    outputs = tmp_path / "hub.json"
    outputs.write_text(json.dumps(hub))
    path = stack_file(tmp_path, "spoke", config)
    with pytest.raises(SystemExit) as stopped:
        main(["plan", "--config-file", str(path), "--stack-outputs", f"org/wallarm-mirror/hub={outputs}"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_a_spoke_naming_itself_as_its_hub_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    err = plan_error(tmp_path, capsys, {**SPOKE_STACK, "wallarm-mirror:hubStack": "org/wallarm-mirror/spoke"}, HUB)
    assert err.startswith(
        "error: stack spoke (Pulumi.spoke.yaml): wallarm-mirror:hubStack: org/wallarm-mirror/spoke is this stack "
        "itself (wallarm-mirror/spoke); a spoke enrols into a hub"
    )


def test_a_hub_output_missing_from_the_hub_stack_is_named_with_the_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    hub = {k: v for k, v in HUB.items() if k != "traffic_mirror_target_arn"}
    err = plan_error(tmp_path, capsys, SPOKE_STACK, hub)
    assert (
        "wallarm-mirror:hubStack: stack org/wallarm-mirror/hub has no output 'traffic_mirror_target_arn' (its ARN, in "
        "the hub's account), which a spoke needs (it has mirror_source_cidrs, nlb_dns_name, traffic_mirror_ports, "
        "traffic_mirror_target_id, traffic_mirror_vni)"
    ) in err


def test_a_spoke_cidr_the_hub_stack_does_not_accept_is_refused_in_the_stack_files_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    err = plan_error(tmp_path, capsys, {**SPOKE_STACK, "wallarm-mirror:mirrorSourceCidrs": ["10.9.0.0/24"]}, HUB)
    assert (
        "  - wallarm-mirror:mirrorSourceCidrs: 10.9.0.0/24 lies outside the hub's mirror_source_cidrs (10.1.0.0/16)"
    ) in err
    assert "(from stack org/wallarm-mirror/hub, wallarm-mirror:hubStack)" in err


def test_a_malformed_output_of_the_hub_stack_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    err = plan_error(tmp_path, capsys, SPOKE_STACK, {**HUB, "traffic_mirror_vni": "4242"})
    assert "wallarm-mirror:hubOutputs: traffic_mirror_vni '4242' is not a VNI" in err
    assert "(from stack org/wallarm-mirror/hub, wallarm-mirror:hubStack)" in err


def test_the_hubs_zone_addresses_pass_through_for_status(spoke_and_attributes: tuple[OfflineRun, dict[str, Any]]):
    zones = {"euw1-az1": "10.0.1.10", "euw1-az2": "10.0.2.10"}
    seen: dict[str, Any] = {}

    def program() -> None:
        with_zones = NativeSpoke("spoke", {**ARGS, "hub_outputs": {**HUB, "nlb_zone_addresses": zones}})
        with_zones.hub_nlb_zone_addresses.apply(lambda v: seen.setdefault("values", v))

    run_offline({"aws:region": "eu-west-1"}, stack="spoke", program=program)
    # Without them (the module's spoke, whose hub gave none), the attribute is empty, not missing.
    assert [seen["values"], spoke_and_attributes[1]["hub_nlb_zone_addresses"]] == [zones, {}]
