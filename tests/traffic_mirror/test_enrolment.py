"""The enrolment Lambda against moto in server mode (127.0.0.1): what it creates, deletes and leaves."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import boto3
import pytest

from tests.node.boot.moto_server import loading_session
from tests.traffic_mirror.conftest import Estate
from wallarm_mirror.traffic_mirror import enrolment
from wallarm_mirror.traffic_mirror.enrolment import EnrolmentFailed, run

SCHEDULE = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}


def running(instance_id: str) -> dict[str, Any]:
    """The EventBridge event EC2 sends when an instance enters running."""
    return {
        "version": "0",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "region": "eu-west-1",
        "resources": [f"arn:aws:ec2:eu-west-1:123456789012:instance/{instance_id}"],
        "detail": {"instance-id": instance_id, "state": "running"},
    }


def ours(estate: Estate) -> list[dict[str, Any]]:
    key, value = estate.settings.managed_tag_key, estate.settings.managed_tag_value
    return [s for s in estate.sessions() if {"Key": key, "Value": value} in s.get("Tags", [])]


def test_running_event_for_a_source_creates_one_session_with_the_stack_settings(estate: Estate, caplog) -> None:
    instance, eni = estate.source()
    settings = estate.settings

    with caplog.at_level(logging.INFO, logger=enrolment.LOG.name):
        summary = run(running(instance), settings, estate.ec2)

    [session] = estate.sessions(eni)
    assert session["TrafficMirrorTargetId"] == settings.target_id
    assert session["TrafficMirrorFilterId"] == settings.filter_id
    assert session["VirtualNetworkId"] == 4242
    assert session["SessionNumber"] == 7
    assert session["Description"] == settings.description
    assert {t["Key"]: t["Value"] for t in session["Tags"]} == {
        settings.managed_tag_key: settings.managed_tag_value,
        "Name": f"{settings.stack}-{eni}",
    }
    assert summary["mode"] == "instance"
    assert summary["created"] == [{"instance": instance, "eni": eni, "session": session["TrafficMirrorSessionId"]}]
    assert summary["deleted"] == summary["skipped"] == summary["failed"] == []
    actions = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith('{"action"')]
    assert [a["action"] for a in actions] == ["created"], "one log line per action"
    json.dumps(summary)  # the return value must be JSON-able for Lambda


def test_running_event_for_an_instance_without_all_source_tags_changes_nothing(estate: Estate) -> None:
    app_only, app_eni = estate.launch({"app": estate.settings.source_tags["app"]})
    untagged, untagged_eni = estate.launch()

    for instance in (app_only, untagged):
        summary = run(running(instance), estate.settings, estate.ec2)
        assert summary["created"] == []
        assert summary["skipped"] == [{"instance": instance, "reason": "does not carry all the source tags"}]
    assert estate.sessions(app_eni) == estate.sessions(untagged_eni) == []


def test_a_second_run_creates_nothing_new(estate: Estate) -> None:
    instance, eni = estate.source()
    first = run(running(instance), estate.settings, estate.ec2)

    again = run(running(instance), estate.settings, estate.ec2)
    reconciled = run(SCHEDULE, estate.settings, estate.ec2)

    assert len(estate.sessions(eni)) == 1
    [session] = first["created"]
    for summary in (again, reconciled):
        assert summary["created"] == summary["deleted"] == []
        assert summary["unchanged"] == [{"instance": instance, "eni": eni, "session": session["session"]}]


def test_reconcile_creates_for_every_source_and_deletes_only_our_sessions_whose_eni_is_gone(estate: Estate) -> None:
    sources = [estate.source() for _ in range(3)]
    _, bystander_eni = estate.launch({"app": "something-else"})
    # A standalone ENI that had one session of ours, one of another stack and one of a person: then it went.
    gone = estate.ec2.create_network_interface(SubnetId=estate.subnet_id)["NetworkInterface"]["NetworkInterfaceId"]
    ours_on_gone = estate.session(gone, estate.managed)
    other_stacks = estate.session(gone, {estate.settings.managed_tag_key: "enrolment/another-stack"}, number=8)
    by_hand = estate.session(gone, {"owner": "alice"}, number=9)
    # A person's session on a source ENI, with another session number: it stays, and ours is added.
    by_hand_on_source = estate.session(sources[0][1], {"owner": "bob"}, number=1)
    estate.ec2.delete_network_interface(NetworkInterfaceId=gone)

    summary = run(SCHEDULE, estate.settings, estate.ec2)

    assert summary["mode"] == "reconcile"
    assert sorted(c["eni"] for c in summary["created"]) == sorted(eni for _, eni in sources)
    assert summary["deleted"] == [{"eni": gone, "session": ours_on_gone, "reason": "its ENI no longer exists"}]
    remaining = {s["TrafficMirrorSessionId"] for s in estate.sessions()}
    assert {other_stacks, by_hand, by_hand_on_source} <= remaining
    assert ours_on_gone not in remaining
    assert estate.sessions(bystander_eni) == []
    assert {s["NetworkInterfaceId"] for s in ours(estate)} == {eni for _, eni in sources}


def test_reconcile_deletes_our_sessions_of_stopped_terminated_and_untagged_instances(estate: Estate) -> None:
    stopped, stopped_eni = estate.source()
    terminated, terminated_eni = estate.source()
    untagged, untagged_eni = estate.source()
    _, kept_eni = estate.source()
    run(SCHEDULE, estate.settings, estate.ec2)
    estate.ec2.stop_instances(InstanceIds=[stopped])
    estate.ec2.terminate_instances(InstanceIds=[terminated])
    estate.ec2.delete_tags(Resources=[untagged], Tags=[{"Key": "mirror"}])

    summary = run(SCHEDULE, estate.settings, estate.ec2)

    reasons = {d["eni"]: d["reason"] for d in summary["deleted"]}
    assert reasons == {
        stopped_eni: f"instance {stopped} is stopped",
        terminated_eni: f"instance {terminated} is terminated",
        untagged_eni: f"instance {untagged} no longer carries all the source tags",
    }
    assert summary["created"] == []
    assert [s["NetworkInterfaceId"] for s in ours(estate)] == [kept_eni]


def test_reconcile_deletes_our_session_on_an_eni_that_is_now_a_secondary_interface_of_a_source(
    estate: Estate,
) -> None:
    # Only the primary ENI (device index 0) of a source is mirrored. An ENI that carried our session
    # (a standalone one, or a primary moved by hand) and is now attached to a source at device index 1
    # belongs to a live, tagged instance, yet is not what we mirror: its session goes, with a reason.
    instance, primary = estate.source()
    secondary = estate.ec2.create_network_interface(SubnetId=estate.subnet_id)["NetworkInterface"]["NetworkInterfaceId"]
    ours_on_secondary = estate.session(secondary, estate.managed)
    estate.ec2.attach_network_interface(NetworkInterfaceId=secondary, InstanceId=instance, DeviceIndex=1)
    [attached] = estate.ec2.describe_network_interfaces(NetworkInterfaceIds=[secondary])["NetworkInterfaces"]
    assert (attached["Attachment"]["InstanceId"], attached["Attachment"]["DeviceIndex"]) == (instance, 1)

    summary = run(SCHEDULE, estate.settings, estate.ec2)

    assert summary["deleted"] == [
        {
            "eni": secondary,
            "session": ours_on_secondary,
            "reason": "its ENI is no longer the primary interface of an instance",
        }
    ]
    assert [c["eni"] for c in summary["created"]] == [primary]
    assert estate.sessions(secondary) == []
    assert [s["NetworkInterfaceId"] for s in ours(estate)] == [primary]


def test_a_session_of_ours_with_old_settings_is_replaced_and_duplicates_collapse(estate: Estate) -> None:
    _, old_eni = estate.source()
    _, twice_eni = estate.source()
    old = estate.session(old_eni, estate.managed, vni=1)
    first, second = sorted([estate.session(twice_eni, estate.managed), estate.session(twice_eni, estate.managed)])

    summary = run(SCHEDULE, estate.settings, estate.ec2)

    assert {(d["eni"], d["session"]) for d in summary["deleted"]} == {(old_eni, old), (twice_eni, second)}
    assert [c["eni"] for c in summary["created"]] == [old_eni]
    assert [s["VirtualNetworkId"] for s in estate.sessions(old_eni)] == [4242]
    assert [s["TrafficMirrorSessionId"] for s in estate.sessions(twice_eni)] == [first]


def test_one_failing_instance_does_not_stop_the_others_and_the_run_raises_at_the_end(estate: Estate) -> None:
    enis = sorted(estate.source()[1] for _ in range(3))
    broken = enis[1]  # in the middle of the (sorted) order the reconcile walks
    estate.fail_creates_for({broken}, "TrafficMirrorSessionsPerInterfaceLimitExceeded", "3 sessions already")

    with pytest.raises(EnrolmentFailed) as raised:
        run(SCHEDULE, estate.settings, estate.ec2)

    summary = raised.value.summary
    assert sorted(c["eni"] for c in summary["created"]) == [enis[0], enis[2]]
    [failure] = summary["failed"]
    assert failure["eni"] == broken
    assert failure["error"] == "TrafficMirrorSessionsPerInterfaceLimitExceeded: 3 sessions already"
    assert broken in str(raised.value)
    assert estate.sessions(broken) == []


def test_an_instance_type_that_cannot_be_a_source_is_skipped_not_failed(estate: Estate) -> None:
    unsupported = {estate.source(kind)[1]: kind for kind in ("m6i.large", "c5.metal", "t2.micro", "m7i-flex.large")}
    _, fine = estate.source("m5.large")

    summary = run(SCHEDULE, estate.settings, estate.ec2)

    assert [c["eni"] for c in summary["created"]] == [fine]
    assert summary["failed"] == []
    assert len(summary["skipped"]) == 4
    assert all("mirror source" in s["reason"] or "bare metal" in s["reason"] for s in summary["skipped"])
    for eni in unsupported:
        assert estate.sessions(eni) == []


def test_an_eni_aws_refuses_as_unsupported_is_skipped_with_aws_message(estate: Estate) -> None:
    instance, eni = estate.source()
    message = "The network interface eni-x is not supported as a traffic mirror source."
    estate.fail_creates_for({eni}, "InvalidParameterValue", message)

    summary = run(running(instance), estate.settings, estate.ec2)

    assert summary["skipped"] == [
        {"instance": instance, "eni": eni, "reason": f"AWS: InvalidParameterValue: {message}"}
    ]
    assert summary["failed"] == []


def test_a_create_that_lost_a_race_with_a_concurrent_run_is_not_a_failure(estate: Estate, moto_server) -> None:
    instance, eni = estate.source()
    other_run = moto_server.client("ec2")
    # The other run's create lands just before ours, which AWS then refuses.
    estate.fail_creates_for(
        {eni},
        "InvalidParameterValue",
        "session number 7 is in use",
        before=lambda: estate.session(eni, estate.managed, client=other_run),
    )

    summary = run(running(instance), estate.settings, estate.ec2)

    assert summary["failed"] == summary["created"] == []
    assert [u["reason"] for u in summary["unchanged"]] == ["created by a concurrent run"]
    assert len(estate.sessions(eni)) == 1


def test_every_listing_is_paginated(estate: Estate, monkeypatch) -> None:
    monkeypatch.setattr(enrolment, "PAGE_SIZE", 5)
    enis = {estate.source()[1] for _ in range(7)}

    summary = run(SCHEDULE, estate.settings, estate.ec2)

    assert {c["eni"] for c in summary["created"]} == enis


def test_handler_reads_its_environment(estate: Estate, moto_server, monkeypatch) -> None:
    settings = estate.settings
    environment = {
        enrolment.ENV_TARGET_ID: settings.target_id,
        enrolment.ENV_FILTER_ID: settings.filter_id,
        enrolment.ENV_VNI: str(settings.vni),
        enrolment.ENV_SESSION_NUMBER: str(settings.session_number),
        enrolment.ENV_SOURCE_TAGS: json.dumps(dict(settings.source_tags)),
        enrolment.ENV_STACK: settings.stack,
        enrolment.ENV_MANAGED_TAG_KEY: settings.managed_tag_key,
        enrolment.ENV_MANAGED_TAG_VALUE: settings.managed_tag_value,
        enrolment.ENV_DESCRIPTION: settings.description,
        enrolment.ENV_METHOD: settings.method,
        enrolment.ENV_MUTATION_RATE: str(settings.mutation_rate),
        "AWS_ENDPOINT_URL": moto_server.endpoint,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    assert set(enrolment.ENVIRONMENT_VARIABLES) < set(environment)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(enrolment, "_CLIENT", None)
    # The handler's client comes from boto3's default session: a new one for this test (nothing an
    # earlier test resolved carries over), reading the service models through the process's one
    # loader (EC2's, ~0.2 s of CPU, is read once per process).
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto3.session.Session(botocore_session=loading_session()))
    instance, eni = estate.source()

    summary = enrolment.handler(running(instance), None)

    assert [c["eni"] for c in summary["created"]] == [eni]


def test_a_source_missing_from_a_late_listing_keeps_its_session(estate: Estate, monkeypatch) -> None:
    instance, eni = estate.source()
    run(running(instance), estate.settings, estate.ec2)
    # DescribeInstances is eventually consistent: a just-launched source can be missing from the list.
    monkeypatch.setattr(enrolment.Enrolment, "_source_instances", lambda self: iter(()))

    summary = run(SCHEDULE, estate.settings, estate.ec2)

    assert summary["deleted"] == []
    assert len(estate.sessions(eni)) == 1


def test_auto_gives_sessions_only_to_types_aws_can_mirror(estate: Estate) -> None:
    settings = dataclasses.replace(estate.settings, method="auto")
    nitro, nitro_eni = estate.source("m5.large")
    newer, newer_eni = estate.source("m7i.large")

    summary = run(SCHEDULE, settings, estate.ec2)

    assert len(estate.sessions(nitro_eni)) == 1
    assert estate.sessions(newer_eni) == []
    assert [entry["instance"] for entry in summary["created"]] == [nitro]
    assert {
        "instance": newer,
        "reason": "trafficMirrorMethod is auto and AWS cannot mirror m7i.large: the host script copies it",
    } in summary["skipped"]


def test_host_deletes_the_sessions_an_earlier_method_left(estate: Estate) -> None:
    instance, eni = estate.source("m5.large")
    run(SCHEDULE, estate.settings, estate.ec2)
    assert len(ours(estate)) == 1, "the aws method made a session"

    summary = run(SCHEDULE, dataclasses.replace(estate.settings, method="host"), estate.ec2)

    assert ours(estate) == []
    [deleted] = summary["deleted"]
    assert deleted["eni"] == eni
    assert deleted["reason"] == f"instance {instance}: trafficMirrorMethod is host: the host script copies it"
    assert summary["created"] == summary["failed"] == []


def test_host_running_event_creates_nothing(estate: Estate) -> None:
    instance, eni = estate.source("m5.large")

    summary = run(running(instance), dataclasses.replace(estate.settings, method="host"), estate.ec2)

    assert estate.sessions(eni) == []
    assert summary["skipped"] == [
        {"instance": instance, "reason": "trafficMirrorMethod is host: the host script copies it"}
    ]


# --- pace, deadline, throttling, batches, metrics ---------------------------------------------------


class Clock:
    """Moves only when the function sleeps for a token; the deadline is read on it."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def refuse(client: Any, operation: str, code: str, message: str = "Request limit exceeded.") -> list[str]:
    """AWS answers `code` to every `operation` of this client (as after botocore's retries); returns a
    list that collects the operation's calls."""
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    seen: list[str] = []

    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        seen.append(operation)
        parsed = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 503}}
        return AWSResponse("http://127.0.0.1/", 503, HTTPHeaders(), None), parsed

    client.meta.events.register(f"before-call.ec2.{operation}", answer)
    return seen


