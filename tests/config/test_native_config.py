"""The nativeNode keys: defaults, every bad value refused by key (exit 2 from the CLI), and the keys
of one analyser refused on the other."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.refused_plans import refused_plan
from wallarm_mirror.config import ConfigError, parse_stack_config
from wallarm_mirror.config.analyzers import NATIVE_NODE_ONLY, NGINX_NODE_ONLY

ROOT = Path(__file__).resolve().parents[2]
NATIVE = {
    "analyzer": "nativeNode",
    "vpcId": "vpc-0123456789abcdef0",
    "nodeSubnetIds": '["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]',
    "mirrorSourceCidrs": '["10.0.16.0/20"]',
    "nodeGroup": "aws-mirror",
    "trafficMirrorSourceEniIds": '["eni-0123456789abcdef0"]',
    "token": "wallarm-api-token",
}


def problems(raw: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        parse_stack_config(raw, {"token"})
    return refused.value.problems


def test_native_defaults():
    config = parse_stack_config(NATIVE, {"token"})
    assert config.native
    assert (config.native_node_version, config.traffic_mirror_ports) == ("0.25.12", [80])
    assert (config.traffic_mirror_vni, config.traffic_mirror_session_number) == (4242, 1)
    assert config.native_node_installer_sha256 is None and config.traffic_mirror_source_tags == {}
    assert config.nodes_subnets == ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]


def test_nginx_node_stays_the_default_and_still_requires_alb_subnets():
    said = problems({"vpcId": "vpc-0123456789abcdef0", "mirrorSourceCidrs": '["10.0.0.0/16"]', "token": "t"})
    assert said == [
        "wallarm-mirror:albSubnetIds: required but not set. Fix: pulumi config set --path "
        "'wallarm-mirror:albSubnetIds[0]' subnet-... (and [1], ...)"
    ]


def test_graviton_types_are_fine_for_the_native_node_only():
    assert parse_stack_config({**NATIVE, "instanceType": "c7g.large"}, {"token"}).instance_type == "c7g.large"
    nginx = {"vpcId": "vpc-0123456789abcdef0", "albSubnetIds": NATIVE["nodeSubnetIds"], "token": "t"}
    said = problems({**nginx, "mirrorSourceCidrs": '["10.0.0.0/16"]', "instanceType": "c7g.large"})
    assert said[0].startswith("wallarm-mirror:instanceType: c7g.large is an arm64 (Graviton) type")


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("analyzer", "native", "Input should be 'nginxNode', 'nativeNode' or 'nativeSpoke'"),
        ("nativeNodeVersion", "0.23.9", "is older than 0.24.0"),
        ("nativeNodeVersion", "latest", "is not a version like 0.25.5"),
        ("nativeNodeInstallerSha256", "A" * 64, "is not a SHA-256"),
        ("trafficMirrorSourceEniIds", '["eni-1"]', "is not a network interface id"),
        ("trafficMirrorSourceEniIds", '["eni-0123456789abcdef0", "eni-0123456789abcdef0"]', "more than once"),
        ("trafficMirrorSourceTags", '{"aws:cloudformation:stack-name": "x"}', "not starting with 'aws:'"),
        ("trafficMirrorSourceTags", '{"role": "' + "x" * 257 + '"}', "values at most 256"),
        ("trafficMirrorMethod", "both", "Input should be 'auto', 'aws' or 'host'"),
        ("trafficMirrorMethod", "host", "trafficMirrorSourceEniIds always get AWS sessions"),
        ("trafficMirrorPorts", "[]", "is empty"),
        ("trafficMirrorPorts", "[65536]", "is not a TCP port"),
        ("trafficMirrorPorts", "[80, 80]", "more than once"),
        ("trafficMirrorPorts", "[80, 8080, 8443]", "with trafficMirrorIpv6 (the default) each port takes four"),
        ("trafficMirrorIpv6", "maybe", "Input should be a valid boolean"),
        ("trafficMirrorPorts", "80", "Input should be a valid list"),
        ("trafficMirrorVni", "-1", "greater than or equal to 0"),
        ("trafficMirrorVni", "16777216", "less than or equal to 16777215"),
        ("trafficMirrorSessionNumber", "0", "greater than or equal to 1"),
        ("trafficMirrorSessionNumber", "32767", "less than or equal to 32766"),
        ("trafficMirrorEnrolmentRate", "0", "0 calls a second is outside (0, 5]"),
        ("trafficMirrorEnrolmentRate", "5.5", "5.5 calls a second is outside (0, 5]: EC2 refills its bucket"),
        ("trafficMirrorEnrolmentRate", "fast", "Input should be a valid number"),
        ("nodeSubnetIds", "[]", "is empty"),
    ],
)
def test_each_bad_native_value_is_refused_naming_its_key(key, value, said):
    found = problems({**NATIVE, key: value})
    assert len(found) == 1
    assert found[0].startswith(f"wallarm-mirror:{key}: ")
    assert said in found[0]


def test_the_port_limit_is_two_with_ipv6_and_five_with_ipv4_only():
    """10 rules per traffic mirror filter (AWS quotas): each port takes 2 per address family."""
    assert parse_stack_config({**NATIVE, "trafficMirrorPorts": "[80, 8080]"}, {"token"}).traffic_mirror_ipv6
    (said,) = problems({**NATIVE, "trafficMirrorPorts": "[80, 8080, 8443]"})
    assert said.startswith("wallarm-mirror:trafficMirrorPorts: lists 3 ports; a traffic mirror filter holds 10 rules")
    assert "so at most 2; list fewer ports, or set trafficMirrorIpv6 to false" in said
    assert "(two rules per port, at most 5)" in said

    ipv4_only = {**NATIVE, "trafficMirrorIpv6": "false"}
    five = parse_stack_config({**ipv4_only, "trafficMirrorPorts": "[80, 443, 3000, 8080, 8443]"}, {"token"})
    assert (five.traffic_mirror_ipv6, len(five.traffic_mirror_ports)) == (False, 5)
    (said,) = problems({**ipv4_only, "trafficMirrorPorts": "[1, 2, 3, 4, 5, 6]"})
    assert said.startswith("wallarm-mirror:trafficMirrorPorts: lists 6 ports;")
    assert "with IPv4 only each port takes two (TCP to and from it), so at most 5" in said


@pytest.mark.parametrize(
    ("missing", "said"),
    [
        ("nodeSubnetIds", "is required when analyzer is nativeNode"),
        ("nodeGroup", "is required when analyzer is nativeNode"),
        ("mirrorSourceCidrs", "list the subnets of the mirrored network interfaces"),
    ],
)
def test_what_a_native_stack_requires(missing, said):
    found = problems({k: v for k, v in NATIVE.items() if k != missing})
    assert found == [next(p for p in found if p.startswith(f"wallarm-mirror:{missing}: "))]
    assert said in found[0]


def test_a_native_stack_needs_something_to_mirror():
    raw = {k: v for k, v in NATIVE.items() if k != "trafficMirrorSourceEniIds"}
    (said,) = problems(raw)
    assert said.startswith("wallarm-mirror:trafficMirrorSourceTags: no traffic to mirror")
    assert parse_stack_config({**raw, "trafficMirrorSourceTags": '{"role": "web"}'}, {"token"}).native


@pytest.mark.parametrize("key", sorted(NGINX_NODE_ONLY))
def test_every_nginx_node_key_is_refused_on_a_native_stack(key):
    (said,) = problems({**NATIVE, key: "x"})
    assert said == (
        f"wallarm-mirror:{key}: only applies when analyzer is nginxNode ({NGINX_NODE_ONLY[key]}); this stack's "
        f"analyzer is nativeNode. Fix: pulumi config rm wallarm-mirror:{key}"
    )


@pytest.mark.parametrize("key", sorted(NATIVE_NODE_ONLY))
def test_every_native_node_key_is_refused_on_an_nginx_stack(key):
    nginx = {
        "vpcId": "vpc-0123456789abcdef0",
        "albSubnetIds": NATIVE["nodeSubnetIds"],
        "mirrorSourceCidrs": '["10.0.0.0/16"]',
        "token": "t",
    }
    (said,) = problems({**nginx, key: "1"})
    assert said.startswith(f"wallarm-mirror:{key}: only applies when analyzer is nativeNode")


def test_the_applicability_tables_name_real_keys_only():
    from wallarm_mirror.config.errors import aliases

    assert set(NGINX_NODE_ONLY) | set(NATIVE_NODE_ONLY) <= set(aliases())
    assert not set(NGINX_NODE_ONLY) & set(NATIVE_NODE_ONLY)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("trafficMirrorPorts", [0]),
        ("trafficMirrorVni", 16777216),
        ("trafficMirrorSessionNumber", 0),
        ("nativeNodeVersion", "0.1.0"),
        ("trafficMirrorSourceEniIds", ["i-0123"]),
        ("certificateArn", "arn:aws:acm:eu-west-1:123456789012:certificate/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"),
    ],
)
def test_plan_of_a_native_stack_with_a_bad_key_exits_2_naming_it(tmp_path, capsys, key, value):
    err = refused_plan(tmp_path, capsys, "native", {key: value})
    assert f"  - wallarm-mirror:{key}: " in err


@pytest.mark.parametrize("method", ["auto", "host"])
def test_host_mirroring_reaches_hosts_by_one_tag(method):
    raw = {k: v for k, v in NATIVE.items() if k != "trafficMirrorSourceEniIds"}
    two = {**raw, "trafficMirrorSourceTags": '{"role": "web", "tier": "front"}', "trafficMirrorMethod": method}
    (said,) = problems(two)
    assert said.startswith(
        f"wallarm-mirror:trafficMirrorMethod: {method} reaches hosts through one State Manager association, which "
        "selects instances by one tag, and trafficMirrorSourceTags has 2: keep one tag, or use aws"
    )
    assert parse_stack_config({**two, "trafficMirrorMethod": "aws"}, {"token"}).traffic_mirror_method == "aws"


def test_host_needs_source_tags():
    raw = {k: v for k, v in NATIVE.items() if k != "trafficMirrorSourceEniIds"}
    (said,) = problems({**raw, "trafficMirrorMethod": "host"})
    assert said.startswith("wallarm-mirror:trafficMirrorSourceTags: no traffic to mirror")


def test_the_method_defaults_to_auto_and_fixed_interfaces_stay_with_it():
    assert parse_stack_config(NATIVE, {"token"}).traffic_mirror_method == "auto"


def test_a_bad_method_exits_2_naming_the_key_without_a_traceback(tmp_path, capsys):
    err = refused_plan(tmp_path, capsys, "native", {"trafficMirrorMethod": "both"}, stack="bad")
    assert err.splitlines() == [
        "error: stack bad (Pulumi.bad.yaml): the stack config has 1 problem:",
        "  - wallarm-mirror:trafficMirrorMethod: Input should be 'auto', 'aws' or 'host' (got 'both'). "
        "Fix: pulumi config set wallarm-mirror:trafficMirrorMethod <value>",
    ]
