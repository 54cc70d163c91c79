"""A hub (issue 23): a nativeNode stack whose traffic mirror target is shared through AWS RAM, and the
outputs a spoke stack reads (target ARN, NLB address per zone ID, VNI, ports, accepted CIDRs)."""

from __future__ import annotations

import ipaddress
import re

import pytest

from tests.components.test_native_stack import STATIC
from tests.conftest import NODE_SUBNETS
from wallarm_mirror.offline.engine import OfflineFacts, OfflineRun

ACCOUNT = "222222222222"
OU = "arn:aws:organizations::333333333333:ou/o-abcdefghij/ou-ab12-cdef3456"
HUB = {**STATIC, "mirrorSourceCidrs": ["10.0.16.0/20", "10.20.0.0/16"], "trafficMirrorShareWith": [ACCOUNT, OU]}


def ram(run: OfflineRun) -> list[str]:
    return sorted(r.typ for r in run.resources if r.typ.startswith("aws:ram/"))


def test_a_hub_plans_one_internal_share_of_its_target_with_exactly_the_listed_principals(run_stack):
    run = run_stack(HUB)
    share = run.only("ResourceShare")
    assert share.inputs["allowExternalPrincipals"] is False
    share_arn = run.state_of("ResourceShare", share.name)["arn"]
    assert re.fullmatch(r"arn:aws:ram:eu-west-1:111111111111:resource-share/[0-9a-f-]{36}", share_arn)
    target_arn = run.state_of("TrafficMirrorTarget", run.only("TrafficMirrorTarget").name)["arn"]
    association = run.only("ResourceAssociation").inputs
    assert (association["resourceArn"], association["resourceShareArn"]) == (target_arn, share_arn)
    principals = run.all("PrincipalAssociation")
    assert sorted(p.inputs["principal"] for p in principals) == sorted([ACCOUNT, OU])
    assert {p.inputs["resourceShareArn"] for p in principals} == {share_arn}
    assert ram(run) == [
        "aws:ram/principalAssociation:PrincipalAssociation",
        "aws:ram/principalAssociation:PrincipalAssociation",
        "aws:ram/resourceAssociation:ResourceAssociation",
        "aws:ram/resourceShare:ResourceShare",
    ]


def test_no_share_without_the_key(run_stack):
    assert ram(run_stack(STATIC)) == []


def test_external_principals_only_when_the_stack_says_so(run_stack):
    run = run_stack(HUB, trafficMirrorShareExternal=True)
    assert run.only("ResourceShare").inputs["allowExternalPrincipals"] is True


def test_each_principal_association_is_named_by_its_principal(run_stack):
    """Removing one principal renames (and so replaces) no other association."""
    both = {r.name for r in run_stack(HUB).all("PrincipalAssociation")}
    alone = {r.name for r in run_stack(HUB, trafficMirrorShareWith=[OU]).all("PrincipalAssociation")}
    assert len(both) == 2 and alone < both
    assert any("ou-o-abcdefghij-ou-ab12-cdef3456" in name for name in alone)


def test_the_share_belongs_to_the_hub_component(run_stack):
    run = run_stack(HUB)
    for kind in ("ResourceShare", "ResourceAssociation"):
        assert run.only(kind).parent == "wallarm:mirror:MirrorTargetShare::wallarm-mirror"


def test_sharing_with_the_stacks_own_account_is_refused(fresh_run_stack):
    with pytest.raises(
        Exception, match=r"trafficMirrorShareWith: lists 111111111111, the account this stack deploys to"
    ):
        fresh_run_stack(HUB, trafficMirrorShareWith=[ACCOUNT, "111111111111"])
    with pytest.raises(Exception, match=r"lists 999999999999, the account this stack deploys to"):
        fresh_run_stack(HUB, trafficMirrorShareWith=["999999999999"], facts=OfflineFacts(account="999999999999"))


def test_the_own_account_is_the_callers_and_asked_only_by_a_hub(run_stack):
    """The deploying identity owns the target; the VPC's ARN would name the VPC's owner (a shared VPC)."""
    identity = "aws:index/getCallerIdentity:getCallerIdentity"
    assert [token for token, _ in run_stack(HUB).mocks.calls].count(identity) == 1
    assert identity not in [token for token, _ in run_stack(STATIC).mocks.calls]


@pytest.mark.parametrize("region", ["eu-west-1", "ap-southeast-2"])
def test_the_hub_exports_what_a_spoke_reads_in_its_region(run_stack, region):
    run = run_stack(HUB, facts=OfflineFacts(region=region))
    out = run.outputs
    target_id = run.id_of("TrafficMirrorTarget", run.only("TrafficMirrorTarget").name)
    assert out["traffic_mirror_target_id"] == target_id
    assert out["traffic_mirror_target_arn"] == f"arn:aws:ec2:{region}:111111111111:traffic-mirror-target/{target_id}"
    assert out["traffic_mirror_vni"] == 4242
    assert out["traffic_mirror_ports"] == [80]
    assert out["mirror_source_cidrs"] == ["10.0.16.0/20", "10.20.0.0/16"]
    assert f".elb.{region}.amazonaws.com" in out["nlb_dns_name"]
    prefix = {"eu-west-1": "euw1", "ap-southeast-2": "apse2"}[region]
    addresses = out["nlb_zone_addresses"]
    # Zone IDs (euw1-az1), not names (eu-west-1a): one per NLB subnet, each an address of that subnet.
    assert sorted(addresses) == [f"{prefix}-az1", f"{prefix}-az2"]
    # Each address is in the NLB subnet of its zone (the stand-in answers of getSubnet).
    for subnet in NODE_SUBNETS[:2]:
        cidr, _, zone_id = run.mocks._subnet(subnet)
        assert ipaddress.ip_address(addresses[zone_id]) in cidr
    assert len(set(addresses.values())) == 2


def test_zone_addresses_come_from_the_nlb_nodes_interfaces_one_per_subnet(run_stack):
    run = run_stack(HUB)
    suffix = run.state_of("LoadBalancer", run.only("LoadBalancer").name)["arnSuffix"]
    lookups = [args for token, args in run.mocks.calls if token == "aws:ec2/getNetworkInterface:getNetworkInterface"]
    filters = sorted(tuple((f["name"], tuple(f["values"])) for f in lookup["filters"]) for lookup in lookups)
    assert filters == [
        (("description", (f"ELB {suffix}",)), ("subnet-id", (subnet,))) for subnet in sorted(NODE_SUBNETS[:2])
    ]


def test_every_native_stack_exports_the_hub_outputs(run_stack):
    """A stack that shares nothing still exports them: sharing can be added later without a new output."""
    out = run_stack(STATIC).outputs
    for key in (
        "traffic_mirror_target_arn",
        "nlb_zone_addresses",
        "traffic_mirror_vni",
        "traffic_mirror_ports",
        "mirror_source_cidrs",
    ):
        assert out[key], key
