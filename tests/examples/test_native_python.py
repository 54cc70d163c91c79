"""examples/native-python through `plan --program`: the network stack's outputs (a StackReference,
answered from --stack-outputs) reach the NLB, the nodes and the fixed mirror session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wallarm_mirror.__main__ import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "native-python"
OUTPUTS = EXAMPLE / "network-outputs.example.json"
NETWORK = json.loads(OUTPUTS.read_text())


def plan(capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    assert main(["plan", "--program", str(EXAMPLE), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_network_stacks_outputs_reach_the_nlb_the_nodes_and_the_session(capsys):
    document = plan(capsys, "--stack-outputs", f"acme/network/prod={OUTPUTS}")
    by_type: dict[str, list[dict]] = {}
    for resource in document["resources"]:
        by_type.setdefault(resource["type"].rsplit(":", 1)[1], []).append(resource)
    [nlb] = by_type["LoadBalancer"]
    assert nlb["inputs"]["loadBalancerType"] == "network" and nlb["inputs"]["internal"] is True
    assert nlb["inputs"]["subnets"] == NETWORK["privateSubnetIds"]
    [session] = by_type["TrafficMirrorSession"]
    assert session["inputs"]["networkInterfaceId"] == NETWORK["webEniId"]
    assert session["name"] == "native-session-eni-output-0"  # an Output item: named by position
    [group] = by_type["Group"]
    assert group["inputs"]["vpcZoneIdentifiers"] == NETWORK["privateSubnetIds"]
    assert by_type["Function"], "tagged instances are enrolled by the enrolment function"
    assert document["outputs"]["enrolment_function_name"]
    assert any("wallarmApiToken is not set" in w for w in document["warnings"])


def test_without_the_network_stacks_outputs_the_plan_says_how_to_give_them(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["plan", "--program", str(EXAMPLE)])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "raised KeyError" in error and "'webEniId'" in error
    assert "--stack-outputs org/project/stack=outputs.json" in error


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("acme/network/prod", "write it as org/project/stack=outputs.json"),
        ("acme/network/prod=/nonexistent.json", "cannot read /nonexistent.json"),
        (f"acme/network/prod={EXAMPLE / 'Pulumi.yaml'}", "is not JSON"),
    ],
)
def test_bad_stack_outputs_get_a_sentence(value: str, said: str, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["plan", "--program", str(EXAMPLE), "--stack-outputs", value])
    assert stopped.value.code == 2
    assert said in capsys.readouterr().err
