"""The checks' judgements on hand-built facts (no AWS), the boot lines they rely on, and what
`status` costs the other commands (nothing: boto3 stays off their import path)."""

from __future__ import annotations

import base64
import inspect
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest

from wallarm_mirror.native_node import boot_script as native_boot
from wallarm_mirror.node import boot_script as nginx_boot
from wallarm_mirror.status.aws import (
    BOOT_LOG_PREFIX,
    Activity,
    Aws,
    AwsError,
    AwsRefused,
    GroupFacts,
    Instance,
    TargetFacts,
    last_boot_line,
)
from wallarm_mirror.status.checks import BOOT_DONE, check_boot, check_group, check_targets
from wallarm_mirror.status.result import Status

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
MARKETPLACE = "In order to use this AWS Marketplace product you need to accept terms and subscribe."


def group(in_service: int, desired: int, *activities: tuple[str, int, str]) -> GroupFacts:
    return GroupFacts(
        name="g",
        found=True,
        desired=desired,
        minimum=1,
        maximum=4,
        instances=tuple(Instance(f"i-{n}", "InService", "Healthy") for n in range(in_service)),
        activities=tuple(
            Activity(NOW - timedelta(minutes=age), code, "Launching", message) for code, age, message in activities
        ),
    )


def test_a_group_that_cannot_launch_fails_with_aws_s_message() -> None:
    result = check_group(group(0, 2, ("Failed", 1, MARKETPLACE), ("Failed", 6, MARKETPLACE)), "eu-west-1")
    assert result.status is Status.FAIL
    assert result.evidence == (
        "0 of 2 in service (desired 2, min 1, max 4; no instances); latest failed activity "
        f"(2026-05-01 11:59 UTC, 2 since the last success): {MARKETPLACE}"
    )
    assert "Marketplace product" in result.next_step


def test_a_failure_before_the_last_success_is_history() -> None:
    result = check_group(group(2, 2, ("Successful", 5, ""), ("Failed", 60, MARKETPLACE)), "eu-west-1")
    assert (result.status, result.evidence) == (Status.OK, "2 of 2 in service (desired 2, min 1, max 4; InService 2)")


def test_a_group_short_of_nodes_warns_and_an_empty_or_missing_one_fails() -> None:
    assert check_group(group(1, 2), "eu-west-1").status is Status.WARN
    assert check_group(group(0, 0), "eu-west-1").status is Status.FAIL
    missing = check_group(GroupFacts(name="g", found=False), "us-east-1")
    assert (missing.status, missing.evidence) == (Status.FAIL, "no Auto Scaling group g in us-east-1")


def test_target_states() -> None:
    results = check_targets(
        (
            TargetFacts("i-1", 8445, "healthy"),
            TargetFacts("i-2", 8445, "initial", "Elb.InitialHealthChecking", "Initial health checks in progress"),
            TargetFacts("i-3", 8445, "unhealthy", "Target.Timeout", "Request timed out"),
        ),
        "targetgroup/tg/1",
    )
    assert [r.status for r in results] == [Status.OK, Status.WARN, Status.FAIL]
    assert results[2].evidence == 'unhealthy (port 8445): Target.Timeout "Request timed out"'
    assert check_targets((), "targetgroup/tg/1")[0].status is Status.FAIL


def test_boot_lines() -> None:
    assert check_boot("i-1", "wallarm-boot: the Wallarm node is configured", False).status is Status.OK
    assert check_boot("i-1", "wallarm-boot: FAILED: the node port 8445 is not listening", True).status is Status.FAIL
    assert (
        check_boot("i-1", "wallarm-boot: giving up after 9 attempts in 300s: AccessDenied", False).status is Status.FAIL
    )
    assert check_boot("i-1", "wallarm-boot: running /opt/wallarm/cloud-init.py", False).status is Status.WARN
    assert check_boot("i-1", None, False).status is Status.WARN
    assert check_boot("i-1", None, True).status is Status.OK


def test_the_last_boot_line_is_read_from_the_base64_console() -> None:
    console = (
        "[ 1.0] kernel\n[ 9.1] cloud-init[7]: wallarm-boot: stopping nginx\n"
        "[ 40.2] cloud-init[7]: wallarm-boot: done\nlogin:"
    )
    assert last_boot_line(base64.b64encode(console.encode()).decode()) == "wallarm-boot: done"
    assert last_boot_line(base64.b64encode(b"no boot script here").decode()) is None


@pytest.mark.parametrize(
    ("error", "refused"),
    [
        ({"Error": {"Code": "UnauthorizedOperation", "Message": "You are not authorized"}}, True),
        # A proxy's or a mismatched protocol's 403 page: botocore leaves the status as the code.
        (
            {
                "Error": {"Code": "403", "Message": "<html>Forbidden</html>"},
                "ResponseMetadata": {"HTTPStatusCode": 403},
            },
            True,
        ),
        (
            {"Error": {"Code": "TargetGroupNotFound", "Message": "gone"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
            False,
        ),
    ],
)
def test_which_aws_errors_are_refusals(error: Any, refused: bool) -> None:
    def call() -> None:
        raise botocore.exceptions.ClientError(error, "DescribeTargetHealth")

    aws = Aws(boto3.session.Session(), "eu-west-1")
    with pytest.raises(AwsRefused if refused else AwsError) as raised:
        aws._call("elbv2", "DescribeTargetHealth", call)
    assert "elasticloadbalancing:DescribeTargetHealth" in str(raised.value)
    assert isinstance(raised.value, AwsRefused) is refused


def test_status_reads_the_lines_the_boot_scripts_write() -> None:
    """status keeps its own copy of the prefix and the success lines: they must match the scripts."""
    assert BOOT_LOG_PREFIX == nginx_boot.LOG_PREFIX
    sources = inspect.getsource(nginx_boot) + inspect.getsource(native_boot)
    for line in BOOT_DONE:
        assert f'log "{line}"' in sources


def test_the_command_line_never_shows_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "outputs.json"
    bad.write_text('{"alb_arn": 1}')
    result = subprocess.run(
        [sys.executable, "-m", "wallarm_mirror", "status", "--outputs", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: the outputs file") and "Traceback" not in result.stderr
