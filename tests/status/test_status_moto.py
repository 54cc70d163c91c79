"""`status` against a stack built in moto (server mode on 127.0.0.1): the exit code and the lines a
user reads, for both analysers. Where moto cannot answer (console text, scaling failures, health
reasons) a before-call hook answers that one operation (tests/status/moto_stack.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.config
import pytest

from tests.node.boot.moto_server import MotoServer
from tests.ports import RefusingPort
from tests.status.conftest import FakeClock, StatusRunner, aws_environment
from tests.status.moto_stack import MotoStack, build_stack
from wallarm_mirror.status import aws as status_aws
from wallarm_mirror.status.checks import NO_TRAFFIC

DONE = {
    "nginxNode": "wallarm-boot: the Wallarm node is configured",
    "nativeNode": "wallarm-boot: the Wallarm Native Node is installed and ready",
}
ANALYSERS = ["nginxNode", "nativeNode"]


def booted(moto: MotoServer, analyser: str) -> MotoStack:
    """A stack whose nodes all logged their success line (and no traffic yet, no alarm)."""
    stack = build_stack(moto, analyser)
    stack.console({instance: DONE[analyser] for instance in stack.instance_ids})
    return stack


def healthy(moto: MotoServer, analyser: str) -> MotoStack:
    stack = booted(moto, analyser)
    stack.send_traffic()
    stack.alarm("cpu-high", "Wallarm nodes average over 85% CPU for 15 minutes.", firing=False)
    return stack


class Shared:
    """Stacks that tests only read, built on first use once per test process on its shared server
    (each build is ~15 calls to moto): a test gets its own copy (`MotoStack.fresh`) to set hooks on.
    A test that changes a stack in moto (stops a node, sets an alarm, sends traffic, launches web
    instances) builds its own. The traffic is sent once, 1 to 5 minutes before the build: it stays in
    status's 15-minute window for 10 minutes, longer than the suite runs."""

    def __init__(self, moto: MotoServer) -> None:
        self._moto = moto
        self._built: dict[tuple[str, str], MotoStack] = {}

    def _stack(self, kind: str, analyser: str, build: Callable[[MotoServer, str], MotoStack]) -> MotoStack:
        if (kind, analyser) not in self._built:
            self._built[kind, analyser] = build(self._moto, analyser)
        return self._built[kind, analyser].fresh()

    def healthy(self, analyser: str) -> MotoStack:
        """Nodes booted and healthy, traffic in the last 15 minutes, an alarm at OK."""
        return self._stack("healthy", analyser, healthy)

    def quiet(self, analyser: str) -> MotoStack:
        """Nodes booted and healthy, no traffic ever, no alarm."""
        return self._stack("quiet", analyser, booted)


@pytest.fixture(scope="session")
def shared(moto: MotoServer) -> Shared:
    return Shared(moto)


@pytest.mark.parametrize("analyser", ANALYSERS)
def test_a_healthy_stack_with_traffic_exits_0(shared: Shared, status: StatusRunner, analyser: str) -> None:
    stack = shared.healthy(analyser)
    run = status(stack)
    assert run.code == 0, run.out
    assert run.out.splitlines()[0] == f"wallarm-mirror status: stack {stack.stack}, {analyser}, eu-west-1"
    assert run.line("asg", stack.outputs["asg_name"]).startswith("ok    asg      ")
    assert "2 of 2 in service (desired 2, min 1, max 4; InService 2)" in run.line("asg", stack.outputs["asg_name"])
    for instance in stack.instance_ids:
        assert run.line("target", instance).startswith("ok")
        assert run.line("boot", instance).endswith(DONE[analyser])
    traffic = run.line("traffic", stack.load_balancer_dimension)
    if analyser == "nginxNode":
        assert "200 mirrored requests in 15 min (13.3/min)" in traffic
    else:  # 40 packets of 900 bytes a minute for 5 minutes
        assert "175.8 KiB in 200 packets in 15 min (200 B/s, 0.2 packets/s)" in traffic
        sessions = run.line("sources", stack.outputs["traffic_mirror_target_id"])
        assert sessions.startswith("ok") and "1 AWS traffic mirror session(s) send to the NLB" in sessions
    assert "none of the stack's 1 alarms is in ALARM" in run.out
    checks = 7 if analyser == "nginxNode" else 8
    assert run.out.splitlines()[-1] == f"status: healthy ({checks} ok, 0 warn, 0 fail)"
    assert run.err == ""


