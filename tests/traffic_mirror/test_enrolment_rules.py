"""The enrolment function's pure rules: configuration, event shapes, instance types, tokens."""

from __future__ import annotations

import json

import pytest

from wallarm_mirror.traffic_mirror import enrolment
from wallarm_mirror.traffic_mirror.enrolment import (
    ConfigurationError,
    Settings,
    client_token,
    primary_eni,
    running_instance_id,
    unsupported_reason,
)

STATE_CHANGE = "EC2 Instance State-change Notification"
GOOD = {
    enrolment.ENV_TARGET_ID: "tmt-0123456789abcdef0",
    enrolment.ENV_FILTER_ID: "tmf-0123456789abcdef0",
    enrolment.ENV_VNI: "4242",
    enrolment.ENV_SESSION_NUMBER: "1",
    enrolment.ENV_SOURCE_TAGS: json.dumps({"app": "web"}),
    enrolment.ENV_STACK: "prod",
    enrolment.ENV_MANAGED_TAG_KEY: "wallarm-mirror:managed-by",
    enrolment.ENV_MANAGED_TAG_VALUE: "enrolment/prod",
    enrolment.ENV_DESCRIPTION: "Wallarm mirror of stack prod",
    enrolment.ENV_METHOD: "aws",
    enrolment.ENV_MUTATION_RATE: "2.5",
}


def test_settings_read_every_variable() -> None:
    settings = Settings.from_environ(GOOD)
    assert (settings.vni, settings.session_number, dict(settings.source_tags)) == (4242, 1, {"app": "web"})
    assert settings.mutation_rate == 2.5
    assert set(GOOD) == set(enrolment.ENVIRONMENT_VARIABLES)


def test_every_bad_variable_is_named_in_one_error() -> None:
    bad = {
        **GOOD,
        enrolment.ENV_VNI: "16777216",
        enrolment.ENV_SESSION_NUMBER: "0",
        enrolment.ENV_SOURCE_TAGS: "{}",
        enrolment.ENV_TARGET_ID: "",
    }
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_environ(bad)
    for name in (enrolment.ENV_VNI, enrolment.ENV_SESSION_NUMBER, enrolment.ENV_SOURCE_TAGS, enrolment.ENV_TARGET_ID):
        assert name in str(raised.value)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"detail-type": STATE_CHANGE, "detail": {"instance-id": "i-1", "state": "running"}}, "i-1"),
        ({"detail-type": STATE_CHANGE, "detail": {"instance-id": "i-1", "state": "stopped"}}, None),
        ({"detail-type": STATE_CHANGE, "detail": {"state": "running"}}, None),
        ({"detail-type": "Scheduled Event", "detail": {}}, None),
        ({}, None),
    ],
)
def test_only_a_running_state_change_targets_one_instance(event: dict, expected: str | None) -> None:
    assert running_instance_id(event) == expected


@pytest.mark.parametrize(
    ("instance_type", "supported"),
    [
        ("m5.large", True),
        ("c5n.xlarge", True),
        ("m4.large", True),  # one of the non-Nitro types AWS does support
        ("t3.micro", True),
        ("m6i.large", False),
        ("m7i-flex.large", False),
        ("c7g.medium", False),
        ("r8g.large", False),
        ("m5.metal", False),
        ("t2.micro", False),
        ("m3.medium", False),
    ],
)
def test_instance_types_that_cannot_be_sources(instance_type: str, supported: bool) -> None:
    assert (unsupported_reason(instance_type) is None) is supported


def test_the_primary_eni_is_device_index_0_on_card_0() -> None:
    def attached(eni: str, index: int, card: int = 0) -> dict:
        return {"NetworkInterfaceId": eni, "Attachment": {"DeviceIndex": index, "NetworkCardIndex": card}}

    instance = {"NetworkInterfaces": [attached("eni-b", 1), attached("eni-c", 0, card=1), attached("eni-a", 0)]}
    assert primary_eni(instance) == "eni-a"
    assert primary_eni({"NetworkInterfaces": []}) is None


