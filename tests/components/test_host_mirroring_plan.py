"""Host mirroring as `pulumi up` would register it: the SSM document that holds the script and the
State Manager association that runs it on the tagged instances (trafficMirrorMethod auto or host)."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from tests.components.test_native_stack import STATIC, TAGGED
from wallarm_mirror.components import host_mirroring
from wallarm_mirror.host_mirror.script import HostScriptSpec, render_host_script
from wallarm_mirror.offline.engine import OfflineRun, unwrap


def document(run: OfflineRun) -> dict[str, Any]:
    return json.loads(unwrap(run.only("Document").inputs["content"]))


def run_command(run: OfflineRun) -> list[str]:
    [step] = document(run)["mainSteps"]
    return step["inputs"]["runCommand"]


def embedded_script(run: OfflineRun) -> str:
    lines = run_command(run)
    start = lines.index(f"cat > \"$script\" <<'{host_mirroring.HEREDOC}'")
    end = lines.index(host_mirroring.HEREDOC)
    return "\n".join(lines[start + 1 : end]) + "\n"


@pytest.mark.parametrize("method", ["auto", "host"])
def test_auto_and_host_plan_the_document_and_an_association_on_the_source_tag(run_stack, method):
    run = run_stack(TAGGED, trafficMirrorMethod=method)
    doc = run.only("Document").inputs
    assert (doc["documentType"], doc["documentFormat"], doc["targetType"]) == ("Command", "JSON", "/AWS::EC2::Instance")
    assert doc["name"] == "wallarm-mirror-test-host-mirror"
    association = run.only("Association").inputs
    assert association["name"] == run.state_of("Document", "wallarm-mirror-host-mirror")["name"]
    assert association["targets"] == [{"key": "tag:role", "values": ["web"]}], "exactly the source tag"
    assert association["parameters"] == {"action": "apply"}
    assert association["scheduleExpression"] == "rate(30 minutes)"
    assert association["maxErrors"] == "100%", "one host's failure must not stop the others"
    assert run.outputs["host_mirror_document_name"] == "wallarm-mirror-test-host-mirror"


def test_aws_plans_neither_document_nor_association(run_stack):
    run = run_stack(TAGGED, trafficMirrorMethod="aws")
    assert run.all("Document") == [] and run.all("Association") == []
    assert "host_mirror_document_name" not in run.outputs
    assert run.only("Function").inputs["environment"]["variables"]["TRAFFIC_MIRROR_METHOD"] == "aws"


def test_a_stack_without_source_tags_plans_no_host_mirroring(run_stack):
    run = run_stack(STATIC)
    assert run.all("Document") == [] and run.all("Association") == []


def test_the_document_holds_the_whole_script_of_the_stack_and_downloads_nothing(run_stack):
    run = run_stack(TAGGED, trafficMirrorMethod="host")
    nlb_dns = run.state_of("LoadBalancer", "wallarm-mirror-nlb")["dnsName"]
    expected = render_host_script(
        HostScriptSpec(
            stack="test",
            method="host",
            vni=4242,
            ports=(80, 8080),
            nlb_dns_name=nlb_dns,
            lease_seconds=host_mirroring.LEASE_SECONDS,
            zone_addresses=tuple(sorted(unwrap(run.outputs["nlb_zone_addresses"]).items())),
        )
    )
    assert run.outputs["nlb_zone_addresses"], "the NLB's own address per zone ID reaches the script"
    assert embedded_script(run) == expected
    [step] = document(run)["mainSteps"]
    assert step["action"] == "aws:runShellScript", "one step, a shell script: no aws:downloadContent"
    text = "\n".join(run_command(run))
    assert not re.search(r"\b(curl|wget)\b[^\n]*https?://(?!169\.254\.169\.254)", text), "nothing fetched but IMDS"
    assert document(run)["parameters"]["action"]["allowedValues"] == ["apply", "remove"]


def test_the_document_runs_as_written_by_sh(run_stack, tmp_path):
    """The runCommand lines are what SSM's agent writes to a file and runs with sh: check them with sh -n."""
    run = run_stack(TAGGED)
    commands = "\n".join(run_command(run)).replace("{{ action }}", "apply")
    path = tmp_path / "_script.sh"
    path.write_text(commands + "\n")
    checked = subprocess.run(["sh", "-n", str(path)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr


def test_document_content_refuses_what_ssm_would_misread(monkeypatch):
    spec = HostScriptSpec(stack="s", method="host", vni=1, ports=(80,), nlb_dns_name=None)
    monkeypatch.setattr(host_mirroring, "render_host_script", lambda _spec: "echo '{{ ssm:x }}'\n")
    with pytest.raises(ValueError, match="contains '\\{\\{', which SSM would read as a document parameter"):
        host_mirroring.document_content(spec)
    monkeypatch.setattr(host_mirroring, "render_host_script", lambda _spec: f"echo\n{host_mirroring.HEREDOC}\n")
    with pytest.raises(ValueError, match="the here-document's end marker"):
        host_mirroring.document_content(spec)
    monkeypatch.setattr(host_mirroring, "render_host_script", lambda _spec: "#" * (64 * 1024) + "\n")
    with pytest.raises(ValueError, match="SSM takes at most 64 KB"):
        host_mirroring.document_content(spec)


def test_host_mirroring_adds_no_iam_the_script_needs_no_aws_permission(run_stack):
    """The association runs with the web hosts' own instance role (AmazonSSMManagedInstanceCore, the
    prerequisite); the script reads only IMDS. So host mirroring must add no role and no policy."""
    iam = ("Role", "RolePolicy", "RolePolicyAttachment", "Policy", "InstanceProfile")
    with_host = run_stack(TAGGED, trafficMirrorMethod="host")
    without = run_stack(TAGGED, trafficMirrorMethod="aws")
    for kind in iam:
        assert sorted(r.name for r in with_host.all(kind)) == sorted(r.name for r in without.all(kind)), kind
    assert "ssm:" not in json.dumps([r.inputs for r in with_host.all("RolePolicy")])
