"""Spec of the plan diff's Markdown: the exact lines a reviewer reads in the pull request comment.

Each scenario builds two realistic offline plans (the shape `python -m wallarm_mirror plan --json`
prints, from `build_plan` in tests/offline/test_diff.py) that differ in one stack setting, and
checks the exact Markdown lines: headline, callouts, sections, values and the footer.
"""

from __future__ import annotations

import base64
import textwrap
from typing import Any

from tests.offline.test_diff import ALB_DNS, CERT_ARN, TLS_POLICY, build_plan, render, section, sections
from wallarm_mirror.offline.diff import diff_plans
from wallarm_mirror.offline.diff_markdown import headline, render_markdown
from wallarm_mirror.offline.diff_model import NOT_SET, SECRET

# ------------------------------------------------------------------------------------------
# Scenarios: one stack setting changes
# ------------------------------------------------------------------------------------------


def test_instance_type_change_creates_new_template_version_and_calls_out_instance_refresh():
    markdown = render(build_plan(), build_plan(instance_type="c6i.large"))
    lines = markdown.splitlines()

    assert lines[:6] == [
        "### Stack dev",
        "",
        "**1 to change, 0 to replace, 0 to add, 0 to remove**",
        "",
        "> ⚠️ **Instances will be replaced by a rolling instance refresh** (launch template `wallarm-mirror-lt`).",
        "",
    ]
    assert sections(markdown) == ["Changed in place"]
    assert section(markdown, "Changed in place") == [
        "- `aws:ec2/launchTemplate:LaunchTemplate` **`wallarm-mirror-lt`**",
        "  - `instanceType`: `t3.medium` → `c6i.large`",
        "  - ⚠️ Creates a new launch template version: instances will be replaced by a rolling instance refresh.",
        "  - `userData`: secret, value not shown (cannot be compared offline)",
    ]


def test_new_mirror_source_cidr_adds_one_ingress_rule_and_changes_nothing_else():
    markdown = render(build_plan(), build_plan(mirror_cidrs=("10.0.0.0/16", "10.20.0.0/16")))

    assert "**0 to change, 0 to replace, 1 to add, 0 to remove**" in markdown.splitlines()
    assert sections(markdown) == ["Added"]
    assert section(markdown, "Added") == [
        "- `aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule` **`wallarm-mirror-alb-in-1`**: "
        "cidrIpv4 `10.20.0.0/16`, ipProtocol `tcp`, fromPort `8445`, toPort `8445`"
    ]


def test_tls_on_updates_listener_in_place_with_certificate_and_policy():
    markdown = render(build_plan(), build_plan(tls=True))

    assert "**1 to change, 0 to replace, 0 to add, 0 to remove**" in markdown.splitlines()
    assert section(markdown, "Changed in place") == [
        "- `aws:lb/listener:Listener` **`wallarm-mirror-listener`**",
        f"  - `certificateArn`: (not set) → `{CERT_ARN}`",
        "  - `protocol`: `HTTP` → `HTTPS`",
        f"  - `sslPolicy`: (not set) → `{TLS_POLICY}`",
    ]
    assert section(markdown, "Outputs") == [
        f"- `mirror_endpoint`: `http://{ALB_DNS}:8445` → `https://{ALB_DNS}:8445`",
    ]
    assert "Replaced (deleted and re-created)" not in sections(markdown)


def test_node_version_bump_shows_new_ami_and_never_claims_the_secret_user_data_changed():
    markdown = render(build_plan(), build_plan(ami="ami-0fedcba9876543210"))

    assert section(markdown, "Changed in place") == [
        "- `aws:ec2/launchTemplate:LaunchTemplate` **`wallarm-mirror-lt`**",
        "  - `imageId`: `ami-0a1b2c3d4e5f60718` → `ami-0fedcba9876543210`",
        "  - ⚠️ Creates a new launch template version: instances will be replaced by a rolling instance refresh.",
        "  - `userData`: secret, value not shown (cannot be compared offline)",
    ]
    assert section(markdown, "Outputs") == ["- `ami_id`: `ami-0a1b2c3d4e5f60718` → `ami-0fedcba9876543210`"]
    assert "secret changed" not in markdown
    assert "[secret]" not in markdown


