"""The enrolment function at fleet scale, as the plan of the example stack file Pulumi.native.yaml
shows it: reserved concurrency, launch events batched through a queue, the metric filters of its
pending and failed enrolments, and the alarm for sources left pending."""

from __future__ import annotations

import json

import pytest

from tests.components.test_native_stack import TAGGED
from wallarm_mirror.components import enrolment as component
from wallarm_mirror.offline import plan
from wallarm_mirror.offline.engine import OfflineRun, run_offline
from wallarm_mirror.traffic_mirror import enrolment as code


@pytest.fixture(scope="module")
def native() -> OfflineRun:
    stack_file = plan.read_stack_file(plan.PROJECT_DIR / "Pulumi.native.yaml", "wallarm-mirror", "native")
    return run_offline(stack_file.config, stack_file.secret_keys, stack="native")


def test_the_function_has_reserved_concurrency_for_one_reconcile_and_one_batch(native: OfflineRun) -> None:
    function = native.only_named("Function", "wallarm-mirror-enrolment").inputs
    assert function["reservedConcurrentExecutions"] == 2 == code.CONCURRENCY
    # The deadline margin leaves most of the timeout to work; the timeout ends before the next schedule.
    assert function["timeout"] / 4 > code.DEADLINE_MARGIN_S and function["timeout"] < 300
    assert function["environment"]["variables"][code.ENV_MUTATION_RATE] == "4"
    [invoke] = native.all("FunctionEventInvokeConfig")
    assert invoke.inputs["maximumRetryAttempts"] == 0, "the schedule is the retry"


def test_launch_events_reach_the_function_in_batches_through_an_encrypted_queue(native: OfflineRun) -> None:
    queue = native.only_named("Queue", "wallarm-mirror-enrolment-events")
    queue_arn = native.state_of("Queue", queue.name)["arn"]
    target = native.only_named("EventTarget", "wallarm-mirror-enrolment-running-target").inputs
    assert target["arn"] == queue_arn
    mapping = native.only("EventSourceMapping").inputs
    assert mapping["eventSourceArn"] == queue_arn
    assert mapping["functionName"] == native.state_of("Function", "wallarm-mirror-enrolment")["arn"]
    assert (mapping["batchSize"], mapping["maximumBatchingWindowInSeconds"]) == (200, 20)
    assert mapping["batchSize"] == code.FILTER_CHUNK, "one DescribeInstances per batch"
    assert queue.inputs["sqsManagedSseEnabled"] is True
    assert queue.inputs["visibilityTimeoutSeconds"] >= 6 * component.TIMEOUT_SECONDS
    redrive = json.loads(queue.inputs["redrivePolicy"])
    assert redrive["deadLetterTargetArn"] == native.state_of("Queue", "wallarm-mirror-enrolment-dlq")["arn"]
    [statement] = json.loads(native.only("QueuePolicy").inputs["policy"])["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": native.state_of("EventRule", "wallarm-mirror-enrolment-running")["arn"]}
    }


def test_the_role_may_read_and_delete_messages_of_its_own_queue_only(native: OfflineRun) -> None:
    document = json.loads(native.only_named("RolePolicy", "wallarm-mirror-enrolment-policy").inputs["policy"])
    sqs = [s for s in document["Statement"] if "sqs:ReceiveMessage" in json.dumps(s["Action"])]
    assert sqs == [
        {
            "Sid": "ReceiveLaunchEvents",
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": native.state_of("Queue", "wallarm-mirror-enrolment-events")["arn"],
        }
    ]


def test_pending_and_failed_enrolments_become_metrics_of_the_stack(native: OfflineRun) -> None:
    filters = {f.name: f.inputs for f in native.all("LogMetricFilter")}
    log_group = native.only_named("LogGroup", "wallarm-mirror-enrolment-logs").inputs["name"]
    line = json.loads(code.metric_line("native", "reconcile", 2, 7))
    for metric, value in (("EnrolmentPending", 7), ("EnrolmentFailed", 2)):
        found = filters[f"wallarm-mirror-enrolment-{metric.removeprefix('Enrolment').lower()}-metric"]
        assert found["logGroupName"] == log_group
        assert found["pattern"] == f"{{ $.{metric} >= 0 }}"
        transformation = found["metricTransformation"]
        assert (transformation["namespace"], transformation["name"]) == ("WallarmMirror", metric)
        assert transformation["dimensions"] == {"Stack": "$.Stack"} and line["Stack"] == "native"
        assert transformation["value"] == f"$.{metric}" and line[metric] == value


def test_an_alarm_fires_when_sources_stay_pending_for_an_hour(native: OfflineRun) -> None:
    alarm = native.only_named("MetricAlarm", "wallarm-mirror-enrolment-pending").inputs
    assert alarm["name"] == "wallarm-mirror-native-enrolment-pending"
    assert (alarm["namespace"], alarm["metricName"], alarm["dimensions"]) == (
        "WallarmMirror",
        "EnrolmentPending",
        {"Stack": "native"},
    )
    assert (alarm["statistic"], alarm["comparisonOperator"], alarm["threshold"]) == (
        "Minimum",
        "GreaterThanThreshold",
        0,
    )
    assert alarm["period"] * alarm["evaluationPeriods"] == 3600 == alarm["period"] * alarm["datapointsToAlarm"]
    topic = native.state_of("Topic", "wallarm-mirror-alarms")["arn"]
    assert alarm["alarmActions"] == [topic] == alarm["okActions"]


def test_without_stack_alarms_the_pending_alarm_still_exists_without_actions(run_stack) -> None:
    run = run_stack(TAGGED, alarmsEnabled=False)
    alarm = run.only_named("MetricAlarm", "wallarm-mirror-enrolment-pending").inputs
    assert alarm.get("alarmActions") in (None, []) and run.all("Topic") == []


def test_the_enrolment_rate_reaches_the_function(run_stack) -> None:
    run = run_stack(TAGGED, trafficMirrorEnrolmentRate=2.5)
    variables = run.only("Function").inputs["environment"]["variables"]
    assert variables[code.ENV_MUTATION_RATE] == "2.5"
    assert code.Settings.from_environ({**variables, code.ENV_TARGET_ID: "tmt-1", code.ENV_FILTER_ID: "tmf-1"})