def calls_of(client: Any) -> dict[str, int]:
    """Counts every call the client makes, by API name, from now on."""
    counts: dict[str, int] = {}

    def count(model: Any, **_: Any) -> None:
        counts[model.name] = counts.get(model.name, 0) + 1

    client.meta.events.register("before-call.ec2", count)
    return counts


def test_a_reconcile_without_time_for_one_call_defers_the_whole_run_and_raises_nothing(estate: Estate, capsys) -> None:
    stopped, stopped_eni = estate.source()
    run(SCHEDULE, estate.settings, estate.ec2)
    estate.ec2.stop_instances(InstanceIds=[stopped])
    fresh = {estate.source()[1] for _ in range(2)}
    capsys.readouterr()

    summary = run(SCHEDULE, estate.settings, estate.ec2, remaining=lambda: enrolment.DEADLINE_MARGIN_S - 1)

    assert summary["deferred"] == [{"listing": "instances and sessions", "reason": enrolment.DEFERRED_DEADLINE}]
    assert summary["created"] == summary["deleted"] == summary["failed"] == []
    assert summary["pending"] is None and summary["calls"] == {}
    assert len(ours(estate)) == 1 and estate.sessions(stopped_eni), "nothing deleted from a listing never made"
    assert all(estate.sessions(eni) == [] for eni in fresh)
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert line == {"EnrolmentFailed": 0, "Stack": estate.settings.stack, "mode": "reconcile"}


