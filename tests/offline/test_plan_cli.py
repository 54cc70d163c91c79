"""The offline plan: `python -m wallarm_mirror plan`, the README's main job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from wallarm_mirror.__main__ import main
from wallarm_mirror.offline.plan import PLACEHOLDER_SECRET

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = ROOT / "docs" / "configuration.md"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    # The process skips the interpreter's teardown (os._exit), so what its block-buffered stdout
    # still holds must be flushed first; PYTHONUNBUFFERED (set on some machines and CI runners)
    # would hide a missing flush.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.run(
        [sys.executable, "-m", "wallarm_mirror", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def stack_file(tmp_path: Path, name: str, config: dict) -> Path:
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def dev_config() -> dict:
    return yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]


def test_default_command_plans_the_dev_stack_readably(monkeypatch, capsys):
    # In this process, as `python -m wallarm_mirror` calls main (no argv: the command line's words):
    # a new process costs pulumi's import floor (~0.8 s of CPU), and what only a process shows (its
    # whole output reaches the pipe, its stderr stays empty) is the next test's, with --json.
    monkeypatch.setattr(sys, "argv", [str(ROOT / "wallarm_mirror" / "__main__.py")])
    assert main() == 0
    result = capsys.readouterr()
    out = result.out
    assert out.startswith("Offline plan of stack dev (project wallarm-mirror): 27 cloud resources in 6 components")
    assert "+ aws:lb/loadBalancer:LoadBalancer  wallarm-mirror-alb" in out
    assert "internal: true" in out
    assert "metadataOptions.httpTokens: required" in out
    assert "warning: wallarm-mirror:token is not set in Pulumi.dev.yaml" in out
    assert "pulumi config set --secret wallarm-mirror:token <node token> --stack dev" in out
    assert "\nOutputs:\n" in out and "mirror_endpoint: http://internal-wallarm-mirror-alb" in out
    # The configs are rendered for the stand-in endpoint: the hint names the command for the real one.
    assert (
        "mirror_configs: nginx, envoy, istio, traefik (after `pulumi up`, print one with `python -m wallarm_mirror "
        'mirror-config --server NAME --endpoint "$(pulumi stack output mirror_endpoint)"`)'
    ) in out
    assert PLACEHOLDER_SECRET not in out
    assert result.err == ""


def test_process_writes_the_whole_plan_before_it_ends(capsys):
    # A long text goes straight to the pipe, but print's last "\n" waits in stdout's buffer.
    result = run_cli("plan", "--json")
    assert main(["plan", "--json"]) == 0
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == capsys.readouterr().out


def test_bad_config_exits_2_with_every_message_and_no_traceback(tmp_path):
    config = dev_config() | {"wallarm-mirror:vpcId": "vpc-1", "wallarm-mirror:maxSize": 0, "wallarm-mirror:colour": 1}
    result = run_cli("plan", "--config-file", str(stack_file(tmp_path, "broken", config)))
    assert result.returncode == 2
    assert result.stdout == ""
    err = result.stderr
    assert err.startswith("error: stack broken (Pulumi.broken.yaml): the stack config has 3 problems:")
    for key in ("vpcId", "maxSize", "colour"):
        assert f"  - wallarm-mirror:{key}:" in err
    assert "Traceback" not in err and "Exception ignored" not in err


def test_json_plan_has_resources_inputs_outputs_and_hides_secrets(capsys):
    assert main(["plan", "--stack", "prod", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["project"], document["stack"]) == ("wallarm-mirror", "prod")
    by_type = {(r["type"], r["name"]): r["inputs"] for r in document["resources"]}
    alb = by_type[("aws:lb/loadBalancer:LoadBalancer", "wallarm-mirror-alb")]
    assert alb["internal"] is True and len(alb["subnets"]) == 3
    listener = by_type[("aws:lb/listener:Listener", "wallarm-mirror-listener")]
    assert (listener["port"], listener["protocol"]) == (8445, "HTTPS")
    assert by_type[("aws:secretsmanager/secretVersion:SecretVersion", "wallarm-mirror-token")]["secretString"] == (
        "[secret]"
    )
    assert document["outputs"]["mirror_endpoint"] == "https://wallarm-mirror.prod.internal.example.com:8445"
    assert isinstance(by_type[("aws:autoscaling/group:Group", "wallarm-mirror-asg")]["minSize"], int)
    assert PLACEHOLDER_SECRET not in json.dumps(document)


def test_plan_is_deterministic(capsys):
    main(["plan", "--json"])
    first = capsys.readouterr().out
    main(["plan", "--json"])
    assert capsys.readouterr().out == first


def test_encrypted_values_stand_in_as_secrets_and_silence_the_token_warning(tmp_path, capsys):
    config = dev_config() | {"wallarm-mirror:token": {"secure": "v1:AAAABBBBCCCC"}}
    path = stack_file(tmp_path, "staging", config | {"wallarm-mirror:tokenDelivery": "userData"})
    assert main(["plan", "--config-file", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["stack"] == "staging"
    assert not any("is not set in" in w for w in document["warnings"])
    lt = next(r for r in document["resources"] if r["type"] == "aws:ec2/launchTemplate:LaunchTemplate")
    assert lt["inputs"]["userData"] == "[secret]"
    assert "v1:AAAABBBBCCCC" not in json.dumps(document)


def test_token_in_plain_text_in_the_stack_file_is_refused(tmp_path, capsys):
    path = stack_file(tmp_path, "leaky", dev_config() | {"wallarm-mirror:token": "plain-token-value"})
    with pytest.raises(SystemExit) as exited:
        main(["plan", "--config-file", str(path)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "wallarm-mirror:token: is stored in plain text" in err
    assert "pulumi config set --secret wallarm-mirror:token" in err
    assert "plain-token-value" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read stack file"), ("config: [1, 2", "is not valid YAML"), ("config: 5\n", "has no `config:` map")],
)
def test_unreadable_stack_file_exits_2(tmp_path, capsys, content, message):
    path = tmp_path / "Pulumi.x.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SystemExit) as exited:
        main(["plan", "--config-file", str(path)])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_boot_script_command_prints_the_dev_nodes_user_data(capsys):
    assert main(["boot-script"]) == 0
    script = capsys.readouterr().out
    assert script.startswith("#!/bin/bash\n")
    assert "secretsmanager" in script and PLACEHOLDER_SECRET not in script


def test_readme_bad_input_table_shows_the_real_messages(capsys):
    main(["config-reference", "--bad-inputs"])
    table = capsys.readouterr().out
    assert table.count("\n") == 30
    assert table in CONFIGURATION.read_text(), "docs/configuration.md bad-input table is stale: paste its output"


def test_readme_native_bad_input_table_shows_the_real_messages(capsys):
    main(["config-reference", "--native-bad-inputs"])
    table = capsys.readouterr().out
    assert table.count("\n") == 25  # 19, the enrolment rate, 5 of the hub's RAM share
    assert "nativeNode" in table
    assert table in CONFIGURATION.read_text(), "docs/configuration.md native bad-input table is stale: paste it"


def test_readme_config_table_is_the_models(capsys):
    main(["config-reference"])
    table = capsys.readouterr().out
    assert table.startswith("| key | type | default | what it is |")
    assert table in CONFIGURATION.read_text(), "docs/configuration.md config table is stale: paste config-reference"


def test_native_stack_plan_asks_for_an_api_token(capsys):
    assert main(["plan", "--stack", "native"]) == 0
    out = capsys.readouterr().out
    assert "pulumi config set --secret wallarm-mirror:token <API token> --stack native" in out
