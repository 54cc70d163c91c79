"""analyzer nativeSpoke (issue 23): a spoke's keys, its hub (hubStack or hubOutputs, exactly one), every
bad input refused by key with its sentence, and the keys of the analysers that run nodes refused on it."""

from __future__ import annotations

import json

import pytest

from wallarm_mirror.config import ConfigError, parse_stack_config
from wallarm_mirror.config.analyzers import FROM_HUB, NGINX_NODE_ONLY, NODE_KEYS, refused_keys
from wallarm_mirror.config.reference import analyser_fields
from wallarm_mirror.config.spoke_checks import HUB_OUTPUTS

TARGET = "tmt-0123456789abcdef0"
HUB = {
    "traffic_mirror_target_id": TARGET,
    "traffic_mirror_target_arn": f"arn:aws:ec2:eu-west-1:222222222222:traffic-mirror-target/{TARGET}",
    "nlb_dns_name": "hub-nlb-0123456789abcdef.elb.eu-west-1.amazonaws.com",
    "traffic_mirror_vni": 4242,
    "traffic_mirror_ports": [80],
    "mirror_source_cidrs": ["10.1.0.0/16", "10.2.0.0/16"],
}
SPOKE = {
    "analyzer": "nativeSpoke",
    "hubOutputs": json.dumps(HUB),
    "mirrorSourceCidrs": '["10.1.16.0/20"]',
    "trafficMirrorSourceTags": '{"role": "web"}',
}