def test_the_deadline_stops_a_reconcile_between_creates_and_the_rest_is_pending(estate: Estate) -> None:
    enis = sorted(estate.source()[1] for _ in range(10))
    clock = Clock()
    deadline = clock.now + enrolment.DEADLINE_MARGIN_S + 1.0
    left: list[float] = []

    def remaining() -> float:
        left.append(deadline - clock())
        return left[-1]

    summary = run(SCHEDULE, estate.settings, estate.ec2, clock=clock, sleep=clock.sleep, remaining=remaining)

    created = sorted(c["eni"] for c in summary["created"])
    deferred = sorted(d["eni"] for d in summary["deferred"])
    # The burst (2 s of 3 creates a second) goes at once, then one a third of a second until the margin.
    assert 6 <= len(created) < 10 and sorted(created + deferred) == enis
    assert {d["reason"] for d in summary["deferred"]} == {enrolment.DEFERRED_DEADLINE}
    assert summary["pending"] == len(deferred) and summary["failed"] == []
    assert clock.now <= deadline - enrolment.DEADLINE_MARGIN_S, "no call started inside the margin"
    assert {s["NetworkInterfaceId"] for s in ours(estate)} == set(created)

    again = run(SCHEDULE, estate.settings, estate.ec2)
    assert sorted(c["eni"] for c in again["created"]) == deferred and again["pending"] == 0


