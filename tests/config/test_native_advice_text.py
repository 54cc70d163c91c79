"""The nativeNode warnings and descriptions read the right way round (issue 22, item 7)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from wallarm_mirror.config import StackConfig, parse_stack_config
from wallarm_mirror.config.advice import NON_NITRO_SOURCES, UNSUPPORTED_SOURCE_FAMILIES, native_advice
from wallarm_mirror.config.checks import GRAVITON_FAMILY

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


def instance_type_warning() -> str:
    [warning] = [w for w in native_advice(parse_stack_config(NATIVE, {"token"})) if "mirror source" in w]
    return warning


def test_the_families_that_cannot_be_a_source_and_those_that_can_are_in_sentences_of_their_own() -> None:
    sentences = re.split(r"(?<=\.) ", instance_type_warning())
    cannot = [s for s in sentences if UNSUPPORTED_SOURCE_FAMILIES in s]
    can = [s for s in sentences if NON_NITRO_SOURCES in s]
    assert len(cannot) == 1 and cannot[0].startswith("Cannot be one: ")
    assert len(can) == 1 and "only these can: " in can[0]
    assert cannot != can  # two lists of opposite meaning never share a sentence
    assert "(" not in cannot[0] + can[0].replace("(not T2)", "")


def test_the_instance_type_description_allows_the_graviton_type_of_the_native_example() -> None:
    example = yaml.safe_load((ROOT / "Pulumi.native.yaml").read_text())["config"]["wallarm-mirror:instanceType"]
    assert GRAVITON_FAMILY.fullmatch(example.split(".")[0])  # c7g.large: arm64
    description = StackConfig.model_fields["instance_type"].description or ""
    assert "Graviton for nativeNode" in description and "x86_64 for nginxNode" in description
    assert "(x86_64)." not in description
