"""The enrolment function's IAM policy: exactly the calls it makes, scoped as tightly as EC2 allows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.traffic_mirror.conftest import Estate
from tests.traffic_mirror.test_enrolment import SCHEDULE, running
from wallarm_mirror.traffic_mirror.enrolment import run
from wallarm_mirror.traffic_mirror.policy import enrolment_policy, partition_of

KEY, VALUE = "wallarm-mirror:managed-by", "enrolment/prod"
ARN = "arn:aws:ec2:eu-west-1:123456789012"


@pytest.fixture
def policy() -> dict[str, Any]:
    return enrolment_policy("eu-west-1", "123456789012", "tmt-0aaa", "tmf-0bbb", KEY, VALUE)


def statements(policy: dict[str, Any], action: str) -> list[dict[str, Any]]:
    def actions(statement: dict[str, Any]) -> list[str]:
        value = statement["Action"]
        return [value] if isinstance(value, str) else value

    return [s for s in policy["Statement"] if action in actions(s)]


def every_action(policy: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        action = statement["Action"]
        found.update([action] if isinstance(action, str) else action)
    return found


def test_the_policy_allows_exactly_the_calls_the_function_makes(policy, estate: Estate, moto_server) -> None:
    function = moto_server.client("ec2")  # the function's own client: the test's set-up calls are not counted
    called: set[str] = set()
    function.meta.events.register("before-call.ec2.*", lambda model, **_: called.add(f"ec2:{model.name}"))
    instance, _ = estate.source()
    leaving, _ = estate.source()
    run(SCHEDULE, estate.settings, function)
    estate.ec2.terminate_instances(InstanceIds=[leaving])

    run(running(instance), estate.settings, function)
    run(SCHEDULE, estate.settings, function)  # deletes the terminated instance's session

    # Tagging on create is authorised as ec2:CreateTags, which no client call shows.
    assert every_action(policy) == called | {"ec2:CreateTags"}
    json.dumps(policy)


def test_describe_calls_are_the_only_ones_on_every_resource(policy) -> None:
    for statement in policy["Statement"]:
        if statement["Resource"] == "*":
            assert all(a.startswith("ec2:Describe") for a in statement["Action"])


def test_sessions_are_created_only_to_our_target_with_our_filter_and_only_with_our_tag(policy) -> None:
    plain, tagged = statements(policy, "ec2:CreateTrafficMirrorSession")
    assert sorted(plain["Resource"]) == sorted(
        [
            f"{ARN}:traffic-mirror-target/tmt-0aaa",
            f"{ARN}:traffic-mirror-filter/tmf-0bbb",
            f"{ARN}:network-interface/*",
        ]
    )
    assert "Condition" not in plain  # existing resources carry no request tags
    assert tagged["Resource"] == f"{ARN}:traffic-mirror-session/*"
    assert tagged["Condition"]["StringEquals"] == {f"aws:RequestTag/{KEY}": VALUE}
    assert tagged["Condition"]["ForAllValues:StringEquals"] == {"aws:TagKeys": sorted([KEY, "Name"])}


def test_tags_are_written_only_while_creating_a_session(policy) -> None:
    [tagging] = statements(policy, "ec2:CreateTags")
    assert tagging["Resource"] == f"{ARN}:traffic-mirror-session/*"
    assert tagging["Condition"]["StringEquals"] == {
        "ec2:CreateAction": "CreateTrafficMirrorSession",
        f"aws:RequestTag/{KEY}": VALUE,
    }
    assert tagging["Condition"]["ForAllValues:StringEquals"] == {"aws:TagKeys": sorted([KEY, "Name"])}


def test_only_sessions_carrying_our_tag_can_be_deleted(policy) -> None:
    [deleting] = statements(policy, "ec2:DeleteTrafficMirrorSession")
    assert deleting["Resource"] == f"{ARN}:traffic-mirror-session/*"
    assert deleting["Condition"] == {"StringEquals": {f"ec2:ResourceTag/{KEY}": VALUE}}


def test_arns_follow_the_region_partition() -> None:
    assert (partition_of("eu-west-1"), partition_of("cn-north-1"), partition_of("us-gov-west-1")) == (
        "aws",
        "aws-cn",
        "aws-us-gov",
    )
    china = enrolment_policy("cn-north-1", "1", "tmt-1", "tmf-1", KEY, VALUE)
    assert statements(china, "ec2:DeleteTrafficMirrorSession")[0]["Resource"].startswith("arn:aws-cn:ec2:cn-north-1:1:")


def test_an_empty_input_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="target_id"):
        enrolment_policy("eu-west-1", "123456789012", "", "tmf-0bbb", KEY, VALUE)
