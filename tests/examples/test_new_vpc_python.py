"""examples/new-vpc-python, run as Pulumi would run it, under the offline engine: the VPC's and
subnets' Outputs flow into the analyser unchanged, and the token stays secret everywhere."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
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


@pytest.fixture(scope="module")
def example_run() -> OfflineRun:
    """One run of the example for the tests that read it (a run is read-only once done)."""
    return run_example()


def test_the_subnets_the_program_creates_carry_the_alb_and_the_nodes(example_run: OfflineRun):
    run = example_run
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


def test_the_token_from_config_is_secret_in_every_resource(example_run: OfflineRun):
    run = example_run
    assert [r.name for r in run.resources if any(TOKEN in text for text in plain_texts(r.inputs))] == []
    assert rpc.is_rpc_secret(run.only("SecretVersion").inputs["secretString"])


def test_the_nodes_subnets_route_out_through_a_nat_gateway_in_a_public_subnet(example_run: OfflineRun):
    """The nodes fetch the token and reach Wallarm Cloud from their first boot: 0.0.0.0/0 leaves
    the private subnets through the NAT gateway, which sits in a public subnet routed to the
    internet gateway."""
    run = example_run
    nat = run.only("NatGateway")
    assert nat.inputs["subnetId"] == run.id_of("Subnet", "app-public-0")
    routes = {t.name: t.inputs["routes"] for t in run.all("RouteTable")}
    assert routes["app-private"] == [{"cidrBlock": "0.0.0.0/0", "natGatewayId": run.id_of("NatGateway", "app")}]
    assert routes["app-public"] == [{"cidrBlock": "0.0.0.0/0", "gatewayId": run.id_of("InternetGateway", "app")}]
    tables = {a.inputs["subnetId"]: a.inputs["routeTableId"] for a in run.all("RouteTableAssociation")}
    for index in range(2):
        assert tables[run.id_of("Subnet", f"app-private-{index}")] == run.id_of("RouteTable", "app-private")
        assert tables[run.id_of("Subnet", f"app-public-{index}")] == run.id_of("RouteTable", "app-public")
    # The node group is the nodes: it is created after the route out (depends_on on the component).
    assert set(run.only("Group").inputs["vpcZoneIdentifiers"]) == {
        run.id_of("Subnet", f"app-private-{i}") for i in range(2)
    }


def test_plan_program_prints_the_examples_plan_with_the_route_out(capsys):
    """`plan --program DIR` runs your own program under the offline engine: the same plan, warnings
    and JSON as for the stack program, with the config Pulumi.yaml declares."""
    from wallarm_mirror.__main__ import main

    assert main(["plan", "--program", str(EXAMPLE)]) == 0
    text = capsys.readouterr().out
    assert "+ aws:ec2/natGateway:NatGateway  app" in text
    assert f"{PROJECT}:wallarmToken is not set; the plan uses a redacted placeholder" in text
    assert main(["plan", "--program", str(EXAMPLE), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    types = {r["type"] for r in document["resources"]}
    assert {"aws:ec2/natGateway:NatGateway", "aws:lb/loadBalancer:LoadBalancer"} <= types
    assert document["project"] == PROJECT and document["outputs"]["asg_name"] == "waf-asg"
    assert "offline-redacted-secret" not in json.dumps(document)


def test_plan_program_refuses_what_it_cannot_run_with_a_sentence(tmp_path, capsys):
    from wallarm_mirror.__main__ import main

    (tmp_path / "Pulumi.yaml").write_text("name: ts-app\nruntime: nodejs\n")
    with pytest.raises(SystemExit) as stopped:
        main(["plan", "--program", str(tmp_path)])
    assert stopped.value.code == 2
    assert "has runtime 'nodejs': the offline plan runs Python programs only" in capsys.readouterr().err
    (tmp_path / "Pulumi.yaml").write_text("name: py-app\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("import pulumi\n\nvalue = {}['missing']\n")
    with pytest.raises(SystemExit):
        main(["plan", "--program", str(tmp_path)])
    error = capsys.readouterr().err
    assert "the program in" in error and "raised KeyError at" in error and "__main__.py:3" in error
    assert "Traceback" not in error