def test_the_client_token_is_stable_within_an_hour_and_new_after_a_restart_or_change() -> None:
    settings = Settings.from_environ(GOOD)
    token = client_token(settings, "eni-1", "2026-12-01T10:00:00+00:00", 100)
    assert token == client_token(settings, "eni-1", "2026-12-01T10:00:00+00:00", 100)
    assert len(token) <= 64 and token.isascii()
    changed = Settings.from_environ({**GOOD, enrolment.ENV_VNI: "1"})
    assert (
        len(
            {
                token,
                client_token(settings, "eni-2", "2026-12-01T10:00:00+00:00", 100),
                client_token(settings, "eni-1", "2026-12-01T11:00:00+00:00", 100),  # stopped and started
                client_token(settings, "eni-1", "2026-12-01T10:00:00+00:00", 101),
                client_token(changed, "eni-1", "2026-12-01T10:00:00+00:00", 100),
            }
        )
        == 5
    )


@pytest.mark.parametrize(
    ("instance_type", "method", "expected"),
    [
        ("m5.large", "auto", "aws"),
        ("m6i.large", "auto", "host"),
        ("t2.micro", "auto", "host"),
        ("m5.metal", "auto", "host"),
        ("m6i.large", "aws", "aws"),
        ("m5.large", "host", "host"),
    ],
)
def test_one_rule_picks_the_method_of_an_instance(instance_type: str, method: str, expected: str) -> None:
    assert enrolment.mirror_method(instance_type, method) == expected


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown traffic mirror method 'both'"):
        enrolment.mirror_method("m5.large", "both")
    with pytest.raises(ConfigurationError, match="TRAFFIC_MIRROR_METHOD='both' is not one of auto, aws, host"):
        Settings.from_environ({**GOOD, enrolment.ENV_METHOD: "both"})


