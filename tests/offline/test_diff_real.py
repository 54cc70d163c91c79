"""The plan diff on real plans: what a reviewer reads when a pull request changes one stack setting.

Each scenario writes the base stack file and a head stack file that differs in one setting, plans
both with the real program (`python -m wallarm_mirror plan --config-file ... --json`, in process,
as the plan-diff workflow does for the base and head of a pull request), diffs them and checks the
exact Markdown lines: the headline, the callouts, and every line of each section.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml

from wallarm_mirror.__main__ import main
from wallarm_mirror.offline.diff import diff_plans
from wallarm_mirror.offline.diff_markdown import render_markdown

# A dev-like stack. The token is left out, as in the shipped stack files: the plan uses a
# redacted placeholder and the same note on both sides, so the note is not a difference.
BASE: dict[str, Any] = {
    "aws:region": "eu-west-1",
    "wallarm-mirror:vpcId": "vpc-0123456789abcdef0",
    "wallarm-mirror:albSubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
    "wallarm-mirror:mirrorSourceCidrs": ["10.0.16.0/20"],
    "wallarm-mirror:instanceType": "t3.medium",
    "wallarm-mirror:deletionProtection": False,
    "wallarm-mirror:tags": {"env": "dev"},
}
CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
ENDPOINT = "internal-wallarm-mirror-alb-1234567890.eu-west-1.elb.amazonaws.com:8445"

LAUNCH_TEMPLATE = "- `aws:ec2/launchTemplate:LaunchTemplate` **`wallarm-mirror-node-lt`**"
NEW_VERSION = "  - ⚠️ Creates a new launch template version: instances will be replaced by a rolling instance refresh."
REFRESH_CALLOUT = (
    "> ⚠️ **Instances will be replaced by a rolling instance refresh** (launch template `wallarm-mirror-node-lt`)."
)


def plan(directory: Path, config: dict[str, Any]) -> dict[str, Any]:
    """`plan --json` of a stack file named like the real one, so base and head are the same stack."""
    directory.mkdir()
    path = directory / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["plan", "--config-file", str(path), "--json"]) == 0
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def base_plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return plan(tmp_path_factory.mktemp("base") / "stack", BASE)


@pytest.fixture
def diff_with(base_plan: dict[str, Any], tmp_path: Path):
    """diff_with(key=value, ...): the Markdown diff of the base stack against it with those settings."""

    def markdown(**settings: Any) -> str:
        head = plan(tmp_path / "head", {**BASE, **{f"wallarm-mirror:{k}": v for k, v in settings.items()}})
        return render_markdown(diff_plans(base_plan, head), title="Stack: dev")

    return markdown


def headline(markdown: str) -> str:
    return next(line for line in markdown.splitlines() if line.startswith("**"))


def callouts(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("> ")]


def sections(markdown: str) -> dict[str, list[str]]:
    """Each `#### Title` with the lines of its body (up to the blank line that ends it)."""
    lines = markdown.splitlines()
    found: dict[str, list[str]] = {}
    for index, line in enumerate(lines):
        if line.startswith("#### "):
            body = lines[index + 2 :]
            found[line.removeprefix("#### ")] = body[: body.index("")]
    return found


def test_instance_type_change_updates_the_launch_template_and_rolls_the_instances(diff_with):
    markdown = diff_with(instanceType="m5.large")

    assert markdown.startswith("### Stack: dev\n\n")
    assert headline(markdown) == "**1 to change, 0 to replace, 0 to add, 0 to remove**"
    assert callouts(markdown) == [REFRESH_CALLOUT]
    assert sections(markdown) == {
        "Changed in place": [
            LAUNCH_TEMPLATE,
            "  - `instanceType`: `t3.medium` → `m5.large`",
            NEW_VERSION,
        ],
    }


def test_new_mirror_source_cidr_adds_one_rule_and_trusts_it_in_the_boot_script(diff_with):
    markdown = diff_with(mirrorSourceCidrs=["10.0.16.0/20", "10.1.0.0/16"])

    assert headline(markdown) == "**1 to change, 0 to replace, 1 to add, 0 to remove**"
    # The nodes take the client address from X-Forwarded-For only from trusted ranges, and a new
    # source is one: its line in the boot script is a new template version, so instances roll.
    assert callouts(markdown) == [REFRESH_CALLOUT]
    assert sections(markdown) == {
        "Changed in place": [
            LAUNCH_TEMPLATE,
            "  - `userData` (base64-decoded): text changes at line 48: adds `set_real_ip_from 10.1.0.0/16;` "
            "(1 line added, 0 removed, embedded base64 decoded)",
            NEW_VERSION,
        ],
        "Added": [
            "- `aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule` "
            "**`wallarm-mirror-alb-sg-from-10-1-0-0-16`**: "
            "cidrIpv4 `10.1.0.0/16`, ipProtocol `tcp`, fromPort `8445`, toPort `8445`",
        ],
    }


def test_tls_on_updates_the_listener_in_place_and_the_endpoint_becomes_https(diff_with):
    markdown = diff_with(certificateArn=CERT)

    assert headline(markdown) == "**1 to change, 0 to replace, 0 to add, 0 to remove**"
    assert callouts(markdown) == []  # nothing is replaced, no instance is touched
    found = sections(markdown)
    assert list(found) == ["Changed in place", "Outputs", "Warnings"]
    assert found["Changed in place"] == [
        "- `aws:lb/listener:Listener` **`wallarm-mirror-listener`**",
        f"  - `certificateArn`: (not set) → `{CERT}`",
        "  - `protocol`: `HTTP` → `HTTPS`",
        "  - `sslPolicy`: (not set) → `ELBSecurityPolicy-TLS13-1-2-2021-06`",
    ]
    outputs = found["Outputs"]
    assert outputs[-1] == f"- `mirror_endpoint`: `http://{ENDPOINT}` → `https://{ENDPOINT}`"
    # Every generated web-tier config follows the endpoint to https (how many lines the TLS
    # settings add is the mirror-config module's business, so the counts are not pinned here).
    assert [line.rsplit(" (", 1)[0] for line in outputs[:-1]] == [
        f"- `mirror_configs.{server}`: text changes at line 2: `# Endpoint: http://{ENDPOINT}. Mirrors …` → "
        f"`# Endpoint: https://{ENDPOINT}. Mirrors…`"
        for server in ("envoy", "istio", "nginx", "traefik")
    ]
    assert found["Warnings"] == [
        "- New: wallarm-mirror:endpointHostname is not set: the web tier will mirror to the ALB's amazonaws.com "
        "name, which no ACM certificate covers, so TLS verification fails there. Point a DNS alias covered by "
        "certificateArn at the ALB and set endpointHostname.",
        "- Resolved: wallarm-mirror:certificateArn is not set: mirrored requests (credentials, personal data) "
        "cross the VPC in plain HTTP. Set an ACM certificate for HTTPS.",
    ]


def test_node_version_bump_shows_the_boot_script_change_and_rolls_the_instances(diff_with):
    markdown = diff_with(nodeVersion="7.1")

    assert headline(markdown) == "**1 to change, 0 to replace, 0 to add, 0 to remove**"
    assert callouts(markdown) == [REFRESH_CALLOUT]
    # The newest 7.1 image replaces the 6.13 one, and the 7.x health server answers from the node
    # daemon's readiness instead of a fixed 200.
    assert sections(markdown) == {
        "Changed in place": [
            LAUNCH_TEMPLATE,
            "  - `imageId`: `ami-0a1b2c3d4e5f60718` → `ami-0a17591afe0a0a887`",
            "  - `userData` (base64-decoded): text changes at line 35: `default_type text/plain;` → "
            "`proxy_pass http://127.0.0.1:9446/ready;` (3 lines added, 2 removed, embedded base64 decoded)",
            NEW_VERSION,
        ],
        "Outputs": ["- `ami_id`: `ami-0a1b2c3d4e5f60718` → `ami-0a17591afe0a0a887`"],
    }
