"""The component package: the schema the SDK's analyzer infers, the plugin entry point, the construct
path other languages take, and the aliases that keep a stack's resources when its type changes."""

from __future__ import annotations

import ast
import inspect
import itertools
import json
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import rpc
from pydantic import SecretStr

from tests.components.test_component_api import plain_texts
from tests.conftest import TOKEN, VPC
from wallarm_mirror import WallarmMirror, WallarmMirrorArgs
from wallarm_mirror.components.stack import TYPE_TOKEN
from wallarm_mirror.config import StackConfig
from wallarm_mirror.config.reference import OUTPUT_LISTS, OUTPUT_SCALARS
from wallarm_mirror.offline.engine import OfflineRun, run_offline
from wallarm_mirror.provider import (
    PACKAGE,
    PACKAGE_TYPE_TOKEN,
    component_provider,
    hosted,
    package_version,
    running_as_plugin,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIG = {"aws:region": "eu-west-1"}
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
# What a YAML or TypeScript program sends: camelCase names, numbers as floats (the wire has no int).
INPUTS: dict[str, Any] = {
    "vpcId": VPC,
    "albSubnetIds": SUBNETS,
    "mirrorSourceCidrs": ["10.0.16.0/20"],
    "token": TOKEN,
    "deletionProtection": False,
    "minSize": 1.0,
    "maxSize": 2.0,
}


@pytest.fixture(scope="module")
def provider() -> Any:
    return component_provider()


@pytest.fixture(scope="module")
def schema(provider: Any) -> dict[str, Any]:
    return json.loads(provider.schema)


@pytest.fixture(scope="module")
def resource(schema: dict[str, Any]) -> dict[str, Any]:
    return schema["resources"][PACKAGE_TYPE_TOKEN]


def args_fields() -> dict[str, Any]:
    return dict(WallarmMirrorArgs.__annotations__)  # in order; get_type_hints trips on Input's forward ref


def schema_type(annotation: Any) -> dict[str, Any]:
    """The schema type a model annotation must become (descriptions left out)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        return schema_type(inner)
    if annotation in (str, SecretStr) or origin is typing.Literal:
        return {"type": "string"}
    if annotation in (int, float, bool):
        return {"type": {int: "integer", float: "number", bool: "boolean"}[annotation]}
    if origin is list:
        return {"type": "array", "items": schema_type(args[0])}
    if origin is dict:
        value = {"$ref": "pulumi.json#/Any"} if args[1] is Any else schema_type(args[1])
        return {"type": "object", "additionalProperties": value}
    raise AssertionError(f"no schema type for {annotation!r}")


def without_descriptions(spec: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in spec.items() if k not in ("description", "plain")}
    return {k: without_descriptions(v) if isinstance(v, dict) else v for k, v in kept.items()}


# --- the schema --------------------------------------------------------------------------------


def test_the_package_serves_the_facade_and_one_component_per_analyser(schema, resource):
    assert schema["name"] == PACKAGE == "wallarm-mirror"
    assert schema["version"] == package_version() == "0.1.0"
    assert list(schema["resources"]) == [
        "wallarm-mirror:index:WallarmMirror",
        "wallarm-mirror:index:NginxAnalyser",
        "wallarm-mirror:index:NativeAnalyser",
        "wallarm-mirror:index:NativeSpoke",
    ]
    assert resource["isComponent"] is True
    assert resource["description"].startswith("Creates everything one analyser needs.")


def test_every_args_field_is_an_input_named_like_its_config_key_with_its_reference_text(resource):
    inputs = resource["inputProperties"]
    fields = StackConfig.model_fields
    assert list(inputs) == [fields[name].alias for name in args_fields()]
    for name in args_fields():
        info = fields[name]
        description = inputs[info.alias]["description"]
        assert description.startswith(info.description or "?"), name
        assert f"Config key: wallarm-mirror:{info.alias}" in description


def test_input_types_follow_the_model(resource):
    inputs = resource["inputProperties"]
    for name in args_fields():
        info = StackConfig.model_fields[name]
        assert without_descriptions(inputs[info.alias]) == schema_type(info.annotation), name


def test_required_inputs_are_the_vpc_and_the_token(resource):
    assert sorted(resource["requiredInputs"]) == ["token", "vpcId"]


def test_ids_and_the_token_take_outputs_and_everything_else_must_be_known_at_construction(resource):
    # `plain` in the schema is resolve.py's rule: switches and per-item lists decide which resources
    # exist, so other languages must pass them as plain values; ids, ARNs and text may be Outputs.
    inputs = resource["inputProperties"]
    takes_outputs = {StackConfig.model_fields[n].alias for n in OUTPUT_SCALARS | OUTPUT_LISTS}
    assert {key for key, spec in inputs.items() if not spec.get("plain")} == takes_outputs
    assert "plain" not in inputs["albSubnetIds"]["items"]  # a list of subnet Outputs, too


def test_every_typed_output_is_in_the_schema_with_its_docstring(resource):
    tree = ast.parse(inspect.getsource(WallarmMirror))
    (component,) = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    docstrings = {
        node.target.id: after.value.value
        for node, after in itertools.pairwise(component.body)
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and isinstance(after, ast.Expr)
        and isinstance(after.value, ast.Constant)
    }
    outputs = resource["properties"]
    hints = {k: v for k, v in inspect.get_annotations(WallarmMirror).items() if not k.startswith("_")}
    # Every output the program exports is a typed attribute too (YAML or TypeScript users have no other way).
    assert len(outputs) == len(hints) == 30
    to_alias = StackConfig.model_config.get("alias_generator")
    assert callable(to_alias)
    camel = {to_alias(name): name for name in hints}
    assert set(outputs) == set(camel)
    kinds = {
        "mirrorConfigs": "object",
        "launchTemplateVersion": "integer",
        "trafficMirrorSessionIds": "array",
        # What a spoke reads from a hub (issue 23).
        "nlbZoneAddresses": "object",
        "trafficMirrorVni": "integer",
        "trafficMirrorPorts": "array",
        "mirrorSourceCidrs": "array",
    }
    for key, spec in outputs.items():
        assert spec["type"] == kinds.get(key, "string") and spec["description"] == docstrings[camel[key]], key
    may_be_none = {key for key, name in camel.items() if type(None) in typing.get_args(typing.get_args(hints[name])[0])}
    assert set(resource["required"]) == set(outputs) - may_be_none


# --- the plugin ----------------------------------------------------------------------------------


def test_the_plugin_manifest_runs_the_repos_entry_point_with_the_programs_venv():
    plugin = yaml.safe_load((ROOT / "PulumiPlugin.yaml").read_text())
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert plugin["runtime"]["name"] == "python"
    assert plugin["runtime"]["options"] == project["runtime"]["options"]
    assert (ROOT / "__main__.py").is_file()  # what the language host runs: `python <dir> <engine>`


def test_under_an_engine_the_entry_point_runs_the_program_not_the_plugin():
    seen: list[bool] = []
    run_offline(CONFIG, stack="lib", program=lambda: seen.append(running_as_plugin()))
    assert seen == [False]


def test_started_as_a_plugin_the_entry_point_serves_the_schema(schema):
    # As the language host starts it: `python <plugin dir> <engine address>`, from another directory.
    import grpc
    from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

    plugin = subprocess.Popen(
        [sys.executable, str(ROOT), "127.0.0.1:9"],
        cwd="/",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert plugin.stdout is not None  # stdout=PIPE
        port = int(plugin.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            served = stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=30)
    finally:
        plugin.terminate()
        plugin.wait(timeout=30)
    assert json.loads(served.schema) == schema


# --- construct: what another language's program gets ---------------------------------------------


def construct(provider: Any, inputs: dict[str, Any], name: str = "waf") -> tuple[OfflineRun, dict[str, Any]]:
    result: dict[str, Any] = {}

    def program() -> None:
        with hosted():
            constructed = provider.construct(name, PACKAGE_TYPE_TOKEN, inputs, None)
        result["state"] = constructed.state

    run = run_offline(CONFIG, stack="lib", program=program)
    return run, result["state"]


@pytest.mark.parametrize("delivery", ["secretsManager", "ssm", "userData"])
def test_a_plain_string_token_through_construct_is_secret_in_every_child(provider, delivery):
    run, _ = construct(provider, {**INPUTS, "tokenDelivery": delivery})
    leaks = [r.name for r in run.resources if any(TOKEN in text for text in plain_texts(r.inputs))]
    assert leaks == []
    kind, key = {
        "secretsManager": ("SecretVersion", "secretString"),
        "ssm": ("Parameter", "value"),
        "userData": ("LaunchTemplate", "userData"),
    }[delivery]
    assert rpc.is_rpc_secret(run.only(kind).inputs[key])


@pytest.fixture(scope="module")
def constructed(provider: Any) -> tuple[OfflineRun, dict[str, Any]]:
    """construct(provider, INPUTS), once for the tests that only read it (a run is read-only once done)."""
    return construct(provider, INPUTS)


def test_construct_maps_camel_case_inputs_and_returns_the_typed_outputs(constructed):
    run, state = constructed
    assert run.only("LoadBalancer").inputs["subnets"] == SUBNETS
    group = run.only("Group").inputs
    assert (group["minSize"], group["maxSize"]) == (1, 2)
    endpoint = state["mirrorEndpoint"]
    assert isinstance(endpoint, pulumi.Output)
    assert {"mirrorEndpoint", "asgName", "targetGroupArn", "nodeRoleArn"} <= set(state)
    assert "nlbArn" not in state  # None outputs are left out: an nginxNode analyser has no NLB


def test_construct_refuses_a_bad_value_with_the_fields_sentence(provider):
    from pulumi.provider.server import ComponentInitError

    with pytest.raises(ComponentInitError, match=r"WallarmMirrorArgs\.max_size: is 2, below minSize 5"):
        construct(provider, {**INPUTS, "minSize": 5.0})


# --- aliases: the type token changes, the resources stay -----------------------------------------


def library_run(name: str = "waf") -> OfflineRun:
    def program() -> None:
        WallarmMirror(
            name,
            WallarmMirrorArgs(
                vpc_id=VPC,
                alb_subnet_ids=SUBNETS,
                mirror_source_cidrs=["10.0.16.0/20"],
                token=TOKEN,
                deletion_protection=False,
                min_size=1,
                max_size=2,
            ),
        )

    return run_offline(CONFIG, stack="lib", program=program)


@pytest.fixture(scope="module")
def library() -> OfflineRun:
    """library_run(), once for the tests that only read it."""
    return library_run()


def engine_urns(run: OfflineRun, alias_of_top: str | None = None) -> dict[tuple[str, str], str]:
    """The URN the real engine gives each resource, or with `alias_of_top`, the alias it derives.

    The mock monitor's URNs keep only the parent's last type; the engine's hold the whole chain of
    parent types. The alias rule is the engine's (stepGenerator.generateAliases and
    inheritedChildAlias): a child of an aliased parent is looked up under the parent's alias's
    type chain, with its own type and name.
    """
    parents = run.mocks.parents
    registered = {(r.typ, r.name) for r in run.resources}
    chains: dict[tuple[str, str], str] = {}

    def chain(key: tuple[str, str]) -> str:
        if key not in chains:
            parent_type, _, parent_name = parents[key].rpartition("::")
            parent = (parent_type, parent_name)
            if parent in registered:
                chains[key] = f"{chain(parent)}${key[0]}"
            else:  # the stack itself: no part of the URN
                chains[key] = alias_of_top if alias_of_top and key[0] == PACKAGE_TYPE_TOKEN else key[0]
        return chains[key]

    return {key: f"urn:pulumi:lib::wallarm-mirror::{chain(key)}::{key[1]}" for key in registered}


def test_hosted_the_component_registers_the_package_type_aliased_to_the_programs(constructed, library):
    run, _ = constructed
    (alias,) = run.mocks.aliases[(PACKAGE_TYPE_TOKEN, "waf")]
    # Only the type differs: same name, same parent (an empty parentUrn is the resource's own),
    # same project and stack.
    assert alias["type"] == TYPE_TOKEN
    assert set(alias) <= {"type", "parentUrn"} and alias.get("parentUrn", "") == ""
    # The children get nothing of ours: the engine derives theirs from the parent's. (pulumi_aws's own
    # aliases, e.g. of aws:lb types to their old elasticloadbalancingv2 names, are as in a program.)
    children = [(r.typ, r.name) for r in run.resources if r.typ != PACKAGE_TYPE_TOKEN]
    assert len(children) > 20
    assert {k: run.mocks.aliases[k] for k in children} == {k: library.mocks.aliases[k] for k in children}


def test_the_alias_finds_every_resource_a_program_built_under_its_old_urn(constructed, library):
    old = engine_urns(library)
    run, _ = constructed
    (alias,) = run.mocks.aliases[(PACKAGE_TYPE_TOKEN, "waf")]
    new = engine_urns(run)
    derived = engine_urns(run, alias_of_top=alias["type"])
    assert len(new) == len(old) > 20
    assert not set(new.values()) & set(old.values())  # without the alias: every resource replaced
    assert sorted(derived.values()) == sorted(old.values())  # with it: every one found again


def test_outside_the_package_the_component_keeps_its_type_and_sends_no_alias(library):
    run = library
    assert run.mocks.aliases[(TYPE_TOKEN, "waf")] == []
    assert not run.all(PACKAGE_TYPE_TOKEN)


def test_readme_args_table_is_the_one_the_cli_generates_and_names_every_schema_input(capsys, resource):
    from wallarm_mirror.__main__ import main

    assert main(["config-reference", "--args-table"]) == 0
    table = capsys.readouterr().out
    assert table in (ROOT / "docs" / "component.md").read_text(), (
        "docs/component.md args table is stale: paste python -m wallarm_mirror config-reference --args-table"
    )
    properties = [row.split("|")[2].strip(" `") for row in table.splitlines()[2:]]
    assert properties == list(resource["inputProperties"])
