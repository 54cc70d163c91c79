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