def test_internal_to_internet_facing_flip_replaces_the_load_balancer_and_says_why():
    markdown = render(build_plan(), build_plan(internal=False))
    lines = markdown.splitlines()

    assert "**0 to change, 1 to replace, 0 to add, 0 to remove**" in lines
    assert "> ⚠️ **The load balancer `wallarm-mirror-alb` would become internet-facing.**" in lines
    assert section(markdown, "Replaced (deleted and re-created)") == [
        "- `aws:lb/loadBalancer:LoadBalancer` **`wallarm-mirror-alb`** — replaced because "
        "`internal` cannot be changed in place",
        "  - `internal`: `true` → `false`",
        "  - ⚠️ The load balancer would become internet-facing.",
    ]
    # Replacements come first, before anything else.
    assert sections(markdown)[0] == "Replaced (deleted and re-created)"


def test_alb_subnet_added_is_an_in_place_change_listed_by_item_not_the_whole_list():
    diff = diff_plans(build_plan(), build_plan(subnets=("subnet-0a1", "subnet-0b2", "subnet-0c3")))

    assert diff.replacements == ()
    assert section(render_markdown(diff), "Changed in place") == [
        "- `aws:lb/loadBalancer:LoadBalancer` **`wallarm-mirror-alb`**",
        "  - `subnets`: added `subnet-0c3`",
    ]


def test_swapped_subnet_lists_the_added_and_the_removed_one():
    markdown = render(build_plan(), build_plan(subnets=("subnet-0a1", "subnet-0c3")))

    assert "  - `subnets`: added `subnet-0c3`; removed `subnet-0b2`" in markdown.splitlines()


def test_identical_plans_say_no_changes():
    markdown = render(build_plan(), build_plan())

    assert markdown.splitlines() == ["### Stack dev", "", "No changes."]
    assert headline(diff_plans(build_plan(), build_plan())) == "0 to change, 0 to replace, 0 to add, 0 to remove"


# ------------------------------------------------------------------------------------------
# Values: secrets, long values, hostile text, base64 and multi-line text
# ------------------------------------------------------------------------------------------


def test_a_setting_becoming_secret_is_shown_without_a_value():
    base = {"resources": [{"type": "aws:ssm/parameter:Parameter", "name": "p", "inputs": {"value": "plain"}}]}
    head = {"resources": [{"type": "aws:ssm/parameter:Parameter", "name": "p", "inputs": {"value": SECRET}}]}

    lines = render_markdown(diff_plans(base, head)).splitlines()

    assert "  - `value`: `plain` → (secret, value not shown)" in lines


def test_long_values_are_cut_around_the_first_difference():
    long_old = "a" * 150 + "OLD" + "z" * 150
    long_new = "a" * 150 + "NEW" + "z" * 150
    base = {"resources": [{"type": "aws:iam/role:Role", "name": "r", "inputs": {"description": long_old}}]}
    head = {"resources": [{"type": "aws:iam/role:Role", "name": "r", "inputs": {"description": long_new}}]}

    line = next(ln for ln in render_markdown(diff_plans(base, head)).splitlines() if "`description`" in ln)

    window = "a" * 20 + "{}" + "z" * 77
    assert line == f"  - `description`: `…{window.format('OLD')}…` → `…{window.format('NEW')}…`"


def test_backticks_and_mentions_from_the_plan_cannot_break_out_of_the_markdown():
    base: dict[str, Any] = {"resources": [], "warnings": []}
    head = {
        "resources": [{"type": "aws:iam/role:Role", "name": "evil`name", "inputs": {"description": "a ``b`` c"}}],
        "warnings": ["ping @octocat <img src=x>"],
    }

    lines = render_markdown(diff_plans(base, head)).splitlines()

    assert "- `aws:iam/role:Role` **``evil`name``**: description ```a ``b`` c```" in lines
    assert "- New: ping @\u200boctocat \\<img src=x\\>" in lines