def test_throttled_creates_are_deferred_not_failed_and_three_in_a_row_end_the_changes(estate: Estate) -> None:
    enis = sorted(estate.source()[1] for _ in range(5))
    creates = refuse(estate.ec2, "CreateTrafficMirrorSession", "RequestLimitExceeded")

    summary = run(SCHEDULE, estate.settings, estate.ec2)  # no EnrolmentFailed

    assert summary["failed"] == summary["created"] == []
    assert [(d["eni"], d["reason"]) for d in summary["deferred"]] == [
        *((eni, enrolment.DEFERRED_THROTTLED) for eni in enis[:3]),
        *((eni, enrolment.DEFERRED_STOPPED) for eni in enis[3:]),
    ]
    assert len(creates) == enrolment.THROTTLE_STOP == summary["throttled"]
    assert summary["calls"]["DescribeTrafficMirrorSessions"] == 1, "a throttled create is not looked up again"
    assert summary["pending"] == 5


def test_a_throttled_listing_defers_the_run_and_deletes_nothing(estate: Estate, moto_server) -> None:
    stopped, stopped_eni = estate.source()
    run(SCHEDULE, estate.settings, estate.ec2)
    estate.ec2.stop_instances(InstanceIds=[stopped])
    refuse(estate.ec2, "DescribeTrafficMirrorSessions", "RequestLimitExceeded")

    summary = run(SCHEDULE, estate.settings, estate.ec2)

    assert summary["deferred"] == [{"listing": "instances and sessions", "reason": enrolment.DEFERRED_THROTTLED}]
    assert summary["deleted"] == summary["failed"] == [] and summary["throttled"] == 1
    unthrottled = moto_server.client("ec2")
    filters = [{"Name": "network-interface-id", "Values": [stopped_eni]}]
    assert len(unthrottled.describe_traffic_mirror_sessions(Filters=filters)["TrafficMirrorSessions"]) == 1


