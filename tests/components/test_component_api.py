"""WallarmMirror as a library: Output-valued args from the same program, the same rules and sentences
(at construction when known, at resolution when not), a token that stays secret, typed outputs."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any, cast

import pulumi
import pytest
from pulumi.runtime import rpc

from tests.conftest import DEV, TOKEN
from wallarm_mirror import WallarmMirror, WallarmMirrorArgs
from wallarm_mirror.offline.engine import OfflineRun, run_offline

CONFIG = {"aws:region": "eu-west-1"}


def network() -> tuple[Any, list[Any]]:
    import pulumi_aws as aws

    vpc = aws.ec2.Vpc("net", cidr_block="10.0.0.0/16")
    subnets = [
        aws.ec2.Subnet(
            f"private-{zone}", vpc_id=vpc.id, cidr_block=f"10.0.{i}.0/24", availability_zone=f"eu-west-1{zone}"
        )
        for i, zone in enumerate("ab")
    ]
    return vpc, subnets


def run(make_args: Callable[[Any, list[Any]], WallarmMirrorArgs], *, stack: str = "lib") -> OfflineRun:
    def program() -> None:
        vpc, subnets = network()
        mirror = WallarmMirror("waf", make_args(vpc, subnets))
        pulumi.export("mirror_endpoint", mirror.mirror_endpoint)
        pulumi.export("asg_name", mirror.asg_name)
        pulumi.export("nlb_arn", mirror.nlb_arn)

    return run_offline(CONFIG, stack=stack, program=program)


def nginx_args(vpc: Any, subnets: list[Any], **more: Any) -> WallarmMirrorArgs:
    args = WallarmMirrorArgs(
        vpc_id=vpc.id,
        alb_subnet_ids=[s.id for s in subnets],
        mirror_source_cidrs=["10.0.16.0/20"],
        token=TOKEN,
        deletion_protection=False,
    )
    # `more` holds the args a test varies, by their names: a test of the types is tests/typing.
    return cast(WallarmMirrorArgs, {**args, **more})


@pytest.fixture(scope="module")
def nginx_run() -> OfflineRun:
    """run(nginx_args), once for the tests that only read it."""
    return run(nginx_args)


def test_output_valued_ids_flow_into_alb_target_group_security_groups_and_asg(nginx_run: OfflineRun):
    result = nginx_run
    vpc_id = result.id_of("Vpc", "net")
    subnet_ids = [result.id_of("Subnet", f"private-{zone}") for zone in "ab"]
    assert vpc_id.startswith("vpc-") and all(s.startswith("subnet-") for s in subnet_ids)
    assert result.only("LoadBalancer").inputs["subnets"] == subnet_ids
    assert result.only("TargetGroup").inputs["vpcId"] == vpc_id
    assert {g.inputs["vpcId"] for g in result.all("SecurityGroup")} == {vpc_id}
    assert result.only("Group").inputs["vpcZoneIdentifiers"] == subnet_ids
    assert ("aws:ec2/getVpc:getVpc", {"id": vpc_id}) in [(t, {"id": a.get("id")}) for t, a in result.mocks.calls]


def test_typed_outputs_are_the_component_attributes(nginx_run: OfflineRun):
    result = nginx_run
    assert result.outputs["mirror_endpoint"].startswith("http://internal-waf-alb-")
    assert result.outputs["asg_name"] == "waf-asg"
    assert result.outputs["nlb_arn"] is None  # an nginxNode analyser has no NLB


def test_a_whole_subnet_list_may_be_an_output():
    result = run(
        lambda vpc, subnets: nginx_args(vpc, subnets) | {"alb_subnet_ids": pulumi.Output.all(*(s.id for s in subnets))}
    )
    assert len(result.only("LoadBalancer").inputs["subnets"]) == 2


def test_a_known_bad_value_raises_before_any_child_resource_naming_the_field():
    registered: list[str] = []

    def program() -> None:
        vpc, subnets = network()
        registered.append("network")
        WallarmMirror("waf", nginx_args(vpc, subnets) | {"vpc_id": "vpc-1", "min_size": 5, "max_size": 2})

    with pytest.raises(pulumi.RunError) as refused:
        run_offline(CONFIG, stack="lib", program=program)
    message = str(refused.value)
    assert "WallarmMirrorArgs.vpc_id: 'vpc-1' is not a VPC id (vpc- and 8 or 17 hex digits) (got 'vpc-1')" in message
    assert "WallarmMirrorArgs.max_size: is 2, below minSize 5" in message
    assert "pulumi config" not in message  # a library caller has no stack config to set


def test_the_refusal_registers_nothing_of_the_component(monkeypatch):
    from wallarm_mirror.offline import engine

    seen: list[str] = []
    original = engine.RecordingMocks.new_resource

    def recording(self: Any, args: Any) -> Any:
        seen.append(args.typ)
        return original(self, args)

    monkeypatch.setattr(engine.RecordingMocks, "new_resource", recording)

    def program() -> None:
        WallarmMirror("waf", {"vpc_id": "vpc-0123456789abcdef0", "token": TOKEN})  # no ALB subnets

    with pytest.raises(pulumi.RunError, match=r"WallarmMirrorArgs\.alb_subnet_ids: required but not set"):
        run_offline(CONFIG, stack="lib", program=program)
    assert seen == []


def test_an_output_valued_bad_id_is_refused_when_it_resolves_with_the_fields_sentence():
    with pytest.raises(Exception, match=r"WallarmMirrorArgs\.vpc_id: 'vpc-123' is not a VPC id"):
        run(lambda vpc, subnets: nginx_args(vpc, subnets) | {"vpc_id": pulumi.Output.from_input("vpc-123")})


def test_an_output_subnet_list_with_one_subnet_is_refused_when_it_resolves():
    with pytest.raises(Exception, match=r"WallarmMirrorArgs\.alb_subnet_ids: has 1 subnet; an ALB needs at least 2"):
        run(lambda vpc, subnets: nginx_args(vpc, subnets) | {"alb_subnet_ids": pulumi.Output.all(subnets[0].id)})


def test_native_node_subnets_must_be_a_list_at_construction():
    def make(vpc: Any, subnets: list[Any]) -> WallarmMirrorArgs:
        return {
            "analyzer": "nativeNode",
            "vpc_id": vpc.id,
            "node_subnet_ids": pulumi.Output.all(*(s.id for s in subnets)),
            "mirror_source_cidrs": ["10.0.16.0/20"],
            "node_group": "g",
            "traffic_mirror_source_eni_ids": ["eni-0123456789abcdef0"],
            "token": TOKEN,
        }

    with pytest.raises(
        pulumi.RunError, match=r"WallarmMirrorArgs\.node_subnet_ids: is an Output; with analyzer nativeNode"
    ):
        run(make)


@pytest.fixture(scope="module")
def native_run() -> OfflineRun:
    """A nativeNode analyser whose subnet list and interface list hold Outputs of the same program,
    once for the tests that only read it."""

    def make(vpc: Any, subnets: list[Any]) -> WallarmMirrorArgs:
        import pulumi_aws as aws

        eni = aws.ec2.NetworkInterface("web-eni", subnet_id=subnets[0].id)
        return WallarmMirrorArgs(
            analyzer="nativeNode",
            vpc_id=vpc.id,
            node_subnet_ids=[s.id for s in subnets],
            mirror_source_cidrs=["10.0.16.0/20"],
            node_group="g",
            traffic_mirror_source_eni_ids=[eni.id],
            token=TOKEN,
        )

    return run(make)


def test_native_node_subnets_may_hold_outputs(native_run: OfflineRun):
    result = native_run
    subnet_ids = [result.id_of("Subnet", f"private-{zone}") for zone in "ab"]
    assert result.only("LoadBalancer").inputs["subnets"] == subnet_ids
    assert result.outputs["nlb_arn"].endswith("loadbalancer/net/waf-nlb/0123456789abcdef")
    assert sorted(r.name for r in result.all("SecurityGroupIngressRule") if r.inputs["ipProtocol"] == "tcp") == [
        "waf-node-sg-health-from-subnet-0",
        "waf-node-sg-health-from-subnet-1",
    ]


def plain_texts(value: Any) -> list[str]:
    """Every string of an input that is not inside a secret."""
    if rpc.is_rpc_secret(value):
        return []
    if isinstance(value, dict):
        return [s for v in value.values() for s in plain_texts(v)]
    if isinstance(value, list):
        return [s for v in value for s in plain_texts(v)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("given_as", ["plain string", "secret Output", "plain Output"])
@pytest.mark.parametrize("delivery", ["secretsManager", "ssm", "userData"])
def test_the_token_is_secret_in_every_child_whatever_the_caller_passes(given_as, delivery):
    token: Any = {
        "plain string": TOKEN,
        "secret Output": pulumi.Output.secret(TOKEN),
        "plain Output": pulumi.Output.from_input(TOKEN),
    }[given_as]
    result = run(lambda vpc, subnets: nginx_args(vpc, subnets, token_delivery=delivery) | {"token": token})
    leaks = [r.name for r in result.resources if any(TOKEN in text for text in plain_texts(r.inputs))]
    assert leaks == []
    holders = {
        "secretsManager": ("SecretVersion", "secretString"),
        "ssm": ("Parameter", "value"),
        "userData": ("LaunchTemplate", "userData"),
    }[delivery]
    held = result.only(holders[0]).inputs[holders[1]]
    assert rpc.is_rpc_secret(held)
    assert TOKEN in json.dumps(rpc.unwrap_rpc_secret(held)) or delivery == "userData"


@pytest.mark.parametrize("token", [TOKEN, "output"])
def test_resolve_args_makes_the_token_secret_whatever_the_caller_passes(token):
    import asyncio

    from wallarm_mirror.components.resolve import resolve_args

    seen: dict[str, Any] = {}

    def program() -> Any:
        given = pulumi.Output.from_input(TOKEN) if token == "output" else token
        resolved = resolve_args(
            {
                "vpc_id": "vpc-0123456789abcdef0",
                "alb_subnet_ids": ["subnet-01234567", "subnet-89abcdef"],
                "mirror_source_cidrs": ["10.0.0.0/16"],
                "token": given,
            }
        )

        async def check() -> None:
            seen["value"] = await resolved.token.future()
            seen["secret"] = await resolved.token.is_secret()

        return asyncio.ensure_future(check())

    run_offline(CONFIG, stack="lib", program=program)
    assert seen == {"value": TOKEN, "secret": True}


def test_every_output_the_program_exports_is_a_typed_attribute(run_stack):
    import inspect

    from tests.components.test_native_stack import STATIC, TAGGED
    from tests.conftest import DEV, PROD

    attributes = set(inspect.get_annotations(WallarmMirror))
    for config in (DEV, PROD, STATIC, TAGGED):
        assert set(run_stack(config).outputs) <= attributes
    prod = run_stack(PROD, dashboardEnabled=True, createAccessLogsBucket=True)
    assert set(prod.outputs) <= attributes and {"dashboard_name", "access_logs_bucket"} <= set(prod.outputs)


# --- lists with one resource per item: the list known, its items Outputs (issue 21) ------------


def _web_tier() -> Any:
    import pulumi_aws as aws

    return aws.ec2.SecurityGroup("web", vpc_id="vpc-0123456789abcdef0", description="the web tier")


@pytest.fixture(scope="module")
def output_items_run() -> OfflineRun:
    """An nginxNode analyser given Output items in its lists of source security groups (beside a known
    one) and of extra policies, once for the tests that only read it."""

    def make(vpc: Any, subnets: list[Any]) -> WallarmMirrorArgs:
        import pulumi_aws as aws

        web = _web_tier()
        policy = aws.iam.Policy("extra", policy=json.dumps({"Version": "2012-10-17", "Statement": []}))
        return nginx_args(
            vpc,
            subnets,
            mirror_source_security_group_ids=[web.id, "sg-0123456789abcdef0"],
            extra_policy_arns=[policy.arn],
        )

    return run(make)


def test_output_security_group_ids_of_the_web_tier_become_alb_ingress_rules(output_items_run: OfflineRun):
    result = output_items_run
    web_id = result.id_of("SecurityGroup", "web")
    rules = {r.name: r.inputs for r in result.all("SecurityGroupIngressRule")}
    # The Output item is named by its position (its value is unknown when the program runs), the
    # known one by its value, as a stack file's ids always are.
    assert rules["waf-alb-sg-from-sg-output-0"]["referencedSecurityGroupId"] == web_id
    assert rules["waf-alb-sg-from-sg-0123456789abcdef0"]["referencedSecurityGroupId"] == "sg-0123456789abcdef0"
    assert rules["waf-alb-sg-from-sg-output-0"]["description"] == f"mirrored traffic from {web_id}"


def test_output_policy_arns_are_attached_to_the_node_role(output_items_run: OfflineRun):
    result = output_items_run
    attached = [a.inputs["policyArn"] for a in result.all("RolePolicyAttachment")]
    assert result.state_of("Policy", "extra")["arn"] in attached


def test_output_interface_ids_get_a_traffic_mirror_session_each(native_run: OfflineRun):
    result = native_run
    [session] = result.all("TrafficMirrorSession")
    assert session.name == "waf-session-eni-output-0"
    assert session.inputs["networkInterfaceId"] == result.id_of("NetworkInterface", "web-eni")


@pytest.mark.parametrize(
    ("key", "what"),
    [
        ("mirror_source_security_group_ids", "an ALB ingress rule"),
        ("extra_policy_arns", "a role policy attachment"),
        ("traffic_mirror_source_eni_ids", "a traffic mirror session"),
    ],
)
def test_a_whole_item_list_as_an_output_is_refused_with_its_sentence(key: str, what: str):
    def make(vpc: Any, subnets: list[Any]) -> WallarmMirrorArgs:
        return nginx_args(vpc, subnets, **{key: pulumi.Output.from_input(["x"])})

    with pytest.raises(pulumi.RunError) as refused:
        run(make)
    assert (
        f"WallarmMirrorArgs.{key}: is an Output; pass a list (its items may be Outputs): each item gets {what}"
        in str(refused.value)
    )


def test_an_output_item_that_resolves_to_a_bad_id_is_refused_with_the_fields_sentence():
    with pytest.raises(Exception, match=r"WallarmMirrorArgs\.mirror_source_security_group_ids: .*'web-sg'"):
        run(
            lambda vpc, subnets: nginx_args(
                vpc, subnets, mirror_source_security_group_ids=[pulumi.Output.from_input("web-sg")]
            )
        )


# --- the component's own advice (issue 21) ---------------------------------------------------------


def test_a_prod_stack_built_through_the_component_warns_once_per_unwise_setting():
    certificate = "arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-0000-0000-000000000000"

    def make(vpc: Any, subnets: list[Any]) -> WallarmMirrorArgs:
        return nginx_args(
            vpc, subnets, token_delivery="userData", mode="block", certificate_arn=certificate, min_size=2,
            desired_capacity=2,
        )  # fmt: skip

    result = run(make, stack="prod")
    warnings = result.warnings
    expected = (
        "wallarm-mirror:tokenDelivery is userData",
        "wallarm-mirror:mode is block",
        "endpointHostname is not set",
    )
    for start in expected:
        found = [w for w in warnings if start in w]
        assert len(found) == 1, (start, warnings)


def test_the_stack_program_prints_each_warning_once(run_stack):
    run = run_stack(DEV, mode="block")
    assert len([w for w in run.warnings if "wallarm-mirror:mode is block" in w]) == 1


@pytest.mark.parametrize("key", ["server_snippet", "http_snippet", "global_snippet", "post_script"])
def test_a_boot_text_given_as_a_plain_output_keeps_the_user_data_secret(key: str):
    """An Output snippet may come from anywhere (a secret store, another stack): the user data that
    holds it is secret whatever the Output's own flag, and the text does reach the script."""
    text = "# the team's own line" if key != "post_script" else "echo team-post-script"
    plain = pulumi.Output.from_input(text)
    result = run(lambda vpc, subnets: nginx_args(vpc, subnets, **{key: plain}))
    user_data = result.only("LaunchTemplate").inputs["userData"]
    assert rpc.is_rpc_secret(user_data)
    from wallarm_mirror.node.boot_script import decode_user_data

    # The script writes each file from a base64 here-document (b64_write): read them all back.
    script = decode_user_data(user_data["value"])
    files = re.findall(r"<<'([A-Z0-9_]+)'\n(.*?)\n\1\n", script, flags=re.DOTALL)
    assert any(text in base64.b64decode(body).decode("utf-8", "replace") for _, body in files)