def test_base64_user_data_is_compared_as_the_decoded_boot_script():
    def template(script: str) -> dict:
        user_data = base64.b64encode(script.encode()).decode()
        inputs = {"imageId": "ami-1", "userData": user_data}
        return {"resources": [{"type": "aws:ec2/launchTemplate:LaunchTemplate", "name": "lt", "inputs": inputs}]}

    base = template("#!/bin/bash\nset -eu\nWALLARM_VERSION=5.3.0\nexec /opt/wallarm/start\n")
    head = template("#!/bin/bash\nset -eu\nWALLARM_VERSION=6.0.1\nexec /opt/wallarm/start\n")

    assert section(render_markdown(diff_plans(base, head)), "Changed in place") == [
        "- `aws:ec2/launchTemplate:LaunchTemplate` **`lt`**",
        "  - `userData` (base64-decoded): text changes at line 3: `WALLARM_VERSION=5.3.0` → `WALLARM_VERSION=6.0.1` "
        "(1 line added, 1 removed)",
        "  - ⚠️ Creates a new launch template version: instances will be replaced by a rolling instance refresh.",
    ]


def test_base64_files_embedded_in_the_boot_script_are_decoded_too():
    def template(sources: list[str]) -> dict:
        snippet = "".join(f"set_real_ip_from {cidr};\n" for cidr in sources) + "real_ip_header X-Forwarded-For;\n"
        wrapped = textwrap.fill(base64.b64encode(snippet.encode()).decode(), 76)
        script = f"#!/bin/bash\nbase64 -d > /etc/nginx/snippet.conf <<'B64'\n{wrapped}\nB64\nsystemctl start nginx\n"
        inputs = {"userData": base64.b64encode(script.encode()).decode()}
        return {"resources": [{"type": "aws:ec2/launchTemplate:LaunchTemplate", "name": "lt", "inputs": inputs}]}

    base = template(["10.0.0.0/16", "10.1.0.0/16"])
    head = template(["10.0.0.0/16", "10.1.0.0/16", "10.20.0.0/16"])

    assert section(render_markdown(diff_plans(base, head)), "Changed in place")[1] == (
        "  - `userData` (base64-decoded): text changes at line 5: adds `set_real_ip_from 10.20.0.0/16;` "
        "(1 line added, 0 removed, embedded base64 decoded)"
    )


def test_multiline_output_reports_the_first_changed_line():
    base = {"resources": [], "outputs": {"nginx": "location / {\n  mirror /mirror;\n}\n"}}
    head = {"resources": [], "outputs": {"nginx": "location / {\n  mirror /wallarm;\n}\n"}}

    assert section(render_markdown(diff_plans(base, head)), "Outputs") == [
        "- `nginx`: text changes at line 2: `mirror /mirror;` → `mirror /wallarm;` (1 line added, 1 removed)"
    ]


# ------------------------------------------------------------------------------------------
# Removals, components, warnings and the footer
# ------------------------------------------------------------------------------------------


def test_removed_output_and_resource_are_listed():
    base = build_plan()
    head = build_plan()
    head["resources"] = [r for r in head["resources"] if r["name"] != "wallarm-mirror-node-role"]
    del head["outputs"]["asg_name"]

    markdown = render(base, head)

    assert section(markdown, "Removed") == [
        '- `aws:iam/role:Role` **`wallarm-mirror-node-role`**: assumeRolePolicy `{"Version":"2012-10-17"}`'
    ]
    assert section(markdown, "Outputs") == ["- `asg_name`: `wallarm-mirror-asg` → (not set)"]
    assert diff_plans(base, head).outputs[0].after is NOT_SET


def test_component_resources_are_not_counted_as_cloud_changes():
    head = build_plan()
    head["resources"].append({"type": "wallarm:mirror:Alarms", "name": "wallarm-mirror-alarms", "inputs": {}})

    markdown = render(build_plan(), head)

    assert "**0 to change, 0 to replace, 0 to add, 0 to remove**" in markdown.splitlines()
    assert (
        "Grouping components (no cloud resources of their own): added `wallarm:mirror:Alarms` `wallarm-mirror-alarms`."
        in markdown.splitlines()
    )


def test_new_and_resolved_warnings_are_listed():
    markdown = render(build_plan(warnings=("one AZ",)), build_plan(warnings=("mode block is not enforced",)))

    assert section(markdown, "Warnings") == ["- New: mode block is not enforced", "- Resolved: one AZ"]


def test_footer_mentions_redacted_secrets_when_a_plan_has_them():
    markdown = render(build_plan(), build_plan(tls=True))

    assert markdown.splitlines()[-1] == (
        "<sub>Secret values are redacted in offline plans, so a change to a secret alone does not show here; "
        "`pulumi preview` shows it.</sub>"
    )