def test_a_failed_listing_still_raises(estate: Estate) -> None:
    estate.source()
    refuse(estate.ec2, "DescribeInstances", "UnauthorizedOperation", "not allowed")

    with pytest.raises(Exception, match="UnauthorizedOperation"):
        run(SCHEDULE, estate.settings, estate.ec2)


def test_a_batch_of_launch_events_lists_once_and_enrols_each_source(estate: Estate) -> None:
    sources = [estate.source() for _ in range(4)]
    bystander, _ = estate.launch({"app": "something-else"})
    batch = {
        "Records": [
            {"eventSource": "aws:sqs", "messageId": str(n), "body": json.dumps(running(instance))}
            for n, instance in enumerate([*(i for i, _ in sources), bystander, "i-0000000000000dead"])
        ]
    }
    counts = calls_of(estate.ec2)
    clock = Clock()  # a batch creates at a quarter of the rate: skip the waits

    summary = run(batch, estate.settings, estate.ec2, clock=clock, sleep=clock.sleep)

    assert sorted(c["eni"] for c in summary["created"]) == sorted(eni for _, eni in sources)
    assert counts == {"DescribeInstances": 1, "DescribeTrafficMirrorSessions": 1, "CreateTrafficMirrorSession": 4}
    assert {"instance": bystander, "reason": "does not carry all the source tags"} in summary["skipped"]
    assert {"instance": "i-0000000000000dead", "reason": "not listed by DescribeInstances yet"} in summary["skipped"]
    assert summary["mode"] == "instance" and summary["pending"] is None


def test_every_run_prints_its_metric_line_also_when_it_raises(estate: Estate, capsys) -> None:
    enis = sorted(estate.source()[1] for _ in range(2))
    estate.fail_creates_for({enis[0]}, "TrafficMirrorSessionsPerInterfaceLimitExceeded", "3 sessions already")
    capsys.readouterr()

    with pytest.raises(EnrolmentFailed):
        run(SCHEDULE, estate.settings, estate.ec2)
    run(SCHEDULE, estate.settings, estate.ec2, remaining=lambda: 0.0)

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    stack = estate.settings.stack
    assert lines == [
        {"EnrolmentFailed": 1, "EnrolmentPending": 0, "Stack": stack, "mode": "reconcile"},
        {"EnrolmentFailed": 0, "Stack": stack, "mode": "reconcile"},
    ]
