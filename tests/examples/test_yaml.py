"""examples/yaml: its resource type and property names are the package schema's, and the resource,
run through the package's construct path under the offline engine, builds the analyser."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.runtime import rpc

from tests.components.test_component_api import plain_texts
from tests.conftest import SUBNETS, TOKEN, VPC
from wallarm_mirror.offline.engine import run_offline
from wallarm_mirror.provider import PACKAGE, component_provider, hosted

PROGRAM = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "yaml" / "Pulumi.yaml").read_text())
REFERENCE = re.compile(r"^\$\{([A-Za-z0-9_]+)(?:\.([A-Za-z0-9_]+))?\}$")
CONFIG = {"vpcId": VPC, "subnetIds": SUBNETS[:2], "wallarmToken": TOKEN}


@pytest.fixture(scope="module")
def provider() -> Any:
    return component_provider()


@pytest.fixture(scope="module")
def schema(provider: Any) -> dict[str, Any]:
    return json.loads(provider.schema)


def resolve(value: Any, values: dict[str, Any]) -> Any:
    """${name} and ${resource.property}, as Pulumi YAML resolves whole-value references."""
    if isinstance(value, str) and (found := REFERENCE.match(value)):
        name, prop = found.groups()
        return values[name][prop] if prop else values[name]
    if isinstance(value, dict):
        return {k: resolve(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, values) for v in value]
    return value


def test_the_yaml_uses_the_package_and_its_resource_type(schema):
    assert PACKAGE in PROGRAM["packages"]
    types = {spec["type"] for spec in PROGRAM["resources"].values()}
    assert types == {"wallarm-mirror:index:WallarmMirror"} and types <= set(schema["resources"])


def test_every_property_is_a_schema_input_and_every_required_one_is_set(schema):
    for name, spec in PROGRAM["resources"].items():
        inputs = schema["resources"][spec["type"]]
        assert set(spec["properties"]) <= set(inputs["inputProperties"]), name
        assert set(inputs["requiredInputs"]) <= set(spec["properties"]), name


def test_config_types_match_the_inputs_they_feed(schema):
    (spec,) = PROGRAM["resources"].values()
    inputs = schema["resources"][spec["type"]]["inputProperties"]
    for prop, value in spec["properties"].items():
        found = REFERENCE.match(value) if isinstance(value, str) else None
        if found and found.group(1) in PROGRAM["config"]:
            declared = PROGRAM["config"][found.group(1)]
            assert declared["type"] == inputs[prop]["type"], prop
            if declared["type"] == "array":
                assert declared["items"]["type"] == inputs[prop]["items"]["type"], prop
    assert PROGRAM["config"]["wallarmToken"]["secret"] is True


def test_outputs_name_schema_properties(schema):
    resources = PROGRAM["resources"]
    for name, value in PROGRAM["outputs"].items():
        match = REFERENCE.match(value)
        assert match, f"output {name} is not a ${{resource.property}} reference: {value}"
        resource, prop = match.groups()
        assert prop in schema["resources"][resources[resource]["type"]]["properties"], name


def test_the_yaml_resource_through_construct_builds_the_analyser_with_a_secret_token(provider):
    ((name, spec),) = PROGRAM["resources"].items()
    properties = resolve(spec["properties"], CONFIG)
    state: dict[str, Any] = {}

    def program() -> None:
        with hosted():
            state.update(provider.construct(name, spec["type"], properties, None).state)

    run = run_offline({"aws:region": "eu-west-1"}, stack="prod", program=program)
    assert run.only("LoadBalancer").inputs["subnets"] == SUBNETS[:2]
    assert run.only("Group").inputs["minSize"] == 2
    assert [r.name for r in run.resources if any(TOKEN in t for t in plain_texts(r.inputs))] == []
    assert rpc.is_rpc_secret(run.only("SecretVersion").inputs["secretString"])
    assert {"mirrorEndpoint", "albDnsName", "asgName"} <= set(state)