def test_an_unhealthy_target_exits_1_naming_the_instance_and_the_reason(shared: Shared, status: StatusRunner) -> None:
    stack = shared.healthy("nginxNode")
    sick = stack.instance_ids[0]
    stack.target_health(
        {
            sick: {
                "State": "unhealthy",
                "Reason": "Target.ResponseCodeMismatch",
                "Description": "Health checks failed with these codes: [502]",
            }
        }
    )
    failed = "wallarm-boot: FAILED: nginx -t: the Wallarm snippet is missing"
    stack.console({stack.instance_ids[0]: failed, stack.instance_ids[1]: DONE["nginxNode"]})
    run = status(stack)
    assert run.code == 1
    line = run.line("target", sick)
    assert line.startswith("fail")
    assert 'unhealthy (port 8445): Target.ResponseCodeMismatch "Health checks failed with these codes: [502]"' in line
    assert "→ the node answers its health check with an unexpected status: read its boot line" in line
    assert run.line("boot", sick).startswith("fail") and failed in run.line("boot", sick)
    assert run.line("target", stack.instance_ids[1]).startswith("ok")
    assert run.out.splitlines()[-1] == "status: degraded (5 ok, 0 warn, 2 fail)"


def test_a_stopped_native_node_is_unused_with_moto_s_own_reason(moto: MotoServer, status: StatusRunner) -> None:
    """No hook: moto reports a stopped instance's target as unused (Target.InvalidState), as AWS does."""
    stack = healthy(moto, "nativeNode")
    stopped = stack.instance_ids[1]
    moto.client("ec2").stop_instances(InstanceIds=[stopped])
    run = status(stack)
    assert run.code == 1
    assert 'unused (port 4789): Target.InvalidState "Target is in the stopped state"' in run.line("target", stopped)
    assert run.line("target", stopped).startswith("fail")


@pytest.mark.parametrize("analyser", ANALYSERS)
def test_no_traffic_exits_1_with_what_to_check(shared: Shared, status: StatusRunner, analyser: str) -> None:
    stack = shared.quiet(analyser)
    run = status(stack)
    assert run.code == 1
    line = run.line("traffic", stack.load_balancer_dimension)
    assert line.startswith("fail")
    assert NO_TRAFFIC in line
    if analyser == "nativeNode":
        assert "0 bytes in 15 min" in line
        assert stack.outputs["traffic_mirror_session_ids"][0] in line and "mirror-config --server aws-cli" in line
    else:
        assert "0 requests in 15 min" in line


def test_traffic_of_another_load_balancer_does_not_count(shared: Shared, status: StatusRunner) -> None:
    stack, other = shared.quiet("nginxNode"), shared.healthy("nginxNode")  # `other` has had traffic
    run = status(stack)
    assert run.code == 1
    # The line itself: the exit code alone would be 1 anyway (this stack has no alarm: a warn line).
    traffic = run.line("traffic", stack.load_balancer_dimension)
    assert traffic.startswith("fail") and "0 requests in 15 min" in traffic
    assert other.load_balancer_dimension not in run.out


def test_failed_scaling_activities_are_shown_verbatim(shared: Shared, status: StatusRunner) -> None:
    stack = shared.healthy("nginxNode")
    marketplace = (
        "In order to use this AWS Marketplace product you need to accept terms and subscribe. To do so please "
        "visit https://aws.amazon.com/marketplace/pp?sku=abc. Launching EC2 instance failed."
    )
    now = datetime.now(UTC)
    stack.activities(
        [
            {
                "ActivityId": "a2",
                "AutoScalingGroupName": stack.outputs["asg_name"],
                "Cause": "scaling",
                "Description": "Launching a new EC2 instance.  Status Reason: ...",
                "StartTime": now - timedelta(minutes=2),
                "StatusCode": "Failed",
                "StatusMessage": marketplace,
                "Progress": 100,
            },
            {
                "ActivityId": "a1",
                "AutoScalingGroupName": stack.outputs["asg_name"],
                "Cause": "scaling",
                "Description": "Launching a new EC2 instance: i-0",
                "StartTime": now - timedelta(hours=1),
                "StatusCode": "Successful",
                "Progress": 100,
            },
        ]
    )
    run = status(stack)
    assert run.code == 1
    line = run.line("asg", stack.outputs["asg_name"])
    assert line.startswith("warn")  # two nodes still serve
    assert "latest failed activity" in line and "1 since the last success" in line
    assert marketplace in line
    assert "subscribe the account to the AMI's AWS Marketplace product" in line


