"""networkStack: the program reads vpcId and subnet ids from another stack's outputs (StackReference),
checked like any Output when they resolve; examples/network-stack is such a stack file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEV, SUBNETS, TOKEN, VPC, fresh_run
from wallarm_mirror.config import ConfigError, parse_stack_config
from wallarm_mirror.offline.engine import OfflineFacts, run_offline
from wallarm_mirror.offline.plan import read_stack_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "network-stack" / "Pulumi.network.yaml"
NETWORK = "acme/network/prod"
NET_VPC = "vpc-0abcdefabcdefabc1"
NET_SUBNETS = ["subnet-0abcdefabcdefabc1", "subnet-0abcdefabcdefabc2", "subnet-0abcdefabcdefabc3"]
APP_SUBNETS = ["subnet-0fedcbafedcbafed1", "subnet-0fedcbafedcbafed2"]
FACTS = OfflineFacts(
    stack_outputs={NETWORK: {"vpcId": NET_VPC, "privateSubnetIds": NET_SUBNETS, "appSubnetIds": APP_SUBNETS}}
)
# DEV with the network left to the network stack.
NET_DEV: dict[str, Any] = {**DEV, "vpcId": None, "albSubnetIds": None, "networkStack": NETWORK}


def references(run: Any) -> list[Any]:
    return run.all("pulumi:pulumi:StackReference")


def test_the_vpc_and_alb_subnets_come_from_the_network_stacks_common_outputs():
    run = fresh_run(NET_DEV, facts=FACTS)
    (reference,) = references(run)
    assert reference.name == NETWORK and reference.inputs["name"] == NETWORK
    assert run.only("LoadBalancer").inputs["subnets"] == NET_SUBNETS
    assert run.only("TargetGroup").inputs["vpcId"] == NET_VPC
    assert {g.inputs["vpcId"] for g in run.all("SecurityGroup")} == {NET_VPC}
    assert run.only("Group").inputs["vpcZoneIdentifiers"] == NET_SUBNETS


def test_network_outputs_picks_other_output_names():
    run = fresh_run(NET_DEV, facts=FACTS, networkOutputs={"albSubnetIds": "appSubnetIds"})
    assert run.only("LoadBalancer").inputs["subnets"] == APP_SUBNETS
    assert run.only("TargetGroup").inputs["vpcId"] == NET_VPC  # the default output name still


def test_keys_set_in_the_stack_file_win_and_nothing_is_read_when_all_are_set():
    run = fresh_run(NET_DEV, facts=FACTS, vpcId=VPC)
    assert run.only("TargetGroup").inputs["vpcId"] == VPC
    assert run.only("LoadBalancer").inputs["subnets"] == NET_SUBNETS
    run = fresh_run(NET_DEV, facts=FACTS, vpcId=VPC, albSubnetIds=SUBNETS)
    assert references(run) == []


def test_nodes_may_take_their_own_subnets_from_the_network_stack():
    run = fresh_run(NET_DEV, facts=FACTS, networkOutputs={"nodeSubnetIds": "appSubnetIds"})
    assert run.only("LoadBalancer").inputs["subnets"] == NET_SUBNETS
    assert run.only("Group").inputs["vpcZoneIdentifiers"] == APP_SUBNETS


def test_a_missing_output_stops_the_deployment_naming_it():
    facts = OfflineFacts(stack_outputs={NETWORK: {"vpcId": NET_VPC}})
    with pytest.raises(
        Exception,
        match=r"networkStack: stack acme/network/prod has no output 'privateSubnetIds' for "
        r"albSubnetIds \(it has vpcId\)\. Fix: pulumi config set --path 'wallarm-mirror:networkOutputs",
    ):
        fresh_run(NET_DEV, facts=facts)


def test_a_bad_id_from_the_network_stack_is_refused_with_the_fields_sentence():
    facts = OfflineFacts(stack_outputs={NETWORK: {"vpcId": NET_VPC, "privateSubnetIds": NET_SUBNETS[:1]}})
    with pytest.raises(Exception, match=r"alb_subnet_ids: has 1 subnet; an ALB needs at least 2"):
        fresh_run(NET_DEV, facts=facts)


def test_native_node_takes_only_the_vpc_from_the_network_stack():
    from tests.components.test_native_stack import STATIC

    run = fresh_run({**STATIC, "vpcId": None, "networkStack": NETWORK}, facts=FACTS)
    assert {g.inputs["vpcId"] for g in run.all("SecurityGroup")} == {NET_VPC}
    assert run.only("LoadBalancer").inputs["subnets"] == STATIC["nodeSubnetIds"]


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ({"networkStack": "network-prod"}, "wallarm-mirror:networkStack: 'network-prod' is not a stack reference"),
        ({"vpcId": VPC, "networkOutputs": '{"vpcId": "id"}'}, "networkOutputs: is set but networkStack is not"),
        ({"networkStack": NETWORK, "networkOutputs": '{"subnets": "x"}'}, "networkOutputs: maps subnets; it can map"),
        ({"networkStack": NETWORK, "networkOutputs": '{"vpcId": " "}'}, "gives vpcId an empty output name"),
        ({}, "wallarm-mirror:vpcId: required but not set"),
    ],
)
def test_network_keys_are_checked_with_the_rest_of_the_config(raw, said):
    base = {"albSubnetIds": json.dumps(SUBNETS), "mirrorSourceCidrs": '["10.0.16.0/20"]', "token": TOKEN}
    with pytest.raises(ConfigError) as refused:
        parse_stack_config({**base, **raw}, {"token"})
    assert any(said in problem for problem in refused.value.problems), refused.value.problems


def test_native_node_subnets_cannot_come_from_the_network_stack():
    raw = {"analyzer": "nativeNode", "networkStack": NETWORK, "networkOutputs": '{"nodeSubnetIds": "private"}'}
    with pytest.raises(ConfigError, match="maps nodeSubnetIds, but with analyzer nativeNode list them"):
        parse_stack_config({**raw, "token": TOKEN}, {"token"})


def test_the_component_refuses_the_programs_network_keys():
    import pulumi

    from wallarm_mirror import WallarmMirror

    def program() -> None:
        wrong: Any = {"network_stack": NETWORK, "token": TOKEN}  # untyped, as from YAML: the run-time check's case
        WallarmMirror("waf", wrong)

    with pytest.raises(pulumi.RunError, match=r"WallarmMirrorArgs\.network_stack: is a key of the program"):
        run_offline({"aws:region": "eu-west-1"}, stack="lib", program=program)


def test_the_example_stack_file_plans_with_the_network_stacks_ids():
    stack_file = read_stack_file(EXAMPLE, "wallarm-mirror", None)
    run = run_offline(
        {**stack_file.config, "wallarm-mirror:token": TOKEN}, ["token"], stack=stack_file.stack, facts=FACTS
    )
    assert [r.name for r in references(run)] == [NETWORK]
    assert run.only("LoadBalancer").inputs["subnets"] == APP_SUBNETS  # its networkOutputs mapping
    assert run.only("TargetGroup").inputs["vpcId"] == NET_VPC
    assert run.only("Group").inputs["minSize"] == 2
