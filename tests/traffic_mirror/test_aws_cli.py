"""`mirror-config --server aws-cli`: the printed command, run by bash against stand-ins for `aws` and
`pulumi`, passes exactly the stack's settings to `aws ec2 create-traffic-mirror-session`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from wallarm_mirror.__main__ import main

ROOT = Path(__file__).resolve().parents[2]

# Records argv one per line; `pulumi stack output NAME` answers with a recognisable id per output.
RECORDER = """#!/bin/bash
printf '%s\\n' "$@" > "$RECORD_DIR/$(basename "$0").args"
"""
PULUMI = """#!/bin/bash
case "$3" in
  traffic_mirror_target_id) echo tmt-0123456789abcdef0 ;;
  traffic_mirror_filter_id) echo tmf-0123456789abcdef0 ;;
  *) exit 1 ;;
esac
printf '%s\\n' "$@" >> "$RECORD_DIR/pulumi.args"
"""


def run_printed(command: str, tmp_path: Path) -> list[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("aws", RECORDER), ("pulumi", PULUMI)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "RECORD_DIR": str(tmp_path)}
    subprocess.run(["bash", "-euo", "pipefail", "-c", command], env=env, check=True, timeout=10)
    return (tmp_path / "aws.args").read_text().splitlines()


def test_the_printed_command_creates_the_session_the_stack_would(tmp_path, capsys):
    config = yaml.safe_load((ROOT / "Pulumi.native.yaml").read_text())["config"]
    config["wallarm-mirror:trafficMirrorVni"] = 9000
    config["wallarm-mirror:tags"] = {"team": "a,b{c}=d", "env": "x y"}
    path = tmp_path / "Pulumi.edge-eu.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    assert (
        main(["mirror-config", "--server", "aws-cli", "--config-file", str(path), "--eni", "eni-0feedbeef0123456"]) == 0
    )

    argv = run_printed(capsys.readouterr().out, tmp_path)

    assert argv[:2] == ["ec2", "create-traffic-mirror-session"]
    options = dict(zip(argv[2::2], argv[3::2], strict=True))
    assert options["--region"] == "eu-west-1"
    assert options["--network-interface-id"] == "eni-0feedbeef0123456"
    assert options["--traffic-mirror-target-id"] == "tmt-0123456789abcdef0"
    assert options["--traffic-mirror-filter-id"] == "tmf-0123456789abcdef0"
    assert (options["--session-number"], options["--virtual-network-id"]) == ("1", "9000")
    assert options["--description"] == "wallarm-mirror edge-eu: copy to the Wallarm Native Nodes"
    (spec,) = json.loads(options["--tag-specifications"])
    assert spec["ResourceType"] == "traffic-mirror-session"
    tags = {t["Key"]: t["Value"] for t in spec["Tags"]}
    assert tags == {"team": "a,b{c}=d", "env": "x y", "app": "wallarm-mirror", "stack": "edge-eu"}
    assert "wallarm-mirror:managed-by" not in tags, "a session made by hand must never be the function's to delete"
    assert "--stack\nedge-eu" in (tmp_path / "pulumi.args").read_text()


def test_aws_cli_is_refused_for_an_nginx_node_stack(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["mirror-config", "--server", "aws-cli", "--stack", "dev"])
    assert exited.value.code == 2
    assert "--server aws-cli is for analyzer nativeNode" in capsys.readouterr().err


def test_web_server_configs_are_refused_for_a_native_stack(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["mirror-config", "--server", "nginx", "--stack", "native"])
    assert exited.value.code == 2
    assert "needs no web-tier config" in capsys.readouterr().err
