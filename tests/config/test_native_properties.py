"""Property: whatever the nativeNode keys hold, the program plans a safe Native Node stack or refuses
the config by key before any resource exists, without showing the token.

Each example sets every nativeNode key to a valid value, a broken one, or nothing, on top of a valid
native stack; the real program runs under the mock engine. 60 examples a run, in 2 shards that
pytest-xdist spreads over the cores (CONFIG_NATIVE_EXAMPLES=1000 for a deep run); derandomized, so a
failure replays as it is.
"""

from __future__ import annotations

import base64
import json
import os
import re
from typing import Any

import pulumi
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.conftest import TOKEN, as_pulumi_config
from wallarm_mirror.config import NAMESPACE, StackConfig
from wallarm_mirror.offline.engine import OfflineRun, run_offline, unwrap

EXAMPLES = int(os.environ.get("CONFIG_NATIVE_EXAMPLES", "60"))
SHARDS = 2
KEYS = {info.alias for info in StackConfig.model_fields.values()}
BASE: dict[str, Any] = {
    "analyzer": "nativeNode",
    "vpcId": "vpc-0123456789abcdef0",
    "nodeSubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
    "mirrorSourceCidrs": ["10.0.16.0/20"],
    "nodeGroup": "aws-mirror",
    "token": TOKEN,
}

# Whole strings over the alphabet rather than from_regex, which draws them a character at a time:
# the same sets (eni-[0-9a-f]{17}, [0-9a-f]{64}), a fraction of the draws.
HEX = "0123456789abcdef"
eni = st.text(HEX, min_size=17, max_size=17).map(lambda digits: "eni-" + digits)
junk = st.one_of(st.text(max_size=12), st.integers(-5, 70000), st.lists(st.integers(), max_size=3))
# Per key: a valid value, and a broken one.
KEY_VALUES: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "trafficMirrorSourceEniIds": (
        st.lists(eni, min_size=1, max_size=3, unique=True),
        st.lists(st.text(max_size=8), max_size=2) | junk,
    ),
    "trafficMirrorSourceTags": (
        st.dictionaries(st.sampled_from(["role", "tier", "team"]), st.text(max_size=5), min_size=1, max_size=2),
        st.dictionaries(st.sampled_from(["aws:x", ""]), st.text(max_size=5), min_size=1, max_size=2) | junk,
    ),
    "trafficMirrorPorts": (
        # Valid with or without IPv6 (at most 2 ports), broken with either (6 ports and more).
        st.lists(st.integers(1, 65535), min_size=1, max_size=2, unique=True),
        st.lists(st.integers(-1, 70000), min_size=6, max_size=7) | st.just([0]) | st.just([]) | junk,
    ),
    "trafficMirrorIpv6": (st.booleans(), st.sampled_from(["maybe", "2", [True]])),
    "trafficMirrorVni": (st.integers(0, 16_777_215), st.integers(16_777_216, 20_000_000) | st.integers(-3, -1) | junk),
    "trafficMirrorSessionNumber": (st.integers(1, 32_766), st.integers(32_767, 40_000) | st.just(0) | junk),
    "trafficMirrorEnrolmentRate": (
        st.floats(0.01, 5.0),
        st.floats(5.01, 100.0) | st.floats(-5.0, 0.0) | st.just("fast"),
    ),
    "nativeNodeVersion": (
        st.sampled_from(["0.24.0", "0.25.5", "1.0.0"]),
        st.sampled_from(["0.23.9", "0.25", "x"]) | junk,
    ),
    "nativeNodeInstallerSha256": (st.text(HEX, min_size=64, max_size=64), st.text(max_size=10) | junk),
    "instanceType": (
        st.sampled_from(["t3.medium", "c7g.large", "m5.xlarge"]),
        st.sampled_from(["m6g", "x", "T3.MEDIUM"]),
    ),
    "certificateArn": (
        st.nothing(),
        st.just("arn:aws:acm:eu-west-1:123456789012:certificate/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"),
    ),
}


# Built once: st.sampled_from of a list (unhashable) is built and validated anew at each call.
CHOICES = st.sampled_from(("valid", "valid", "valid", "valid", "absent", "absent", "broken"))


@st.composite
def native_stacks(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly valid keys (so that many examples plan), each broken or left out now and then."""
    values = dict(BASE)
    for key, (valid, broken) in KEY_VALUES.items():
        choice = draw(CHOICES)
        if choice == "valid" and valid is not st.nothing():
            values[key] = draw(valid)
        elif choice == "broken":
            values[key] = draw(broken)
    return values


def plan(values: dict[str, Any]) -> OfflineRun | str:
    raw = as_pulumi_config(values)
    try:
        return run_offline({**raw, "aws:region": "eu-west-1"}, ("token",), stack="prop")
    except pulumi.RunError as error:
        return str(error)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_native_config_plans_safely_or_is_refused_by_key(shard: int) -> None:
    @seed(shard)
    @settings(max_examples=EXAMPLES // SHARDS, deadline=None, suppress_health_check=list(HealthCheck))
    @given(native_stacks())
    def check(values: dict[str, Any]) -> None:
        one_native_config(values)

    check()


def one_native_config(values: dict[str, Any]) -> None:
    result = plan(values)
    if "certificateArn" in values:  # a key of the other analyser is never silently ignored
        assert (
            isinstance(result, str) and f"{NAMESPACE}:certificateArn: only applies when analyzer is nginxNode" in result
        )
    if not values.get("trafficMirrorSourceEniIds") and not values.get("trafficMirrorSourceTags"):
        assert isinstance(result, str), "a native stack with nothing to mirror must be refused"
    if isinstance(result, str):
        problems = [line for line in result.splitlines() if line.startswith("  - ")]
        assert problems, result
        for line in problems:
            key = re.match(rf"  - {NAMESPACE}:([A-Za-z0-9]+)", line)
            assert key and key.group(1) in KEYS, line
        assert TOKEN not in result
        return

    run = result
    nlb = run.only("LoadBalancer").inputs
    assert (nlb["loadBalancerType"], nlb["internal"]) == ("network", True)
    ports = values.get("trafficMirrorPorts", [80])
    families = 2 if values.get("trafficMirrorIpv6", True) else 1
    assert len(run.all("TrafficMirrorFilterRule")) == 2 * len(ports) * families
    assert sorted(s.inputs["networkInterfaceId"] for s in run.all("TrafficMirrorSession")) == sorted(
        values.get("trafficMirrorSourceEniIds", [])
    )
    assert bool(run.all("Function")) == bool(values.get("trafficMirrorSourceTags"))
    for rule in run.all("SecurityGroupIngressRule"):
        assert rule.inputs.get("cidrIpv4") != "0.0.0.0/0" and not rule.inputs["fromPort"] <= 22 <= rule.inputs["toPort"]
    script = base64.b64decode(unwrap(run.only("LaunchTemplate").inputs["userData"]))
    assert TOKEN.encode() not in script
    assert TOKEN not in json.dumps(
        [r.inputs for r in run.resources if r.typ != "aws:secretsmanager/secretVersion:SecretVersion"], default=str
    )
