"""The hub's keys (issue 23): trafficMirrorShareWith and trafficMirrorShareExternal, each bad value refused
by key, and the principals RAM takes for a traffic mirror target accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.config.refused_plans import refused_plan
from tests.config.test_native_config import NATIVE, problems
from wallarm_mirror.config import parse_stack_config

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "222222222222"
OU = "arn:aws:organizations::333333333333:ou/o-abcdefghij/ou-ab12-cdef3456"
ORG = "arn:aws:organizations::333333333333:organization/o-abcdefghij"
OTHER_ORG_OU = "arn:aws:organizations::444444444444:ou/o-zyxwvutsrq/ou-zz99-abcdefgh"


def test_sharing_is_off_by_default_and_external_principals_refused():
    config = parse_stack_config(NATIVE, {"token"})
    assert (config.traffic_mirror_share_with, config.traffic_mirror_share_external) == ([], False)


@pytest.mark.parametrize(
    "principals",
    [
        [ACCOUNT],
        [OU],
        [ORG],
        [ACCOUNT, OU],
        [ORG, OU],
        ["arn:aws-us-gov:organizations::333333333333:organization/o-abcdefghij"],
    ],
)
def test_accounts_ous_and_the_organization_are_principals(principals):
    config = parse_stack_config({**NATIVE, "trafficMirrorShareWith": json.dumps(principals)}, {"token"})
    assert config.traffic_mirror_share_with == principals


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ('["12345678901"]', "'12345678901' is not a principal RAM shares a traffic mirror target with"),
        ('["1234567890123"]', "is not a principal"),
        ('["arn:aws:iam::123456789012:root"]', "is not a principal"),
        ('["arn:aws:iam::123456789012:role/spoke"]', "is not a principal"),
        ('["arn:aws:organizations::123456789012:ou/o-abcdefghij"]', "is not a principal"),
        ('["o-abcdefghij"]', "is not a principal"),
        (f'["{ACCOUNT}", "{ACCOUNT}"]', f"lists principal {ACCOUNT} more than once"),
        (f'["{OU}", "{OTHER_ORG_OU}"]', "names OUs or organizations of 2 organizations (o-abcdefghij, o-zyxwvutsrq)"),
        ('"222222222222"', "Input should be a valid list"),
    ],
)
def test_each_bad_principal_is_refused_naming_the_key(value, said):
    found = problems({**NATIVE, "trafficMirrorShareWith": value})
    assert len(found) == 1
    assert found[0].startswith("wallarm-mirror:trafficMirrorShareWith: ")
    assert said in found[0]


def test_the_fix_names_the_bad_item():
    found = problems({**NATIVE, "trafficMirrorShareWith": json.dumps([ACCOUNT, "nope"])})
    assert "'wallarm-mirror:trafficMirrorShareWith[1]'" in found[0]


@pytest.mark.parametrize("principals", [[], [OU], [ORG]])
def test_external_without_an_account_to_reach_is_refused(principals):
    found = problems({**NATIVE, "trafficMirrorShareWith": json.dumps(principals), "trafficMirrorShareExternal": "true"})
    assert len(found) == 1
    assert found[0].startswith(
        "wallarm-mirror:trafficMirrorShareExternal: is true, but trafficMirrorShareWith lists no account id"
    )


def test_external_with_an_account_is_taken():
    raw = {**NATIVE, "trafficMirrorShareWith": json.dumps([ACCOUNT, OU]), "trafficMirrorShareExternal": "true"}
    assert parse_stack_config(raw, {"token"}).traffic_mirror_share_external is True


@pytest.mark.parametrize(
    ("key", "value"), [("trafficMirrorShareWith", [ACCOUNT]), ("trafficMirrorShareExternal", False)]
)
def test_the_hub_keys_are_refused_on_an_nginx_stack(key, value):
    raw = {
        "vpcId": "vpc-0123456789abcdef0",
        "albSubnetIds": '["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]',
        "mirrorSourceCidrs": '["10.0.0.0/16"]',
        "token": "t",
        key: json.dumps(value),
    }
    found = problems(raw)
    assert [p for p in found if p.startswith(f"wallarm-mirror:{key}: only applies when analyzer is nativeNode")]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("trafficMirrorShareWith", ["12345"]),
        ("trafficMirrorShareWith", [OU, OTHER_ORG_OU]),
        ("trafficMirrorShareExternal", True),
    ],
)
def test_plan_of_a_hub_with_a_bad_share_exits_2_naming_it(tmp_path, capsys, key, value):
    changes = {"trafficMirrorShareWith": [OU]} if key == "trafficMirrorShareExternal" else {}
    err = refused_plan(tmp_path, capsys, "hub", {**changes, key: value})
    assert f"  - wallarm-mirror:{key}: " in err


def test_plan_of_a_hub_sharing_with_its_own_account_exits_2_naming_the_key(tmp_path, capsys):
    """The account is known once the VPC is read (the stand-in's account offline, the real one at deploy)."""
    err = refused_plan(tmp_path, capsys, "hub", {"trafficMirrorShareWith": [ACCOUNT, "111111111111"]}, stack="own")
    assert "wallarm-mirror:trafficMirrorShareWith: lists 111111111111, the account this stack deploys to" in err