# --- pace, deadline, batches, metrics --------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-1", "5.01", "10", "four", "", "nan", "inf"])
def test_a_bad_mutation_rate_is_named_with_its_range(value: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_environ({**GOOD, enrolment.ENV_MUTATION_RATE: value})
    assert f"{enrolment.ENV_MUTATION_RATE}={value!r} is not a number of calls a second above 0 and at most 5" in str(
        raised.value
    )


def test_the_default_rate_stays_below_ec2s_refill_and_the_shares_add_up_to_it() -> None:
    from wallarm_mirror.config import native_checks

    assert 0 < enrolment.DEFAULT_MUTATION_RATE < enrolment.EC2_MUTATION_REFILL == enrolment.MAX_MUTATION_RATE == 5
    # The config key's check states the same figures (config imports nothing from traffic_mirror).
    assert native_checks.DEFAULT_ENROLMENT_RATE == enrolment.DEFAULT_MUTATION_RATE
    assert native_checks.MAX_ENROLMENT_RATE == enrolment.MAX_MUTATION_RATE
    # One reconcile and one batch at a time (the reserved concurrency) never exceed the budget together.
    assert enrolment.CONCURRENCY == 2
    assert enrolment.RECONCILE_SHARE + (1 - enrolment.RECONCILE_SHARE) <= 1
    # Two invocations' Describe* pace stay below EC2's non-mutating refill (20/s per API).
    assert enrolment.CONCURRENCY * enrolment.DESCRIBE_RATE < 20


def test_the_deadline_margin_covers_the_slowest_call_the_client_allows() -> None:
    config = enrolment.CLIENT_CONFIG
    attempts = config["retries"]["max_attempts"]
    # botocore's standard mode waits at most 1 s, then 2 s, between throttled attempts.
    backoff = sum(2**i for i in range(attempts - 1))
    slowest = attempts * (config["connect_timeout"] + config["read_timeout"]) + backoff
    assert slowest < enrolment.DEADLINE_MARGIN_S


class Clock:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_token_bucket_spends_its_burst_then_waits_one_refill_per_call() -> None:
    clock = Clock()
    bucket = enrolment.TokenBucket(rate=2.0, burst=3.0, clock=clock)
    waits = []
    for _ in range(5):
        wait = bucket.wait()
        waits.append(wait)
        clock.sleep(wait)
        assert bucket.wait() == 0
        bucket.take()
    assert waits == [0, 0, 0, 0.5, 0.5]
    clock.sleep(100)
    assert bucket.wait() == 0 and bucket.tokens == 3.0, "never more than the burst saved up"


def test_pace_waits_for_a_token_and_counts_each_call() -> None:
    clock = Clock()
    pace = enrolment.Pace(1.0, clock, clock.sleep, enrolment.no_deadline, margin=30)
    for _ in range(4):
        pace.before("CreateTrafficMirrorSession")
    pace.before("DescribeInstances")
    # burst of 2 (BURST_SECONDS at 1/s), then one a second; Describe* has its own bucket.
    assert clock.slept == [1.0, 1.0]
    assert pace.calls == {"CreateTrafficMirrorSession": 4, "DescribeInstances": 1}


def test_pace_refuses_a_call_whose_wait_would_end_inside_the_margin() -> None:
    clock = Clock()
    deadline = clock.now + 31.5
    pace = enrolment.Pace(1.0, clock, clock.sleep, lambda: deadline - clock(), margin=30)
    pace.before("DeleteTrafficMirrorSession")  # 31.5 s left, no wait
    pace.before("DeleteTrafficMirrorSession")  # burst: still no wait
    pace.before("DeleteTrafficMirrorSession")  # waits 1 s: 30.5 s left, more than the margin
    with pytest.raises(enrolment.OutOfTime):
        pace.before("DeleteTrafficMirrorSession")  # a 1 s wait would leave 29.5 s: inside the margin
    assert pace.calls == {"DeleteTrafficMirrorSession": 3}


def test_lambda_remaining_reads_the_context_in_seconds() -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 42_500

    assert enrolment.lambda_remaining(Context())() == 42.5
    assert enrolment.lambda_remaining(None)() == float("inf")


def record(body: object) -> dict:
    return {"eventSource": "aws:sqs", "messageId": "m", "body": body if isinstance(body, str) else json.dumps(body)}


def running_event(instance_id: str, state: str = "running") -> dict:
    return {"detail-type": STATE_CHANGE, "detail": {"instance-id": instance_id, "state": state}}


def test_a_batch_of_sqs_records_gives_its_running_instances_once_each_in_order() -> None:
    batch = {
        "Records": [
            record(running_event("i-2")),
            record(running_event("i-1")),
            record(running_event("i-2")),  # EventBridge delivers at least once
            record(running_event("i-3", state="stopped")),
            record("not json"),
            record([1, 2]),
        ]
    }
    assert enrolment.running_instance_ids(batch) == ["i-2", "i-1"]
    assert enrolment.running_instance_ids({"Records": []}) == []
    assert enrolment.running_instance_ids(running_event("i-9")) == ["i-9"]
    assert enrolment.running_instance_ids({"detail-type": "Scheduled Event", "detail": {}}) is None


def test_only_a_reconcile_reports_pending_in_its_metric_line() -> None:
    assert json.loads(enrolment.metric_line("prod", "reconcile", 1, 12)) == {
        "Stack": "prod",
        "mode": "reconcile",
        "EnrolmentFailed": 1,
        "EnrolmentPending": 12,
    }
    # A batch of events does not see the fleet, and a reconcile whose listing was deferred cannot count.
    assert "EnrolmentPending" not in json.loads(enrolment.metric_line("prod", "instance", 0, 3))
    assert "EnrolmentPending" not in json.loads(enrolment.metric_line("prod", "reconcile", 0, None))
