"""The nativeNode warnings and descriptions read the right way round (issue 22, item 7)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.config.test_native_config import NATIVE
from wallarm_mirror.config import StackConfig, parse_stack_config
from wallarm_mirror.config.advice import NON_NITRO_SOURCES, UNSUPPORTED_SOURCE_FAMILIES, native_advice
from wallarm_mirror.config.checks import GRAVITON_FAMILY

ROOT = Path(__file__).resolve().parents[2]


def instance_type_warning(method: str = "auto") -> str:
    config = parse_stack_config({**NATIVE, "trafficMirrorMethod": method}, {"token"})
    [warning] = [w for w in native_advice(config) if "mirror source" in w]
    return warning


def test_the_warning_says_what_becomes_of_the_other_types_under_each_method() -> None:
    assert instance_type_warning("auto").endswith(
        "The host script copies tagged instances of the other types instead (trafficMirrorMethod auto; "
        "docs/host-mirroring.md)."
    )
    assert "the enrolment function logs and skips them" in instance_type_warning("aws")
    raw = {k: v for k, v in NATIVE.items() if k != "trafficMirrorSourceEniIds"}
    config = parse_stack_config(
        {**raw, "trafficMirrorSourceTags": '{"role": "web"}', "trafficMirrorMethod": "host"}, {"token"}
    )
    [host] = [w for w in native_advice(config) if "mirror source" in w]
    assert host.endswith("the host script copies every tagged instance, whatever its type.")


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
