"""NginxAnalyser and NativeAnalyser (issue 21): one component per analyser, with only its own args
and outputs, building exactly what the WallarmMirror facade builds for that analyser."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from tests.components.test_schema import PACKAGE, component_provider
from tests.conftest import TOKEN
from wallarm_mirror import NativeAnalyser, NativeAnalyserArgs, NginxAnalyser, NginxAnalyserArgs, WallarmMirror
from wallarm_mirror.components.analysers import NATIVE_TYPE_TOKEN, NGINX_TYPE_TOKEN
from wallarm_mirror.components.stack import TYPE_TOKEN
from wallarm_mirror.config import StackConfig
from wallarm_mirror.config.analyzers import NATIVE_NODE_ONLY, NGINX_NODE_ONLY
from wallarm_mirror.offline.engine import OfflineRun, run_offline

CONFIG = {"aws:region": "eu-west-1"}
VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
NGINX = NginxAnalyserArgs(
    vpc_id=VPC,
    alb_subnet_ids=SUBNETS,
    mirror_source_cidrs=["10.0.16.0/20"],
    token=TOKEN,
    deletion_protection=False,
)
NATIVE = NativeAnalyserArgs(
    vpc_id=VPC,
    node_subnet_ids=SUBNETS,
    mirror_source_cidrs=["10.0.16.0/20"],
    node_group="g",
    traffic_mirror_source_eni_ids=["eni-0123456789abcdef0"],
    traffic_mirror_source_tags={"role": "web"},
    token=TOKEN,
)


def _run(build: Any) -> tuple[OfflineRun, Any]:
    made: dict[str, Any] = {}

    def program() -> None:
        made["component"] = build()

    return run_offline(CONFIG, stack="lib", program=program), made["component"]


def _shown(value: Any) -> Any:
    # An asset archive (the enrolment function's code) by its files' text or paths.
    assets = getattr(value, "assets", None)
    if isinstance(assets, dict):
        return {name: getattr(asset, "text", None) or getattr(asset, "path", None) for name, asset in assets.items()}
    return repr(value)


def _children(run: OfflineRun, root_type: str) -> dict[tuple[str, str], str]:
    """Every resource but the root component: (type, name) -> its inputs as JSON (secrets as markers)."""
    return {
        (r.typ, r.name): json.dumps(r.inputs, sort_keys=True, default=_shown)
        for r in run.resources
        if r.typ != root_type
    }


# What each analyser's run exports (its own outputs), and an output of the other analyser it must not have.
EXPORTED: dict[Any, tuple[str, ...]] = {
    NginxAnalyser: ("mirror_endpoint", "mirror_configs", "alb_dns_name", "asg_name", "alb_security_group_id"),
    NativeAnalyser: ("nlb_arn", "traffic_mirror_target_id", "traffic_mirror_session_ids", "enrolment_function_name"),
}
NOT_THERE = {NginxAnalyser: "nlb_arn", NativeAnalyser: "mirror_endpoint"}


AnalyserRun = Callable[[Any], OfflineRun]


@pytest.fixture(scope="module")
def analyser_run() -> AnalyserRun:
    """analyser_run(NginxAnalyser): one run of that analyser with its outputs exported, made on first
    use, for the tests that only read it (a run is read-only once done). Exports register no
    resource, so its children are what the component builds. Module-scoped, so the runs are freed
    once the module is done, not kept for the session's garbage collections to walk."""

    @functools.cache
    def run(component: Any) -> OfflineRun:
        args = {NginxAnalyser: NGINX, NativeAnalyser: NATIVE}[component]

        def build() -> Any:
            made = component("waf", dict(args))
            for key in EXPORTED[component]:
                pulumi.export(key, getattr(made, key))
            assert not hasattr(made, NOT_THERE[component])  # the other analyser's outputs are not there at all
            return made

        return _run(build)[0]

    return run


