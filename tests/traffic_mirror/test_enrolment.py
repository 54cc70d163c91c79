"""The enrolment Lambda against moto in server mode (127.0.0.1): what it creates, deletes and leaves."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import pytest

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