def test_an_alarm_in_alarm_exits_1_with_its_name(moto: MotoServer, status: StatusRunner) -> None:
    stack = healthy(moto, "nginxNode")
    stack.alarm("unhealthy-nodes", "A Wallarm node has failed its health check for 10 minutes.", firing=True)
    run = status(stack)
    assert run.code == 1
    line = run.line("alarms", f"wallarm-mirror-{stack.stack}-*")
    assert line.startswith("fail")
    assert f"1 in ALARM: wallarm-mirror-{stack.stack}-unhealthy-nodes: A Wallarm node has failed" in line


def test_without_the_stack_name_alarms_are_found_by_what_they_watch(moto: MotoServer, status: StatusRunner) -> None:
    stack = healthy(moto, "nativeNode")
    stack.alarm("cpu-high", "Wallarm Native Nodes average over 85% CPU.", firing=True)
    run = status(stack, anonymous=True)
    assert run.out.splitlines()[0] == "wallarm-mirror status: stack outputs, nativeNode, eu-west-1"
    stack_free = [line for line in run.out.splitlines() if line.split()[1] == "alarms"]
    assert run.code == 1 and len(stack_free) == 1
    assert f"wallarm-mirror-{stack.stack}-cpu-high" in stack_free[0]


def test_json_output(shared: Shared, status: StatusRunner) -> None:
    stack = shared.healthy("nativeNode")
    run = status(stack, as_json=True)
    document = json.loads(run.out)
    assert run.code == document["exit_code"] == 0
    assert document["analyser"] == "nativeNode" and document["region"] == "eu-west-1"
    assert [c["check"] for c in document["checks"]] == [
        "asg",
        "target",
        "target",
        "boot",
        "boot",
        "sources",
        "traffic",
        "alarms",
    ]
    assert {c["status"] for c in document["checks"]} == {"ok"}


def test_wait_polls_until_traffic_arrives(moto: MotoServer, status: StatusRunner, clock: FakeClock) -> None:
    stack = booted(moto, "nginxNode")
    stack.alarm("cpu-high", "Wallarm nodes average over 85% CPU for 15 minutes.", firing=False)
    rounds = []

    def traffic_on_the_second_round(**_: object) -> None:
        rounds.append(1)
        if len(rounds) == 2:
            stack.send_traffic()  # the web tier starts mirroring between two rounds

    stack.hooks["before-call.cloudwatch.GetMetricData"] = traffic_on_the_second_round
    run = status(stack, wait=30, interval=15)
    assert run.code == 0 and len(rounds) == 2 and clock.sleeps == [15]
    assert re.match(r"status: waiting \(0 of 30 s\): traffic app/\S+: fail$", run.err)
    assert len(run.err.splitlines()) == 1


def test_wait_gives_up_when_the_time_is_up(shared: Shared, status: StatusRunner, clock: FakeClock) -> None:
    stack = shared.quiet("nginxNode")  # no traffic, ever
    run = status(stack, wait=20, interval=15)
    assert run.code == 1
    assert clock.sleeps == [15, 5], "a round at 0, 15 and 20 s: the last sleep only as long as the time left"
    assert [line.split(")")[0] for line in run.err.splitlines()] == [
        "status: waiting (0 of 20 s",
        "status: waiting (15 of 20 s",
    ]
    assert "status: degraded" in run.out.splitlines()[-1]


# ---- bad input: exit 2, one sentence, no AWS call at all