@pytest.mark.parametrize(
    ("component", "token", "args", "analyzer"),
    [(NginxAnalyser, NGINX_TYPE_TOKEN, NGINX, "nginxNode"), (NativeAnalyser, NATIVE_TYPE_TOKEN, NATIVE, "nativeNode")],
    ids=["nginx", "native"],
)
def test_it_builds_what_the_facade_builds_for_its_analyser(
    analyser_run: AnalyserRun, component: Any, token: str, args: dict, analyzer: str
):
    run = analyser_run(component)
    either: Any = {**args, "analyzer": analyzer}  # the facade's args: these plus the analyser
    facade, _ = _run(lambda: WallarmMirror("waf", either))
    mine, theirs = _children(run, token), _children(facade, TYPE_TOKEN)
    assert len(mine) > 15
    assert mine == theirs  # same children, names and inputs: only the root's type differs
    assert [r.name for r in run.resources if r.typ == token] == ["waf"]
    assert not [r for r in run.resources if r.typ == TYPE_TOKEN]


def test_the_nginx_analysers_outputs_are_never_none(analyser_run: AnalyserRun):
    resolved = analyser_run(NginxAnalyser).outputs
    assert set(resolved) == set(EXPORTED[NginxAnalyser])
    assert resolved["mirror_endpoint"].startswith("http://internal-waf-alb-")
    assert set(resolved["mirror_configs"]) == {"nginx", "envoy", "istio", "traefik"}
    assert all(value is not None for value in resolved.values()), resolved


def test_the_native_analysers_outputs_are_never_none(analyser_run: AnalyserRun):
    resolved = analyser_run(NativeAnalyser).outputs
    assert set(resolved) == set(EXPORTED[NativeAnalyser])
    assert all(value is not None for value in resolved.values()), resolved
    assert len(resolved["traffic_mirror_session_ids"]) == 1


@pytest.mark.parametrize(
    ("component", "args", "wrong", "name"),
    [
        (NginxAnalyser, NGINX, {"traffic_mirror_ports": [80]}, "NginxAnalyserArgs"),
        (NativeAnalyser, NATIVE, {"certificate_arn": "arn:aws:acm:eu-west-1:1:certificate/x"}, "NativeAnalyserArgs"),
        (NginxAnalyser, NGINX, {"analyzer": "nativeNode"}, "NginxAnalyserArgs"),
    ],
)
def test_a_key_of_the_other_analyser_is_refused_naming_this_components_args(component, args, wrong, name):
    mixed: Any = {**args, **wrong}  # untyped, as from YAML: what the run-time check is for
    with pytest.raises(pulumi.RunError) as refused:
        _run(lambda: component("waf", mixed))
    (key,) = wrong
    assert f"{name}.{key}:" in str(refused.value)


def test_each_schema_lists_only_its_analysers_inputs_each_with_a_description():
    text = component_provider().schema
    assert text is not None
    schema = json.loads(text)
    aliases = {name: info.alias or name for name, info in StackConfig.model_fields.items()}
    for token, other_only, own_only in (
        (f"{PACKAGE}:index:NginxAnalyser", NATIVE_NODE_ONLY, NGINX_NODE_ONLY),
        (f"{PACKAGE}:index:NativeAnalyser", NGINX_NODE_ONLY, NATIVE_NODE_ONLY),
    ):
        resource = schema["resources"][token]
        inputs = resource["inputProperties"]
        assert not set(inputs) & set(other_only), token
        assert set(own_only) <= set(inputs) and "analyzer" not in inputs
        assert all(spec.get("description") for spec in inputs.values()), token
        assert all(spec.get("description") for spec in resource["properties"].values()), token
        assert set(inputs) <= set(aliases.values())
    nginx = schema["resources"][f"{PACKAGE}:index:NginxAnalyser"]
    native = schema["resources"][f"{PACKAGE}:index:NativeAnalyser"]
    assert "mirrorEndpoint" in nginx["required"] and "nlbArn" not in nginx["properties"]
    assert "nlbArn" in native["required"] and "mirrorEndpoint" not in native["properties"]
    assert "tokenStoreArn" not in native["required"]  # None with tokenDelivery userData


def test_a_stack_moving_from_the_facade_keeps_its_resources_with_one_alias():
    """Same children and names (above), so aliasing the root's old type is all a move needs: the
    engine derives every child's old URN from its parent's aliases (see test_schema's alias tests)."""
    moved = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=TYPE_TOKEN)])
    run, _ = _run(lambda: NginxAnalyser("waf", NGINX, moved))
    (alias,) = run.mocks.aliases[(NGINX_TYPE_TOKEN, "waf")]
    assert alias["type"] == TYPE_TOKEN and alias.get("parentUrn", "") == ""
