"""The pack as Pulumi runs it: `python -u policy` serves the analyzer over gRPC; the tests are the engine.

This covers what calling `validate` directly does not: that `__main__.py` starts, what the pack
announces (names, mandatory level, config schema), that secrets arrive opened and numbers as
floats, and that policy config reaches the policies.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import rules
from conftest import Plans
from google.protobuf import empty_pb2, json_format, struct_pb2
from plans import FAKE_TOKEN, LAUNCH_TEMPLATE, Plan, mutated
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

PACK = Path(__file__).resolve().parents[1]
# The engine's marker of a secret value on the wire (pulumi/sdk/go/common/resource/properties.go).
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    # -u as Pulumi starts it: the pack prints its port without flushing.
    server = subprocess.Popen([sys.executable, "-u", str(PACK)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()


def analyze(stub: analyzer_pb2_grpc.AnalyzerStub, plan: Plan, resource: dict[str, Any], props: Any = None) -> list:
    properties = struct_pb2.Struct()
    properties.update(resource["inputs"] if props is None else props)
    request = analyzer_pb2.AnalyzeRequest(
        type=resource["type"], properties=properties, urn=plan.urn(resource), name=resource["name"]
    )
    return list(stub.Analyze(request).diagnostics)


def configure(stub: analyzer_pb2_grpc.AnalyzerStub, **properties: dict[str, Any]) -> None:
    """What the CLI sends: every policy's level (mandatory here) and the given properties."""
    config = {}
    for policy in rules.POLICIES:
        entry = analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.MANDATORY)
        entry.properties.update(properties.get(policy.name, {}))
        config[policy.name] = entry
    stub.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=config))


def test_pack_announces_its_policies_as_mandatory(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "wallarm-mirror"
    assert [p.name for p in info.policies] == [p.name for p in rules.POLICIES]
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}
    schema = {p.name: json_format.MessageToDict(p.configSchema.properties) for p in info.policies}
    assert schema["wallarm-mode-monitoring"]["allowBlockingModes"]["type"] == "boolean"


def test_served_pack_reports_a_mandatory_violation(analyzer: analyzer_pb2_grpc.AnalyzerStub, plans: Plans) -> None:
    configure(analyzer)
    alb = plans.dev.one("aws:lb/loadBalancer:LoadBalancer")
    assert analyze(analyzer, plans.dev, alb) == []
    (diagnostic,) = analyze(analyzer, plans.dev, alb, mutated(alb, "internal", False))
    assert diagnostic.policyName == "alb-internal"
    assert diagnostic.enforcementLevel == analyzer_pb2.MANDATORY
    assert "`internal` is False" in diagnostic.message


def test_served_pack_sees_secret_user_data_opened(analyzer: analyzer_pb2_grpc.AnalyzerStub, plans: Plans) -> None:
    configure(analyzer)
    template = plans.dev.one(LAUNCH_TEMPLATE)
    secret = mutated(template, "userData", {**SECRET_SIG, "value": plans.inline_user_data})
    (diagnostic,) = analyze(analyzer, plans.dev, template, secret)
    assert diagnostic.policyName == "no-token-in-user-data"
    assert FAKE_TOKEN not in diagnostic.message


def test_policy_config_reaches_the_policy(analyzer: analyzer_pb2_grpc.AnalyzerStub, plans: Plans) -> None:
    template = plans.v48_block.one(LAUNCH_TEMPLATE)
    configure(analyzer)
    assert [d.policyName for d in analyze(analyzer, plans.v48_block, template)] == ["wallarm-mode-monitoring"]
    configure(analyzer, **{"wallarm-mode-monitoring": {"allowBlockingModes": True}})
    assert analyze(analyzer, plans.v48_block, template) == []


def analyze_stack(
    stub: analyzer_pb2_grpc.AnalyzerStub,
    plan: Plan,
    props_of: dict[str, dict[str, Any]],
    depends: dict[str, dict[str, str]],
) -> list:
    """AnalyzeStack as the engine sends it in a first preview: inputs (`props_of` replaces some by name)
    and property dependencies (resource name -> {input: name of the resource it comes from})."""
    urn_of = {r["name"]: plan.urn(r) for r in plan.resources}
    resources = []
    for resource in plan.resources:
        properties = struct_pb2.Struct()
        properties.update(props_of.get(resource["name"], resource["inputs"]))
        dependencies = {
            key: analyzer_pb2.AnalyzerPropertyDependencies(urns=[urn_of[source]])
            for key, source in depends.get(resource["name"], {}).items()
        }
        resources.append(
            analyzer_pb2.AnalyzerResource(
                type=resource["type"],
                properties=properties,
                urn=urn_of[resource["name"]],
                name=resource["name"],
                propertyDependencies=dependencies,
            )
        )
    return list(stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources)).diagnostics)


def test_served_stack_policies_follow_property_dependencies(
    analyzer: analyzer_pb2_grpc.AnalyzerStub, plans: Plans
) -> None:
    # In a first preview the filter's and the target's ids are unknown: only the engine's property
    # dependencies say which filter a rule belongs to and which target a session sends to.
    configure(analyzer)
    plan = plans.native
    mirror_filter = plan.one("aws:ec2/trafficMirrorFilter:TrafficMirrorFilter")["name"]
    target = plan.one("aws:ec2/trafficMirrorTarget:TrafficMirrorTarget")["name"]
    session = plan.one("aws:ec2/trafficMirrorSession:TrafficMirrorSession")
    rule_names = [r["name"] for r in plan.all("aws:ec2/trafficMirrorFilterRule:TrafficMirrorFilterRule")]
    props_of = {
        name: mutated(
            plan.one("aws:ec2/trafficMirrorFilterRule:TrafficMirrorFilterRule", name),
            "trafficMirrorFilterId",
            UNKNOWN_STRING_VALUE,
        )
        for name in rule_names
    }
    depends = {name: {"trafficMirrorFilterId": mirror_filter} for name in rule_names}
    preview = {**props_of, session["name"]: mutated(session, "trafficMirrorTargetId", UNKNOWN_STRING_VALUE)}
    session_depends = {session["name"]: {"trafficMirrorTargetId": target}}
    assert analyze_stack(analyzer, plan, preview, {**depends, **session_depends}) == []

    # A session written with another target's literal id depends on nothing of this stack.
    foreign = {**props_of, session["name"]: mutated(session, "trafficMirrorTargetId", "tmt-0ffe1se")}
    (diagnostic,) = analyze_stack(analyzer, plan, foreign, depends)
    assert diagnostic.policyName == "traffic-mirror-session-own-target"
    assert diagnostic.enforcementLevel == analyzer_pb2.MANDATORY
    assert diagnostic.urn == plan.urn(session)