ELB = "arn:aws:elasticloadbalancing:eu-west-1:123456789012"
ALB, TG = f"{ELB}:loadbalancer/app/a/0123abcd", f"{ELB}:targetgroup/t/0123abcd"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("{not json", "is not JSON (Expecting property name enclosed in double quotes at line 1)"),
        ([], "holds a JSON list, not the object of a stack's outputs"),
        (
            {"mirror_endpoint": "http://x"},
            "has neither alb_arn (nginxNode) nor nlb_arn (nativeNode) (its keys: mirror_endpoint)",
        ),
        ({"alb_arn": ALB}, "(nginxNode outputs): target_group_arn is missing; asg_name is missing"),
        (
            {"nlb_arn": ALB, "target_group_arn": TG, "asg_name": "g"},
            f"nlb_arn '{ALB}' is not the ARN of a network load balancer (…:loadbalancer/net/NAME/ID)",
        ),
        (
            {"alb_arn": ALB, "target_group_arn": TG.replace("eu-west-1", "us-east-1"), "asg_name": "[secret]"},
            'asg_name is "[secret]", not a name or an ARN; alb_arn and target_group_arn name different regions',
        ),
        (
            {"alb_arn": ALB, "target_group_arn": ALB, "asg_name": "g", "traffic_mirror_session_ids": "tms-1"},
            "target_group_arn '" + ALB + "' is not the ARN of a target group (…:targetgroup/NAME/ID); "
            'traffic_mirror_session_ids is "tms-1", not a list of ids',
        ),
    ],
)
def test_a_broken_outputs_file_exits_2(status: StatusRunner, tmp_path: Path, document: object, expected: str) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    run = status(outputs_file=path)
    assert run.code == 2 and run.out == ""
    assert run.err.startswith(f"error: the outputs file {path}")
    assert expected in run.err


def test_a_missing_outputs_file_exits_2(status: StatusRunner, tmp_path: Path) -> None:
    run = status(outputs_file=tmp_path / "nope.json")
    assert (run.code, run.err) == (
        2,
        f"error: cannot read the outputs file {tmp_path / 'nope.json'}: No such file or directory\n",
    )


