"""The public API as a user's type checker sees it (issue 25): mypy, with this project's settings,
passes a program that wires the component to its own resources by Output, and fails one with a
wrong value type and a misspelt arg, naming both args. The good program also plans offline, so it
is a real program, not only a typed one.

mypy runs here as ./dev test runs it (pyproject.toml's settings, the same cache, which ./dev test
fills first: cold, pulumi_aws's types take mypy about 100 s to read).
"""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from wallarm_mirror.offline.engine import run_offline

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = Path(__file__).resolve().parent / "programs"
PROGRAMS_CHECKED = (PROGRAMS / "good_program.py", PROGRAMS / "bad_program.py")


@pytest.fixture(scope="module")
def mypy_errors() -> dict[str, list[str]]:
    """mypy's error lines per program, from one run over both: mypy reports each file's errors on its
    own, and each run first reads the cache of pulumi_aws's types (~1 s of CPU)."""
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            *(str(p) for p in PROGRAMS_CHECKED),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # 1: type errors were found (bad_program has them); anything else is mypy failing to run.
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert checked.stdout.rstrip().endswith(f"(checked {len(PROGRAMS_CHECKED)} source files)"), checked.stdout
    errors: dict[str, list[str]] = {program.name: [] for program in PROGRAMS_CHECKED}
    for line in checked.stdout.splitlines():
        if ": error:" in line:
            errors[Path(line.split(":", 1)[0]).name].append(line)
    return errors


def test_a_program_wiring_outputs_into_the_args_type_checks_and_plans(mypy_errors: dict[str, list[str]]) -> None:
    assert mypy_errors["good_program.py"] == []
    run = run_offline(
        {"aws:region": "eu-west-1"}, stack="lib", program=lambda: runpy.run_path(str(PROGRAMS / "good_program.py"))
    )
    vpc_id = run.id_of("Vpc", "net")
    assert run.only_named("TargetGroup", "waf-tg").inputs["vpcId"] == vpc_id
    assert run.only_named("LoadBalancer", "waf-alb").inputs["subnets"] == [
        run.id_of("Subnet", f"private-{z}") for z in "ab"
    ]
    web_id = run.id_of("SecurityGroup", "web")
    assert any(r.inputs.get("referencedSecurityGroupId") == web_id for r in run.all("SecurityGroupIngressRule"))
    assert run.state_of("Policy", "reader")["arn"] in [a.inputs["policyArn"] for a in run.all("RolePolicyAttachment")]
    [session] = run.all("TrafficMirrorSession")
    assert session.inputs["networkInterfaceId"] == run.id_of("NetworkInterface", "web-eni")


def test_a_wrong_type_a_misspelt_arg_and_the_other_analysers_arg_fail_naming_them(
    mypy_errors: dict[str, list[str]],
) -> None:
    errors = mypy_errors["bad_program.py"]
    assert len(errors) == 3, errors
    assert any('"mirror_source_cidr"' in line and "WallarmMirrorArgs" in line for line in errors), errors
    assert any('"min_size" has type "int"' in line for line in errors), errors
    assert any('"traffic_mirror_ports"' in line and "NginxAnalyserArgs" in line for line in errors), errors
