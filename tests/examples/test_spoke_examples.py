"""Offline plans of a hub and two spokes (issue 23): the hub's plan outputs, written to a file, are the
spokes' `--stack-outputs org/wallarm-mirror/hub=FILE`; each spoke's function, policy, association,
filter and sessions carry the hub's target, NLB, ports and VNI, and a spoke plans nothing of a hub.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.components.test_spoke import NODE_TYPES
from wallarm_mirror.__main__ import main
from wallarm_mirror.config.spoke_checks import HUB_OUTPUTS
from wallarm_mirror.offline.engine import OfflineFacts, run_offline
from wallarm_mirror.offline.plan import read_stack_file
from wallarm_mirror.traffic_mirror import enrolment as code

ROOT = Path(__file__).resolve().parents[2]
SPOKES = ROOT / "examples" / "spoke"
HUB_FILE = ROOT / "Pulumi.hub.yaml"


def create_statement(policy: str) -> dict[str, Any]:
    """The statement that lets the enrolment function create sessions (target, filter, interfaces)."""
    [statement] = [
        s for s in json.loads(policy)["Statement"] if s["Sid"] == "CreateSessionFromAnyEniToOurTargetWithOurFilter"
    ]
    return statement


def plan_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["plan", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def hub_outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hub's outputs as a file, as `plan --json` (or `pulumi stack output --json`) gives them."""
    stack_file = read_stack_file(HUB_FILE, "wallarm-mirror", "hub")
    run = run_offline(stack_file.config, stack_file.secret_keys, stack="hub")
    outputs = dict(run.outputs)
    # The hub's plan exports the whole contract a spoke reads.
    assert set(HUB_OUTPUTS) <= set(outputs), set(HUB_OUTPUTS) - set(outputs)
    [target] = run.all("TrafficMirrorTarget")
    assert target.inputs["networkLoadBalancerArn"] == outputs["nlb_arn"]
    assert run.mocks.ids[(target.typ, target.name)] == outputs["traffic_mirror_target_id"]
    file = tmp_path_factory.mktemp("hub") / "hub-outputs.json"
    file.write_text(json.dumps(outputs))
    return file


@pytest.fixture(scope="module")
def hub(hub_outputs: Path) -> dict[str, Any]:
    return json.loads(hub_outputs.read_text())


@pytest.mark.parametrize("spoke", ["spoke-a", "spoke-b"])
def test_each_spoke_carries_the_hubs_target_nlb_ports_and_vni(
    spoke: str, hub_outputs: Path, hub: dict[str, Any], capsys: pytest.CaptureFixture[str]
):
    plan = plan_json(
        capsys,
        "--config-file",
        str(SPOKES / f"Pulumi.{spoke}.yaml"),
        "--stack-outputs",
        f"org/wallarm-mirror/hub={hub_outputs}",
    )
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in plan["resources"]:
        by_type.setdefault(resource["type"].rsplit(":", 1)[1], []).append(resource["inputs"])

    assert not {r["type"] for r in plan["resources"]} & NODE_TYPES
    [function] = by_type["Function"]
    assert function["environment"]["variables"][code.ENV_TARGET_ID] == hub["traffic_mirror_target_id"]
    assert function["environment"]["variables"][code.ENV_VNI] == str(hub["traffic_mirror_vni"])
    [policy] = by_type["RolePolicy"]
    assert hub["traffic_mirror_target_arn"] in create_statement(policy["policy"])["Resource"]
    for rule in by_type["TrafficMirrorFilterRule"]:
        ports = rule.get("destinationPortRange") or rule["sourcePortRange"]
        assert ports["fromPort"] in hub["traffic_mirror_ports"]
    assert len(by_type["TrafficMirrorFilterRule"]) == 2 * len(hub["traffic_mirror_ports"]) * (
        2 if spoke == "spoke-a" else 1  # spoke-b mirrors IPv4 only
    )
    for session in by_type.get("TrafficMirrorSession", []):
        assert session["trafficMirrorTargetId"] == hub["traffic_mirror_target_id"]
        assert session["virtualNetworkId"] == hub["traffic_mirror_vni"]
    if spoke == "spoke-a":  # auto: host mirroring to the hub's NLB
        [document] = by_type["Document"]
        assert hub["nlb_dns_name"] in document["content"]
        # ... and the hub NLB's address per zone ID, which a host in this account prefers (zone
        # names differ between accounts; IDs do not).
        zones = " ".join(f"{zone}={address}" for zone, address in sorted(hub["nlb_zone_addresses"].items()))
        assert hub["nlb_zone_addresses"] and f"ZONE_ADDRESSES='{zones}'" in document["content"]
        assert plan["outputs"]["hub_nlb_dns_name"] == hub["nlb_dns_name"]
    else:  # aws: sessions only, one of them static
        assert "Document" not in by_type and len(by_type["TrafficMirrorSession"]) == 1
    assert plan["outputs"]["hub_traffic_mirror_target_id"] == hub["traffic_mirror_target_id"]
    # The hub NLB's addresses by zone ID, for `status` on the spoke (empty from a hub without them).
    assert plan["outputs"]["hub_nlb_zone_addresses"] == hub.get("nlb_zone_addresses", {})


@pytest.mark.parametrize(("spoke", "account"), [("spoke-a", "222222222222"), ("spoke-b", "444444444444")])
def test_spokes_in_other_accounts_name_the_hubs_target_and_their_own_filter(
    spoke: str, account: str, hub: dict[str, Any]
):
    stack_file = read_stack_file(SPOKES / f"Pulumi.{spoke}.yaml", "wallarm-mirror", spoke)
    facts = OfflineFacts(account=account, stack_outputs={"org/wallarm-mirror/hub": hub})
    run = run_offline(stack_file.config, stack_file.secret_keys, stack=spoke, facts=facts)
    statement = create_statement(run.only("RolePolicy").inputs["policy"])
    assert statement["Resource"][0] == hub["traffic_mirror_target_arn"]
    assert ":111111111111:traffic-mirror-target/" in statement["Resource"][0]  # the hub's account
    assert statement["Resource"][1].startswith(f"arn:aws:ec2:eu-west-1:{account}:traffic-mirror-filter/tmf-")
    assert statement["Resource"][2] == f"arn:aws:ec2:eu-west-1:{account}:network-interface/*"