def test_stack_without_the_pulumi_cli_exits_2(status: StatusRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    run = status(name="dev")
    assert run.code == 2
    assert "--stack dev needs the Pulumi CLI, and `pulumi` is not on PATH" in run.err


def test_stack_runs_the_pulumi_cli(
    shared: Shared, status: StatusRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A stand-in `pulumi` on PATH prints the outputs: status asks it for exactly the named stack."""
    stack = shared.healthy("nginxNode")
    saved = stack.write_outputs(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pulumi = bin_dir / "pulumi"
    pulumi.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\ncat {saved}\n')
    pulumi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setattr(status_aws, "new_session", stack.session)
    run = status(name=f"acme/wallarm-mirror/{stack.stack}")
    assert run.code == 0, run.out + run.err
    assert (tmp_path / "args").read_text() == f"stack output --json --stack acme/wallarm-mirror/{stack.stack}\n"
    assert f"wallarm-mirror-{stack.stack}-*" in run.out  # the short name, as in the alarms' names


# ---- AWS refused: exit 3 naming the IAM action


STATUS_ACTIONS = [
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeScalingActivities",
    "elasticloadbalancing:DescribeTargetHealth",
    "ec2:GetConsoleOutput",
    "cloudwatch:GetMetricData",
    "cloudwatch:DescribeAlarms",
    "ec2:DescribeTrafficMirrorSessions",
    "ec2:DescribeInstances",
    "ssm:DescribeAssociation",
    "ssm:DescribeAssociationExecutions",
    "ssm:DescribeAssociationExecutionTargets",
    "ssm:GetCommandInvocation",
    "ssm:DescribeInstanceInformation",
    "ec2:DescribeSubnets",  # a spoke's mirrored subnets
    "ec2:DescribeRouteTables",  # and their routes to the hub's NLB
]


def moto_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """moto checks CloudWatch calls against the endpoint's prefix (monitoring:GetMetricData) where IAM
    uses cloudwatch:GetMetricData: each cloudwatch: action is granted under both names in moto."""
    statements = [
        {
            **statement,
            "Action": [
                *statement["Action"],
                *(a.replace("cloudwatch:", "monitoring:") for a in statement["Action"] if a.startswith("cloudwatch:")),
            ],
        }
        for statement in policy["Statement"]
    ]
    return {**policy, "Statement": statements}


@pytest.fixture(scope="session")  # created once per process on a shared server: see `aws` in tests/node
def iam_moto(
    shared_iam_moto: MotoServer,
) -> tuple[MotoServer, MotoStack, dict[str, dict[str, str]]]:
    """The process's moto server that enforces IAM (process-wide in moto; tests/conftest.py), with a
    stack and two identities: `reader` holds the documented policy, `partial` all of it but
    cloudwatch:GetMetricData."""
    server = shared_iam_moto
    stack = healthy(server, "nginxNode")
    iam = server.client("iam")
    partial = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [a for a in STATUS_ACTIONS if a != "cloudwatch:GetMetricData"],
                "Resource": "*",
            }
        ],
    }
    keys = {}
    for user, policy in (("reader", readme_policy()), ("partial", partial)):
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="status", PolicyDocument=json.dumps(moto_policy(policy)))
        keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
    return server, stack, keys


def test_a_missing_iam_action_exits_3_naming_it(
    iam_moto: tuple, status: StatusRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, stack, keys = iam_moto
    aws_environment(monkeypatch, server.endpoint, keys["partial"]["AccessKeyId"], keys["partial"]["SecretAccessKey"])
    run = status(stack)
    assert run.code == 3, run.out
    line = run.line("traffic", stack.load_balancer_dimension)
    assert line.startswith("fail") and "AWS refused cloudwatch:GetMetricData (AccessDenied)" in line
    assert "→ allow cloudwatch:GetMetricData (docs/operations.md: the IAM policy of status)" in line
    assert run.out.splitlines()[-1].startswith("status: AWS refused cloudwatch:GetMetricData (6 ok, 0 warn, 1 fail)")
    assert run.line("asg", stack.outputs["asg_name"]).startswith("ok")  # what was allowed still ran


def test_wait_ends_at_once_on_a_refusal(
    iam_moto: tuple, status: StatusRunner, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    """A refusal does not go away by waiting: the first round that AWS refuses ends --wait with exit 3,
    one round of calls and no "waiting" line (issue 22: a --wait that kept polling went unnoticed)."""
    server, shared_stack, keys = iam_moto
    stack = shared_stack.fresh()
    aws_environment(monkeypatch, server.endpoint, keys["partial"]["AccessKeyId"], keys["partial"]["SecretAccessKey"])
    rounds = []
    stack.hooks["before-call.auto-scaling.DescribeAutoScalingGroups"] = lambda **_: rounds.append(1)
    run = status(stack, wait=30, interval=15)
    assert run.code == 3, run.out
    assert len(rounds) == 1, f"{len(rounds)} rounds of checks after AWS refused the first"
    assert run.err == "" and clock.sleeps == [], "no waiting line, no wait, after a refusal"
    assert run.out.splitlines()[-1].startswith("status: AWS refused cloudwatch:GetMetricData")


def test_the_readme_policy_is_enough(iam_moto: tuple, status: StatusRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """The identity holding the documented policy gets a full report (exit 0). GetConsoleOutput is
    answered by the stack's hook before IAM is asked: moto refuses the documented instance-ARN-and-tag
    statement even for an instance that carries the tag, so it cannot judge that one."""
    server, stack, keys = iam_moto
    aws_environment(monkeypatch, server.endpoint, keys["reader"]["AccessKeyId"], keys["reader"]["SecretAccessKey"])
    run = status(stack)
    assert run.code == 0, run.out


def test_the_readme_policy_is_enough_for_a_spoke(
    iam_moto: tuple, status: StatusRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A spoke's checks (sessions, subnets and route tables, alarms) under the documented policy: exit 0."""
    from tests.status.test_status_spoke import spoke

    server, _, keys = iam_moto
    path, made = spoke(server, tmp_path, {"euw1-az1": "10.250.1.10"})
    aws_environment(monkeypatch, server.endpoint, keys["reader"]["AccessKeyId"], keys["reader"]["SecretAccessKey"])
    run = status(outputs_file=path, name="spoke-iam")
    assert run.code == 0, run.out
    assert run.line("route", f"{made['subnet']}->10.250.1.10").startswith("ok")


def readme_policy() -> dict[str, Any]:
    readme = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    block = readme.split("<!-- status-policy -->", 2)[1]
    return json.loads(block.split("```json", 1)[1].split("```", 1)[0])


def test_the_readme_policy_holds_exactly_the_actions_status_calls() -> None:
    actions = sorted({a for s in readme_policy()["Statement"] for a in s["Action"]})
    assert actions == sorted(STATUS_ACTIONS)


def test_no_credentials_exits_3(shared: Shared, status: StatusRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = shared.healthy("nginxNode")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    run = status(stack)
    assert run.code == 3
    assert "no AWS credentials found" in run.out and "Traceback" not in run.out + run.err
    assert run.out.splitlines()[-1].startswith("status: AWS refused credentials")


def test_no_route_to_aws_says_aws_could_not_be_reached(
    shared: Shared, status: StatusRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Valid-looking credentials and no network: nothing was refused, AWS never answered."""
    stack = shared.healthy("nginxNode")
    with RefusingPort() as port:  # the connection is refused at once
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        monkeypatch.setattr(status_aws, "_CLIENT_CONFIG", botocore.config.Config(retries={"max_attempts": 1}))
        run = status(stack)
    assert run.code == 3
    assert "could not reach AWS to call autoscaling:DescribeAutoScalingGroups" in run.out
    assert "check the route to AWS" in run.out and "sign in" not in run.out
    assert run.out.splitlines()[-1].startswith("status: AWS could not be reached (")
    assert "refused" not in run.out.splitlines()[-1] and "Traceback" not in run.out + run.err


def test_a_region_from_the_environment_wins_and_is_named(
    shared: Shared, status: StatusRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = shared.healthy("nginxNode")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    run = status(stack)
    assert "warning: the AWS region from your environment or profile is us-east-1" in run.err
    assert "set AWS_DEFAULT_REGION=eu-west-1" in run.err
    assert run.code == 1 and f"no Auto Scaling group {stack.outputs['asg_name']} in us-east-1" in run.out


# ---- host mirroring (trafficMirrorMethod auto or host)


@pytest.fixture(scope="session")
def web_tier(moto: MotoServer) -> tuple[MotoStack, list[str]]:
    """A healthy nativeNode stack whose source tag is on three web instances: the stack's own and two
    more, whose ids come second. Shared like `Shared`'s stacks: each test takes a copy to hook."""
    stack = healthy(moto, "nativeNode")
    return stack, stack.web_instances(2)


def test_host_mirroring_counts_the_script_s_runs_and_the_hosts_ssm_reaches(
    web_tier: tuple[MotoStack, list[str]], status: StatusRunner
) -> None:
    stack = web_tier[0].fresh()
    tagged = stack.tagged_instances()
    assert len(tagged) == 3
    stack.host_mirroring({host: ("Success", "") for host in tagged}, managed=set(tagged))
    run = status(stack)
    line = run.line("sources", stack.outputs["host_mirror_association_id"])
    assert line.startswith("ok") and "the host script's last run succeeded on 3 of 3 instance(s)" in line
    reach = run.line("ssm", f"role=web-{stack.stack}")
    assert reach.startswith("ok") and "SSM reaches all 3 running tagged instances" in reach
    assert run.code == 0, run.out


def test_a_failed_run_shows_its_error_text_and_unreachable_hosts_are_named(
    web_tier: tuple[MotoStack, list[str]], status: StatusRunner
) -> None:
    stack, hosts = web_tier[0].fresh(), web_tier[1]
    said = "wallarm-mirror-host: the kernel lacks the vxlan module (modprobe vxlan failed)"
    runs = {hosts[0]: ("Success", ""), hosts[1]: ("Failed", f"some noise\n{said}\n")}
    stack.host_mirroring(runs, managed={hosts[0]})
    run = status(stack)
    failed = run.line("sources", hosts[1])
    assert failed.startswith("fail") and f"the host script Failed (Failed): {said}" in failed
    reach = run.line("ssm", f"role=web-{stack.stack}")
    assert reach.startswith("fail") and "2 of 3 running tagged instances are not reachable by SSM" in reach
    assert hosts[1] in reach and "AmazonSSMManagedInstanceCore" in reach
    assert run.code == 1


def test_a_missing_association_fails_its_line(shared: Shared, status: StatusRunner) -> None:
    stack = shared.healthy("nativeNode")
    stack.host_mirroring({}, set(), found=False)
    run = status(stack)
    line = run.line("sources", stack.outputs["host_mirror_association_id"])
    assert line.startswith("fail") and "no SSM association" in line
