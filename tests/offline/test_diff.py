"""Spec of the plan diff model: what changed between two offline plans, which changes re-create a
resource or roll the instances, and the `diff` command line.

The plans are realistic (the shape `python -m wallarm_mirror plan --json` prints), built by
`build_plan` from a few stack settings; tests/offline/test_diff_markdown.py reuses these builders.
Where the rendered comment is the clearest witness of a result, a test reads its Markdown lines too.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from wallarm_mirror.offline.diff import diff_plans, main
from wallarm_mirror.offline.diff_markdown import render_markdown
from wallarm_mirror.offline.diff_model import SECRET, PlanError
from wallarm_mirror.offline.diff_replacement import REPLACEMENT_RULES

ACCOUNT = "123456789012"
ALB_ARN = f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:loadbalancer/app/wallarm-mirror-alb/50dc6c495c0c9188"
TG_ARN = f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:targetgroup/wallarm-mirror-tg/6d0ecf831eec9f09"
CERT_ARN = f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/0f0e0d0c-1111-2222-3333-444455556666"
ALB_DNS = "internal-wallarm-mirror-alb-1234567890.eu-west-1.elb.amazonaws.com"
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def build_plan(
    *,
    instance_type: str = "t3.medium",
    ami: str = "ami-0a1b2c3d4e5f60718",
    mirror_cidrs: tuple[str, ...] = ("10.0.0.0/16",),
    tls: bool = False,
    internal: bool = True,
    tg_port: int = 8445,
    subnets: tuple[str, ...] = ("subnet-0a1", "subnet-0b2"),
    asg_template_version: str = "1",
    warnings: tuple[str, ...] = (),
) -> dict:
    """An offline plan of the dev stack, as the plan command prints it, from a few stack settings."""
    tags = {"project": "wallarm-mirror", "stack": "dev"}
    resources: list[dict] = [
        {"type": "pulumi:pulumi:Stack", "name": "wallarm-mirror-dev", "inputs": {}},
        {"type": "wallarm:mirror:Mirror", "name": "wallarm-mirror", "inputs": {}},
        {"type": "wallarm:mirror:LoadBalancer", "name": "wallarm-mirror-lb", "inputs": {}},
        {
            "type": "aws:ec2/securityGroup:SecurityGroup",
            "name": "wallarm-mirror-alb-sg",
            "inputs": {"description": "Wallarm mirror ALB", "vpcId": "vpc-0123456789abcdef0", "tags": tags},
        },
        {
            "type": "aws:ec2/securityGroup:SecurityGroup",
            "name": "wallarm-mirror-node-sg",
            "inputs": {"description": "Wallarm mirror nodes", "vpcId": "vpc-0123456789abcdef0", "tags": tags},
        },
        {
            "type": "aws:lb/loadBalancer:LoadBalancer",
            "name": "wallarm-mirror-alb",
            "inputs": {
                "internal": internal,
                "loadBalancerType": "application",
                "subnets": list(subnets),
                "securityGroups": ["sg-0alb"],
                "dropInvalidHeaderFields": True,
                "enableDeletionProtection": False,
                "tags": tags,
            },
        },
        {
            "type": "aws:lb/targetGroup:TargetGroup",
            "name": "wallarm-mirror-tg",
            "inputs": {
                "port": tg_port,
                "protocol": "HTTP",
                "targetType": "instance",
                "vpcId": "vpc-0123456789abcdef0",
                "deregistrationDelay": 30,
                "healthCheck": {"enabled": True, "path": "/-/healthcheck", "port": "9445", "protocol": "HTTP"},
                "tags": tags,
            },
        },
        {
            "type": "aws:lb/listener:Listener",
            "name": "wallarm-mirror-listener",
            "inputs": {
                "loadBalancerArn": ALB_ARN,
                "port": 8445,
                "protocol": "HTTPS" if tls else "HTTP",
                **({"certificateArn": CERT_ARN, "sslPolicy": TLS_POLICY} if tls else {}),
                "defaultActions": [{"type": "forward", "targetGroupArn": TG_ARN}],
                "tags": tags,
            },
        },
        {
            "type": "aws:iam/role:Role",
            "name": "wallarm-mirror-node-role",
            "inputs": {"assumeRolePolicy": '{"Version":"2012-10-17"}', "tags": tags},
        },
        {
            "type": "aws:ssm/parameter:Parameter",
            "name": "wallarm-mirror-token",
            "inputs": {"name": "/wallarm-mirror/dev/node-token", "type": "SecureString", "value": SECRET},
        },
        {
            "type": "aws:ec2/launchTemplate:LaunchTemplate",
            "name": "wallarm-mirror-lt",
            "inputs": {
                "imageId": ami,
                "instanceType": instance_type,
                "userData": SECRET,
                "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1},
                "tags": tags,
            },
        },
        {
            "type": "aws:autoscaling/group:Group",
            "name": "wallarm-mirror-asg",
            "inputs": {
                "minSize": 1,
                "maxSize": 2,
                "desiredCapacity": 1,
                "launchTemplate": {"id": "lt-0123456789abcdef0", "version": asg_template_version},
                "instanceRefresh": {"strategy": "Rolling", "preferences": {"minHealthyPercentage": 50}},
            },
        },
    ]
    for index, cidr in enumerate(mirror_cidrs):
        resources.append(
            {
                "type": "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                "name": f"wallarm-mirror-alb-in-{index}",
                "inputs": {
                    "securityGroupId": "sg-0alb",
                    "cidrIpv4": cidr,
                    "fromPort": 8445,
                    "toPort": 8445,
                    "ipProtocol": "tcp",
                    "description": f"mirror source {cidr}",
                },
            }
        )
    scheme = "https" if tls else "http"
    return {
        "project": "wallarm-mirror",
        "stack": "dev",
        "resources": resources,
        "outputs": {"mirror_endpoint": f"{scheme}://{ALB_DNS}:8445", "ami_id": ami, "asg_name": "wallarm-mirror-asg"},
        "warnings": list(warnings),
    }


def render(base: dict, head: dict) -> str:
    return render_markdown(diff_plans(base, head), title="Stack dev")


def section(markdown: str, name: str) -> list[str]:
    """The lines of one `#### name` section, without the heading and the blank line after it."""
    lines = markdown.splitlines()
    start = lines.index(f"#### {name}") + 2
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return lines[start:end]


def sections(markdown: str) -> list[str]:
    return [line[5:] for line in markdown.splitlines() if line.startswith("#### ")]


def resource(plan: dict, name: str) -> dict:
    return next(item for item in plan["resources"] if item["name"] == name)


# ------------------------------------------------------------------------------------------
# Replacement rules: in place or re-created, and what rolls the instances
# ------------------------------------------------------------------------------------------


def test_target_group_port_change_replaces_the_target_group():
    diff = diff_plans(build_plan(), build_plan(tg_port=9000))

    assert [(c.type, c.name) for c in diff.replacements] == [("aws:lb/targetGroup:TargetGroup", "wallarm-mirror-tg")]
    assert diff.changed == ()
    assert diff.replacements[0].replacement_reasons == ("`port` cannot be changed in place",)
    assert section(render_markdown(diff), "Replaced (deleted and re-created)") == [
        "- `aws:lb/targetGroup:TargetGroup` **`wallarm-mirror-tg`** — replaced because "
        "`port` cannot be changed in place",
        "  - `port`: `8445` → `9000`",
    ]


def test_ingress_rule_new_cidr_is_modified_in_place_but_a_new_source_type_replaces_it():
    head = build_plan()
    resource(head, "wallarm-mirror-alb-in-0")["inputs"]["cidrIpv4"] = "10.1.0.0/16"
    assert [c.name for c in diff_plans(build_plan(), head).changed] == ["wallarm-mirror-alb-in-0"]

    inputs = resource(head, "wallarm-mirror-alb-in-0")["inputs"]
    del inputs["cidrIpv4"]
    inputs["referencedSecurityGroupId"] = "sg-0web"
    diff = diff_plans(build_plan(), head)
    assert diff.replacements[0].replacement_reasons == (
        "the rule's source type changes (`cidrIpv4` → `referencedSecurityGroupId`)",
    )


def test_network_load_balancer_losing_a_subnet_is_replaced_while_an_alb_is_not():
    def with_lb_type(lb_type: str, subnets: tuple[str, ...]) -> dict:
        plan = build_plan(subnets=subnets)
        resource(plan, "wallarm-mirror-alb")["inputs"]["loadBalancerType"] = lb_type
        return plan

    nlb = diff_plans(with_lb_type("network", ("a", "b")), with_lb_type("network", ("a",)))
    alb = diff_plans(with_lb_type("application", ("a", "b")), with_lb_type("application", ("a",)))

    assert nlb.replacements[0].replacement_reasons == (
        "`subnets`: a network load balancer can only add subnets in place",
    )
    assert alb.replacements == ()
    assert [c.name for c in alb.changed] == ["wallarm-mirror-alb"]


def test_launch_template_tag_change_makes_no_new_version_so_no_instance_refresh():
    head = build_plan()
    resource(head, "wallarm-mirror-lt")["inputs"]["tags"] = {"project": "wallarm-mirror", "stack": "dev", "team": "sec"}
    diff = diff_plans(build_plan(), head)

    assert diff.changed[0].notes == ()
    assert diff.callouts == ()
    assert "  - `tags.team`: (not set) → `sec`" in render_markdown(diff).splitlines()


def test_launch_template_change_with_asg_on_latest_warns_that_no_refresh_starts():
    diff = diff_plans(
        build_plan(asg_template_version="$Latest"),
        build_plan(instance_type="c6i.large", asg_template_version="$Latest"),
    )

    assert diff.changed[0].notes == (
        "Creates a new launch template version, but the auto scaling group uses `$Latest`, "
        "which starts no instance refresh: running instances keep the old settings.",
    )
    assert diff.callouts == ()


def test_asg_pointing_at_a_new_template_version_calls_out_the_refresh():
    diff = diff_plans(build_plan(asg_template_version="1"), build_plan(asg_template_version="2"))

    assert diff.changed[0].notes == (
        "The group's launch settings change: instances will be replaced by a rolling instance refresh.",
    )
    assert diff.callouts == (
        "**Instances will be replaced by a rolling instance refresh** (auto scaling group `wallarm-mirror-asg`).",
    )


def test_template_and_group_changing_together_give_one_refresh_callout():
    diff = diff_plans(build_plan(), build_plan(instance_type="c6i.large", asg_template_version="2"))

    assert diff.callouts == (
        "**Instances will be replaced by a rolling instance refresh** "
        "(auto scaling group `wallarm-mirror-asg`, launch template `wallarm-mirror-lt`).",
    )


def test_ssm_parameter_type_changes_in_place_but_a_new_name_replaces_it():
    head = build_plan()
    resource(head, "wallarm-mirror-token")["inputs"]["type"] = "String"
    assert diff_plans(build_plan(), head).replacements == ()

    resource(head, "wallarm-mirror-token")["inputs"]["name"] = "/wallarm-mirror/dev/token"
    assert diff_plans(build_plan(), head).replacements[0].replacement_reasons == ("`name` cannot be changed in place",)


@pytest.mark.parametrize(
    ("type_token", "attribute"),
    [
        ("aws:lb/loadBalancer:LoadBalancer", "loadBalancerType"),
        ("aws:lb/loadBalancer:LoadBalancer", "namePrefix"),
        ("aws:lb/targetGroup:TargetGroup", "protocol"),
        ("aws:lb/targetGroup:TargetGroup", "vpcId"),
        ("aws:lb/targetGroup:TargetGroup", "targetType"),
        ("aws:lb/targetGroup:TargetGroup", "protocolVersion"),
        ("aws:ec2/securityGroup:SecurityGroup", "description"),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "securityGroupId"),
        ("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "securityGroupId"),
        ("aws:iam/role:Role", "name"),
        ("aws:ec2/launchTemplate:LaunchTemplate", "name"),
        ("aws:autoscaling/group:Group", "namePrefix"),
        ("aws:lb/listener:Listener", "loadBalancerArn"),
        ("aws:ssm/parameter:Parameter", "name"),
        ("aws:secretsmanager/secret:Secret", "namePrefix"),
        ("aws:iam/instanceProfile:InstanceProfile", "name"),
    ],
)
def test_force_new_settings_replace_the_resource(type_token: str, attribute: str):
    def plan(value: str) -> dict:
        return {"resources": [{"type": type_token, "name": "r", "inputs": {attribute: value}}]}

    diff = diff_plans(plan("a"), plan("b"))

    assert diff.replacements[0].replacement_reasons[0] == f"`{attribute}` cannot be changed in place"
    assert diff.replacements[0].settings[0].forces_replacement


@pytest.mark.parametrize(
    ("type_token", "attribute"),
    [
        ("aws:lb/listener:Listener", "protocol"),
        ("aws:lb/listener:Listener", "sslPolicy"),
        ("aws:lb/targetGroup:TargetGroup", "deregistrationDelay"),
        ("aws:lb/loadBalancer:LoadBalancer", "enableDeletionProtection"),
        ("aws:iam/instanceProfile:InstanceProfile", "role"),
        ("aws:example/unknownThing:UnknownThing", "name"),
    ],
)
def test_other_settings_change_in_place(type_token: str, attribute: str):
    def plan(value: str) -> dict:
        return {"resources": [{"type": type_token, "name": "r", "inputs": {attribute: value}}]}

    diff = diff_plans(plan("a"), plan("b"))

    assert diff.replacements == ()
    assert [(s.path, s.before, s.after) for s in diff.changed[0].settings] == [(attribute, "a", "b")]


def test_replacement_table_covers_every_resource_type_the_program_creates():
    assert {
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:lb/targetGroup:TargetGroup",
        "aws:lb/listener:Listener",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:iam/role:Role",
        "aws:iam/instanceProfile:InstanceProfile",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:autoscaling/group:Group",
        "aws:ssm/parameter:Parameter",
        "aws:secretsmanager/secret:Secret",
    } <= set(REPLACEMENT_RULES)
    assert "subnets" not in REPLACEMENT_RULES["aws:lb/loadBalancer:LoadBalancer"].force_new


# ------------------------------------------------------------------------------------------
# What changed: nesting, lists, secrets, order
# ------------------------------------------------------------------------------------------


def test_nested_and_tag_settings_use_dotted_paths():
    head = build_plan()
    resource(head, "wallarm-mirror-tg")["inputs"]["healthCheck"]["port"] = "9446"
    resource(head, "wallarm-mirror-tg")["inputs"]["tags"] = {"project": "wallarm-mirror", "stack": "prod"}
    settings = diff_plans(build_plan(), head).changed[0].settings

    assert [(s.path, s.before, s.after) for s in settings] == [
        ("healthCheck.port", "9445", "9446"),
        ("tags.stack", "dev", "prod"),
    ]


def test_two_secret_placeholders_are_equal_so_no_change_is_claimed():
    base = {"resources": [{"type": "aws:ssm/parameter:Parameter", "name": "p", "inputs": {"value": SECRET}}]}

    diff = diff_plans(base, json.loads(json.dumps(base)))

    assert not diff.has_changes
    assert render_markdown(diff).splitlines()[2] == "No changes."


def test_list_of_objects_of_the_same_length_is_compared_item_by_item():
    head = build_plan()
    resource(head, "wallarm-mirror-listener")["inputs"]["defaultActions"][0]["targetGroupArn"] = TG_ARN + "0"

    settings = diff_plans(build_plan(), head).changed[0].settings

    assert [s.path for s in settings] == ["defaultActions[0].targetGroupArn"]


def test_list_items_with_a_key_are_matched_by_key_not_position():
    def asg(tags: list[tuple[str, str]]) -> dict:
        inputs = {"tags": [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in tags]}
        return {"resources": [{"type": "aws:autoscaling/group:Group", "name": "asg", "inputs": inputs}]}

    base = asg([("env", "dev"), ("project", "wallarm-mirror")])
    head = asg([("cost-center", "42"), ("env", "prod"), ("project", "wallarm-mirror")])

    assert section(render_markdown(diff_plans(base, head)), "Changed in place")[1:] == [
        '  - `tags[key=cost-center]`: (not set) → `{"key":"cost-center","propagateAtLaunch":true,"value":"42"}`',
        "  - `tags[key=env].value`: `dev` → `prod`",
    ]


def test_output_does_not_depend_on_resource_order():
    base, head = build_plan(), build_plan(instance_type="c6i.large", tls=True, mirror_cidrs=("10.9.0.0/16",))
    expected = render(base, head)
    random.Random(7).shuffle(head["resources"])
    random.Random(8).shuffle(base["resources"])

    assert render(base, head) == expected


# ------------------------------------------------------------------------------------------
# Bad input and the command line
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "reason"),
    [
        ([], "the top level must be a JSON object"),
        ({"outputs": {}}, '"resources" must be a list of {"type", "name", "inputs"} objects'),
        ({"resources": [{"name": "x"}]}, 'resources[0] must be an object with string "type" and "name"'),
        ({"resources": [{"type": "t", "name": "x", "inputs": []}]}, "resources[0].inputs must be an object"),
        ({"resources": [], "outputs": []}, '"outputs" must be an object'),
        ({"resources": [], "warnings": "oops"}, '"warnings" must be a list of strings'),
        (
            {"resources": [{"type": "t", "name": "x"}, {"type": "t", "name": "x"}]},
            "resource t 'x' appears twice",
        ),
    ],
)
def test_diff_plans_rejects_what_is_not_a_plan(plan: object, reason: str):
    with pytest.raises(PlanError) as info:
        diff_plans({"resources": []}, plan)  # type: ignore[arg-type]  # a broken plan on purpose
    assert str(info.value) == f"head is not an offline plan: {reason}"


def write(path: Path, data: object) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_main_prints_markdown_and_exits_zero_when_plans_differ(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    base = write(tmp_path / "base.json", build_plan())
    head = write(tmp_path / "head.json", build_plan(tg_port=9000))

    assert main([base, head, "--title", "Stack dev"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:3] == ["### Stack dev", "", "**0 to change, 1 to replace, 0 to add, 0 to remove**"]


def test_main_on_identical_plans_prints_no_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    base = write(tmp_path / "base.json", build_plan())
    head = write(tmp_path / "head.json", build_plan())

    assert main([base, head]) == 0
    assert capsys.readouterr().out.splitlines() == ["### Plan diff: base.json → head.json", "", "No changes."]


def assert_one_line_error(capsys: pytest.CaptureFixture[str], expected: str) -> None:
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"error: {expected}\n"
    assert "Traceback" not in captured.err


def test_main_exits_2_on_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    head = write(tmp_path / "head.json", build_plan())
    missing = tmp_path / "missing.json"

    assert main([str(missing), head]) == 2
    assert_one_line_error(capsys, f"cannot read plan file {missing}: No such file or directory")


def test_main_exits_2_on_invalid_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    base = write(tmp_path / "base.json", build_plan())
    broken = tmp_path / "head.json"
    broken.write_text('{"resources": [', encoding="utf-8")

    assert main([base, str(broken)]) == 2
    assert_one_line_error(capsys, f"{broken} is not valid JSON: Expecting value at line 1, column 16")


def test_main_exits_2_on_json_that_is_not_a_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    base = write(tmp_path / "base.json", build_plan())
    head = write(tmp_path / "head.json", {"stack": "dev", "resources": {"type": "aws:iam/role:Role"}})

    assert main([base, head]) == 2
    assert_one_line_error(
        capsys, f'{head} is not an offline plan: "resources" must be a list of {{"type", "name", "inputs"}} objects'
    )


def test_main_exits_2_on_a_binary_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    base = write(tmp_path / "base.json", build_plan())
    binary = tmp_path / "head.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")

    assert main([base, str(binary)]) == 2
    assert_one_line_error(capsys, f"{binary} is not a JSON text file (not UTF-8)")


def test_main_exits_2_with_usage_when_an_argument_is_missing(capsys: pytest.CaptureFixture[str]):
    assert main(["only-one.json"]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        "error: the following arguments are required: head "
        "(usage: python -m wallarm_mirror diff BASE.json HEAD.json [--title TITLE])\n"
    )
