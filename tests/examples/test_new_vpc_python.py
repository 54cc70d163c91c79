"""examples/new-vpc-python, run as Pulumi would run it, under the offline engine: the VPC's and
subnets' Outputs flow into the analyser unchanged, and the token stays secret everywhere."""

from __future__ import annotations

import runpy
from pathlib import Path

import yaml
from pulumi.runtime import rpc

from tests.components.test_component_api import plain_texts
from tests.conftest import TOKEN
from wallarm_mirror.offline.engine import OfflineRun, run_offline

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "new-vpc-python"
PROJECT = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())["name"]


def run_example() -> OfflineRun:
    config = {"aws:region": "eu-west-1", f"{PROJECT}:wallarmToken": TOKEN}
    return run_offline(
        config,
        [f"{PROJECT}:wallarmToken"],
        stack="dev",
        project=PROJECT,
        program=lambda: runpy.run_path(str(EXAMPLE / "__main__.py")),
    )


def test_the_subnets_the_program_creates_carry_the_alb_and_the_nodes():
    run = run_example()
    vpc_id = run.id_of("Vpc", "app")
    subnets = [run.id_of("Subnet", f"app-private-{i}") for i in range(2)]
    assert [run.only_named("Subnet", f"app-private-{i}").inputs["availabilityZone"] for i in range(2)] == [
        "eu-west-1a",
        "eu-west-1b",
    ]
    assert run.only("LoadBalancer").inputs["subnets"] == subnets
    assert run.only("TargetGroup").inputs["vpcId"] == vpc_id
    assert {g.inputs["vpcId"] for g in run.all("SecurityGroup")} == {vpc_id}
    assert run.only("Group").inputs["vpcZoneIdentifiers"] == subnets
    assert run.outputs["vpc_id"] == vpc_id
    assert run.outputs["mirror_endpoint"].startswith("http://internal-waf-alb-")
    assert run.outputs["asg_name"] == "waf-asg"


def test_the_token_from_config_is_secret_in_every_resource():
    run = run_example()
    assert [r.name for r in run.resources if any(TOKEN in text for text in plain_texts(r.inputs))] == []
    assert rpc.is_rpc_secret(run.only("SecretVersion").inputs["secretString"])