def problems(raw: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        parse_stack_config(raw, {"token"})  # stored with --secret: only the analyser's rule speaks
    return refused.value.problems


def with_hub(**changes: object) -> dict[str, str]:
    return {**SPOKE, "hubOutputs": json.dumps({**HUB, **changes})}


def test_a_spoke_needs_no_token_vpc_or_nodes_and_keeps_the_hubs_values():
    config = parse_stack_config(SPOKE, set())
    assert config.spoke and not config.native
    assert config.token is None and config.vpc_id is None and config.node_subnet_ids is None
    assert config.hub_outputs == HUB
    assert config.traffic_mirror_method == "auto" and config.traffic_mirror_ipv6 is True


def test_a_spoke_may_name_its_hub_stack_instead():
    raw = {k: v for k, v in SPOKE.items() if k != "hubOutputs"} | {"hubStack": "acme/wallarm-mirror/hub"}
    config = parse_stack_config(raw, set())
    assert (config.hub_stack, config.hub_outputs) == ("acme/wallarm-mirror/hub", {})


def test_the_hubs_numbers_as_the_engine_passes_them_are_whole_numbers():
    # A StackReference (and JSON config) gives numbers as floats: 4242.0 is the VNI 4242.
    config = parse_stack_config(with_hub(traffic_mirror_vni=4242.0, traffic_mirror_ports=[80.0]), set())
    assert (config.hub_outputs["traffic_mirror_vni"], config.hub_outputs["traffic_mirror_ports"]) == (4242, [80])
    assert type(config.hub_outputs["traffic_mirror_vni"]) is int


def test_other_outputs_of_the_hub_are_ignored_so_its_whole_output_can_be_pasted():
    config = parse_stack_config(with_hub(asg_name="wallarm-mirror-asg", nlb_arn="arn:..."), set())
    assert config.hub_outputs["asg_name"] == "wallarm-mirror-asg"


def test_both_hub_stack_and_hub_outputs_are_refused():
    said = problems({**SPOKE, "hubStack": "acme/wallarm-mirror/hub"})
    assert len(said) == 1
    assert said[0].startswith(
        "wallarm-mirror:hubOutputs: and hubStack are both set; a spoke reads its hub from one: keep hubStack"
    )
    assert "Fix: keep one of wallarm-mirror:hubStack" in said[0]


def test_neither_hub_stack_nor_hub_outputs_is_refused():
    said = problems({k: v for k, v in SPOKE.items() if k != "hubOutputs"})
    assert said == [
        "wallarm-mirror:hubOutputs: is not set and neither is hubStack: a spoke enrols into a hub's analyser; set "
        "hubStack to the hub's stack (org/project/stack) or hubOutputs to its outputs (pulumi stack output --json) "
        "(the default, {}). Fix: keep one of wallarm-mirror:hubStack (pulumi config set wallarm-mirror:hubStack "
        "<org>/wallarm-mirror/<hub stack>) and wallarm-mirror:hubOutputs (the hub's `pulumi stack output --json`)"
    ]


def test_a_hub_stack_that_is_no_stack_reference_is_refused_alone():
    raw = {k: v for k, v in SPOKE.items() if k != "hubOutputs"} | {"hubStack": "hub"}
    said = problems(raw)
    assert len(said) == 1  # not also "neither is set"
    assert said[0].startswith("wallarm-mirror:hubStack: 'hub' is not a stack reference; write org/project/stack")


@pytest.mark.parametrize("missing", list(HUB_OUTPUTS))
def test_each_missing_hub_output_is_named(missing: str):
    hub = {k: v for k, v in HUB.items() if k != missing}
    said = problems({**SPOKE, "hubOutputs": json.dumps(hub)})
    assert len(said) == 1
    assert said[0].startswith(f"wallarm-mirror:hubOutputs: has no {missing} ({HUB_OUTPUTS[missing]}); give every")


@pytest.mark.parametrize(
    ("output", "value", "said"),
    [
        ("traffic_mirror_target_id", "tmf-0123456789abcdef0", "is not a traffic mirror target id"),
        ("traffic_mirror_target_arn", "arn:aws:ec2:eu-west-1:222222222222:instance/i-0", "is not a traffic mirror"),
        ("nlb_dns_name", "not a name!", "is not a DNS name"),
        ("traffic_mirror_vni", 16_777_216, "is not a VNI (an integer, 0-16777215)"),
        ("traffic_mirror_vni", True, "is not a VNI"),
        ("traffic_mirror_ports", [], "is not a non-empty list of TCP ports"),
        ("traffic_mirror_ports", [0], "is not a non-empty list of TCP ports"),
        ("mirror_source_cidrs", ["10.1.0.1/16"], "is not a non-empty list of CIDRs"),
        ("nlb_zone_addresses", {"eu-west-1a": "10.0.1.5"}, "is not a map of availability-zone IDs"),
        ("nlb_zone_addresses", {"euw1-az1": "hub"}, "is not a map of availability-zone IDs"),
    ],
)
def test_each_malformed_hub_output_is_named(output: str, value: object, said: str):
    found = problems(with_hub(**{output: value}))
    assert len(found) == 1
    assert found[0].startswith(f"wallarm-mirror:hubOutputs: {output} {value!r} {said}")


def test_zone_addresses_by_zone_id_are_accepted():
    config = parse_stack_config(with_hub(nlb_zone_addresses={"euw1-az1": "10.0.1.5"}), set())
    assert config.hub_outputs["nlb_zone_addresses"] == {"euw1-az1": "10.0.1.5"}


def test_a_target_arn_of_another_target_is_refused():
    other = "tmt-0fedcba9876543210"
    arn = f"arn:aws:ec2:eu-west-1:222222222222:traffic-mirror-target/{other}"
    said = problems(with_hub(traffic_mirror_target_arn=arn))
    assert said[0].startswith(
        f"wallarm-mirror:hubOutputs: traffic_mirror_target_arn names {other} but traffic_mirror_target_id is {TARGET}"
    )


def test_a_spoke_cidr_the_hub_does_not_accept_is_refused_naming_both():
    said = problems({**SPOKE, "mirrorSourceCidrs": '["10.1.16.0/20", "10.9.0.0/24", "10.0.0.0/8"]'})
    assert len(said) == 1
    assert said[0].startswith(
        "wallarm-mirror:mirrorSourceCidrs: 10.9.0.0/24, 10.0.0.0/8 lie outside the hub's mirror_source_cidrs "
        "(10.1.0.0/16, 10.2.0.0/16): the hub's nodes accept VXLAN only from those. Add this spoke's subnets to the "
        "hub stack's mirrorSourceCidrs first"
    )


def test_an_ipv6_spoke_cidr_needs_an_ipv6_hub_cidr():
    said = problems({**SPOKE, "mirrorSourceCidrs": '["2600:1f18::/64"]'})
    assert said[0].startswith("wallarm-mirror:mirrorSourceCidrs: 2600:1f18::/64 lies outside the hub's")
    config = parse_stack_config(
        {**with_hub(mirror_source_cidrs=["2600:1f18::/56"]), "mirrorSourceCidrs": '["2600:1f18::/64"]'}, set()
    )
    assert config.mirror_source_cidrs == ["2600:1f18::/64"]


def test_a_spoke_needs_its_own_source_cidrs():
    said = problems({k: v for k, v in SPOKE.items() if k != "mirrorSourceCidrs"})
    assert said[0].startswith("wallarm-mirror:mirrorSourceCidrs: is not set or empty")


def test_a_spoke_with_nothing_to_mirror_is_refused():
    said = problems({k: v for k, v in SPOKE.items() if k != "trafficMirrorSourceTags"})
    assert said[0].startswith("wallarm-mirror:trafficMirrorSourceTags: no traffic to mirror")


def test_host_mirroring_rules_hold_on_a_spoke_too():
    said = problems({**SPOKE, "trafficMirrorSourceTags": '{"a": "1", "b": "2"}', "trafficMirrorMethod": "host"})
    assert said[0].startswith("wallarm-mirror:trafficMirrorMethod: host reaches hosts through one State Manager")


def test_the_hubs_ports_must_fit_the_spokes_filter():
    said = problems(with_hub(traffic_mirror_ports=[80, 81, 82]))
    assert said[0].startswith(
        "wallarm-mirror:trafficMirrorIpv6: is true (the default) and the hub analyses 3 ports (80, 81, 82); a traffic "
        "mirror filter holds 10 rules"
    )
    config = parse_stack_config({**with_hub(traffic_mirror_ports=[80, 81, 82]), "trafficMirrorIpv6": "false"}, set())
    assert config.traffic_mirror_ipv6 is False
    said = problems({**with_hub(traffic_mirror_ports=[1, 2, 3, 4, 5, 6]), "trafficMirrorIpv6": "false"})
    assert said[0].startswith("wallarm-mirror:trafficMirrorIpv6: the hub analyses 6 ports; a traffic mirror filter")


@pytest.mark.parametrize(("key", "value"), [("trafficMirrorVni", "7"), ("trafficMirrorPorts", "[8080]")])
def test_vni_and_ports_come_from_the_hub(key: str, value: str):
    said = problems({**SPOKE, key: value})
    assert said == [
        f"wallarm-mirror:{key}: a spoke takes it from its hub: {FROM_HUB[key]}. "
        f"Fix: pulumi config rm wallarm-mirror:{key}"
    ]


@pytest.mark.parametrize(
    ("key", "value", "owners"),
    [
        ("token", "t", "nginxNode or nativeNode"),
        ("vpcId", "vpc-0123456789abcdef0", "nginxNode or nativeNode"),
        ("nodeSubnetIds", '["subnet-0123456789abcdef0"]', "nginxNode or nativeNode"),
        ("instanceType", "c5.large", "nginxNode or nativeNode"),
        ("minSize", "2", "nginxNode or nativeNode"),
        ("nodeGroup", "g", "nginxNode or nativeNode"),
        ("dashboardEnabled", "true", "nginxNode or nativeNode"),
        ("networkStack", "acme/network/prod", "nginxNode or nativeNode"),
        ("nativeNodeVersion", "0.25.12", "nativeNode"),
        ("trafficMirrorShareWith", '["123456789012"]', "nativeNode"),  # the hub's RAM share
        ("trafficMirrorShareExternal", "false", "nativeNode"),
        ("certificateArn", "arn:aws:acm:eu-west-1:111111111111:certificate/x", "nginxNode"),
        ("albSubnetIds", '["subnet-0123456789abcdef0"]', "nginxNode"),
    ],
)
def test_keys_of_nodes_nlb_token_and_web_tier_are_refused_on_a_spoke(key: str, value: str, owners: str):
    said = problems({**SPOKE, key: value})
    assert len(said) == 1
    assert said[0].startswith(f"wallarm-mirror:{key}: only applies when analyzer is {owners} (")
    assert said[0].endswith(f"this stack's analyzer is nativeSpoke. Fix: pulumi config rm wallarm-mirror:{key}")


@pytest.mark.parametrize("analyzer", ["nginxNode", "nativeNode"])
@pytest.mark.parametrize("key", ["hubStack", "hubOutputs"])
def test_the_spokes_own_keys_are_refused_elsewhere(analyzer: str, key: str):
    value = "acme/wallarm-mirror/hub" if key == "hubStack" else json.dumps(HUB)
    raw = {"analyzer": analyzer, "vpcId": "vpc-0123456789abcdef0", "token": "t", key: value}
    said = [p for p in problems(raw) if p.startswith(f"wallarm-mirror:{key}:")]
    assert said == [
        f"wallarm-mirror:{key}: only applies when analyzer is nativeSpoke (the hub a spoke enrols into); this "
        f"stack's analyzer is {analyzer}. Fix: pulumi config rm wallarm-mirror:{key}"
    ]


def test_the_spokes_traffic_mirror_keys_are_still_refused_on_an_nginx_stack():
    raw = {"vpcId": "vpc-0123456789abcdef0", "token": "t", "trafficMirrorSourceTags": '{"a": "b"}'}
    said = [p for p in problems(raw) if p.startswith("wallarm-mirror:trafficMirrorSourceTags:")]
    assert said[0].startswith(
        "wallarm-mirror:trafficMirrorSourceTags: only applies when analyzer is nativeNode or nativeSpoke ("
    )


def test_the_nodes_analysers_still_require_a_token():
    raw = {"analyzer": "nativeNode", "vpcId": "vpc-0123456789abcdef0", "mirrorSourceCidrs": '["10.0.0.0/16"]'}
    assert any(p.startswith("wallarm-mirror:token: required but not set") for p in problems(raw))


def test_the_spoke_args_are_exactly_the_spoke_keys():
    fields = set(analyser_fields("nativeSpoke"))
    assert fields == {
        "hub_outputs",
        "mirror_source_cidrs",
        "traffic_mirror_source_eni_ids",
        "traffic_mirror_source_tags",
        "traffic_mirror_method",
        "traffic_mirror_ipv6",
        "traffic_mirror_session_number",
        "traffic_mirror_enrolment_rate",
        "alarms_enabled",
        "alarm_topic_arn",
        "tags",
    }
    refused = refused_keys("nativeSpoke")
    assert set(NGINX_NODE_ONLY) | set(NODE_KEYS) <= refused and "hubOutputs" not in refused
