"""What a new user meets first (issue 22): stand-ins in the stack's region and never passed off as
real, every command's --help, --stack meaning one thing, the stack named after its file, and the
mistakes the offline plan used to let through, each refused naming its key."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml

from wallarm_mirror.__main__ import build_parser, main
from wallarm_mirror.offline.engine import zone_id_prefix

ROOT = Path(__file__).resolve().parents[2]


def example_config(name: str, **changes: object) -> dict[str, object]:
    config = yaml.safe_load((ROOT / f"Pulumi.{name}.yaml").read_text())["config"]
    config.update(changes)
    return {key: value for key, value in config.items() if value is not None}


def write_stack(tmp_path: Path, file_name: str, config: dict[str, object]) -> Path:
    path = tmp_path / file_name
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run a command that must exit 2; its stderr, which must carry no traceback."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    assert "Traceback" not in err and err.startswith("error: ")
    return err


# --- item 1: stand-ins follow aws:region, and are never printed as a real endpoint ----------


@pytest.mark.parametrize("example", ["dev", "native", "prod"])
def test_a_stack_in_eu_central_1_plans_with_no_eu_west_1_anywhere(example, tmp_path, capsys) -> None:
    text = (ROOT / f"Pulumi.{example}.yaml").read_text()
    region = yaml.safe_load(text)["config"]["aws:region"]
    text = text.replace(region, "eu-central-1")  # the stack's ARNs move with it
    path = tmp_path / f"Pulumi.{example}.yaml"
    path.write_text(text)
    assert main(["plan", "--json", "--config-file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "eu-west-1" not in out and "euw1" not in out and region not in out
    assert ".eu-central-1.elb.amazonaws.com" in out or ".elb.eu-central-1.amazonaws.com" in out
    assert ":eu-central-1:111111111111:" in out  # the ARNs
    assert "Z32O12XQLNTSW2" not in out  # eu-west-1's real ALB hosted zone; the stand-in says it is one
    if example != "native":
        assert json.loads(out)["outputs"]["alb_zone_id"] == "ZOFFLINEEUC1"


def test_zone_ids_are_shaped_as_aws_names_them() -> None:
    assert [zone_id_prefix(r) for r in ("eu-west-1", "eu-central-1", "ap-southeast-2", "us-gov-west-1")] == [
        "euw1",
        "euc1",
        "apse2",
        "usgw1",
    ]


def test_mirror_config_refuses_the_stand_in_alb_name_and_says_what_to_run(tmp_path, capsys) -> None:
    path = write_stack(tmp_path, "Pulumi.edge.yaml", example_config("dev", **{"aws:region": "eu-central-1"}))
    err = refused(capsys, ["mirror-config", "--config-file", str(path), "--server", "nginx"])
    assert "elb.amazonaws.com is a stand-in" in err and "endpointHostname" in err
    assert '--endpoint "$(pulumi stack output mirror_endpoint --stack edge)"' in err
    assert capsys.readouterr().out == ""  # nothing printed that could be pasted


def test_mirror_config_prints_for_a_stack_with_its_own_endpoint_name(capsys) -> None:
    assert main(["mirror-config", "--stack", "prod", "--server", "nginx"]) == 0
    out = capsys.readouterr().out
    assert "server wallarm-mirror.prod.internal.example.com:8445" in out and "elb.amazonaws.com:8445" not in out


# --- item 4: commands behave alike --------------------------------------------------------------


def subcommands() -> dict[str, argparse.ArgumentParser]:
    [action] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


COMMANDS = ["plan", "boot-script", "mirror-config", "diff", "config-reference", "status"]


def test_the_list_of_commands_is_complete() -> None:
    assert sorted(subcommands()) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_works_for_every_command_and_describes_it(command, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        code = main([command, "--help"])
        raise SystemExit(code)  # diff returns its code rather than exiting
    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert out.startswith(f"usage: python -m wallarm_mirror {command}")
    description = out.split("\n\n")[1]
    assert not description.startswith(("options:", "positional arguments:")), f"{command} --help has no description"


@pytest.mark.parametrize("command", ["plan", "boot-script", "mirror-config", "status"])
def test_stack_means_a_pulumi_stack_name_in_every_command(command) -> None:
    [stack] = [a for a in subcommands()[command]._actions if "--stack" in a.option_strings]
    assert stack.metavar == "NAME"
    assert stack.help is not None and "the Pulumi stack NAME" in stack.help
    assert "to plan" not in stack.help


@pytest.mark.parametrize(
    ("file_name", "stack"), [("Pulumi.edge.yaml", "edge"), ("x.yaml", "x"), ("Pulumi.eu.prod.yml", "eu.prod")]
)
def test_a_stack_file_names_its_stack_by_its_stem(file_name, stack, tmp_path, capsys) -> None:
    path = write_stack(tmp_path, file_name, example_config("dev"))
    assert main(["plan", "--json", "--config-file", str(path)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["stack"] == stack
    alarms = [r["inputs"]["name"] for r in document["resources"] if r["type"].endswith("MetricAlarm")]
    assert alarms and all(name.startswith(f"wallarm-mirror-{stack}-") for name in alarms)
    named = json.dumps([document["resources"], document["outputs"]])
    assert ".yaml" not in named and ".yml" not in named


# --- item 5: what `pulumi up` would not let through ---------------------------------------------


def test_a_bare_key_is_the_projects_as_the_cli_reads_it(tmp_path, capsys) -> None:
    """workspace/loaders.go, stackConfigNamespacedWithProject: `instanceType` is `<project>:instanceType`."""
    config = example_config("dev", **{"wallarm-mirror:instanceType": None, "instanceType": "c5.large"})
    assert main(["plan", "--json", "--config-file", str(write_stack(tmp_path, "Pulumi.d.yaml", config))]) == 0
    [template] = [r for r in json.loads(capsys.readouterr().out)["resources"] if r["name"].endswith("-lt")]
    assert template["inputs"]["instanceType"] == "c5.large"


def test_a_bare_key_without_a_value_is_the_empty_string_and_refused_by_key(tmp_path, capsys) -> None:
    """checkForEmptyConfig: a key with no value reaches the program as "", as with `pulumi up`."""
    path = tmp_path / "Pulumi.d.yaml"
    path.write_text(yaml.safe_dump({"config": example_config("dev")}) + "  instanceType:\n")
    err = refused(capsys, ["plan", "--config-file", str(path)])
    assert "wallarm-mirror:instanceType: '' does not look like an EC2 instance type" in err


@pytest.mark.parametrize("key", ["wallarm:instanceType", "wallarm-mirrror:minSize", "Wallarm_Mirror:vpcId"])
def test_a_key_of_another_namespace_meant_for_ours_is_refused(key, tmp_path, capsys) -> None:
    """Pulumi passes every namespace to the program, which reads only its own: the key would be ignored."""
    path = write_stack(tmp_path, "Pulumi.d.yaml", example_config("dev", **{key: "t3.large"}))
    err = refused(capsys, ["plan", "--config-file", str(path)])
    name = key.split(":")[1]
    assert f"{key}: is in namespace {key.split(':')[0]}, which this program never reads" in err
    assert f"rename it wallarm-mirror:{name}" in err


def test_a_key_with_too_many_colons_is_refused_as_the_cli_does(tmp_path, capsys) -> None:
    path = write_stack(tmp_path, "Pulumi.d.yaml", example_config("dev", **{"wallarm-mirror:a:b": "x"}))
    assert "wallarm-mirror:a:b: is not a config key" in refused(capsys, ["plan", "--config-file", str(path)])


def test_another_providers_keys_are_left_to_it(tmp_path, capsys) -> None:
    config = example_config("dev", **{"aws:profile": "ops", "random:seed": "1", "github:token": "x"})
    assert main(["plan", "--config-file", str(write_stack(tmp_path, "Pulumi.d.yaml", config))]) == 0


def test_a_stack_file_without_aws_region_is_refused(tmp_path, capsys) -> None:
    path = write_stack(tmp_path, "Pulumi.d.yaml", example_config("dev", **{"aws:region": None}))
    err = refused(capsys, ["plan", "--config-file", str(path)])
    assert err.startswith("error: aws:region: not set in Pulumi.d.yaml") and "pulumi config set aws:region" in err


@pytest.mark.parametrize(
    ("key", "arn"),
    [
        ("certificateArn", "arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"),
        ("alarmTopicArn", "arn:aws:sns:us-east-1:123456789012:ops"),
        ("tokenKmsKeyArn", "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"),
    ],
)
def test_an_arn_in_another_region_than_the_stack_is_refused(key, arn, tmp_path, capsys) -> None:
    path = write_stack(tmp_path, "Pulumi.d.yaml", example_config("dev", **{f"wallarm-mirror:{key}": arn}))
    err = refused(capsys, ["plan", "--config-file", str(path)])
    assert f"wallarm-mirror:{key}: is in us-east-1, but the stack deploys to eu-west-1 (aws:region)" in err


def test_an_arn_in_the_stacks_region_plans(tmp_path, capsys) -> None:
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
    path = write_stack(tmp_path, "Pulumi.d.yaml", example_config("dev", **{"wallarm-mirror:certificateArn": arn}))
    assert main(["plan", "--config-file", str(path)]) == 0


@pytest.mark.parametrize(("seconds", "ok"), [(30, False), (5.5, False), (5, True), (0.5, True)])
def test_a_mirror_timeout_beyond_five_seconds_is_refused(seconds, ok, tmp_path, capsys) -> None:
    options = {"wallarm-mirror:mirrorOptions": {"timeoutSeconds": seconds}}
    path = write_stack(tmp_path, "Pulumi.d.yaml", example_config("dev", **options))
    if ok:
        assert main(["plan", "--config-file", str(path)]) == 0
        return
    err = refused(capsys, ["plan", "--config-file", str(path)])
    assert f"wallarm-mirror:mirrorOptions: timeoutSeconds={seconds} is out of range: use 0.001 to 5 seconds" in err


# --- item 6: messages that point the right way ------------------------------------------------


def test_a_bad_second_subnet_gets_the_fix_for_the_second(tmp_path, capsys) -> None:
    subnets = ["subnet-0a1b2c3d4e5f60711", "subnet-0a1b2c3d4e5f6072z"]
    path = write_stack(tmp_path, "Pulumi.d.yaml", example_config("dev", **{"wallarm-mirror:albSubnetIds": subnets}))
    err = refused(capsys, ["plan", "--config-file", str(path)])
    assert "Fix: pulumi config set --path 'wallarm-mirror:albSubnetIds[1]' subnet-..." in err
    assert "albSubnetIds[0]" not in err


def test_a_misspelt_key_gets_its_did_you_mean_alone(tmp_path, capsys) -> None:
    config = example_config("dev")
    config["wallarm-mirror:mirrorSourceCidr"] = config.pop("wallarm-mirror:mirrorSourceCidrs")
    err = refused(capsys, ["plan", "--config-file", str(write_stack(tmp_path, "Pulumi.d.yaml", config))])
    assert "has 1 problem:" in err and "no mirror source" not in err
    assert "wallarm-mirror:mirrorSourceCidr: unknown key; did you mean wallarm-mirror:mirrorSourceCidrs?" in err


def test_a_misspelt_key_keeps_the_other_real_problems_after_it(tmp_path, capsys) -> None:
    config = example_config("dev", **{"wallarm-mirror:minSize": 3})  # above maxSize 2: a problem of its own
    config["wallarm-mirror:mirrorSourceCidr"] = config.pop("wallarm-mirror:mirrorSourceCidrs")
    err = refused(capsys, ["plan", "--config-file", str(write_stack(tmp_path, "Pulumi.d.yaml", config))])
    problems = [line for line in err.splitlines() if line.startswith("  - ")]
    assert "did you mean wallarm-mirror:mirrorSourceCidrs?" in problems[0]
    assert any("maxSize" in p for p in problems[1:]) and "no mirror source" not in err


@pytest.mark.parametrize("server", ["aws-cli", "host"])
def test_mirror_config_of_a_native_stack_checks_its_file_as_plan_does(server, tmp_path, capsys) -> None:
    """--server aws-cli and host read the stack file without running the program: the same checks apply."""
    config = example_config("native", **{"wallarm:nodeGroup": "typo"})
    path = write_stack(tmp_path, "Pulumi.n.yaml", config)
    err = refused(capsys, ["mirror-config", "--server", server, "--config-file", str(path)])
    assert "wallarm:nodeGroup: is in namespace wallarm" in err
