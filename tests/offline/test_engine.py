"""The offline engine itself: what it changes in Pulumi while it runs a program, and that it puts it back."""

from __future__ import annotations

import threading
from typing import Any

import pulumi
import pytest
from pulumi.runtime import resource as pulumi_resource

from wallarm_mirror.offline import engine
from wallarm_mirror.offline.engine import run_offline

CONFIG = {"aws:region": "eu-west-1"}


def test_pulumi_still_walks_the_stack_where_the_engine_skips_it() -> None:
    # If a Pulumi upgrade renames it, runs stay correct but get slow again: this says so.
    assert callable(getattr(pulumi_resource, "_get_stack_trace", None))


def test_registrations_carry_no_stack_walk_and_pulumi_gets_its_own_back() -> None:
    original = pulumi_resource._get_stack_trace
    seen: list[object] = []

    def program() -> None:
        seen.append(pulumi_resource._get_stack_trace)
        pulumi.ComponentResource("test:index:Thing", "thing")

    run = run_offline(CONFIG, program=program)

    assert seen and seen[0] is not original
    assert [r.typ for r in run.resources] == ["test:index:Thing"]
    assert pulumi_resource._get_stack_trace is original


def test_pulumi_gets_its_stack_walk_back_when_the_program_fails() -> None:
    original = pulumi_resource._get_stack_trace

    def program() -> None:
        raise pulumi.RunError("broken on purpose")

    with pytest.raises(pulumi.RunError, match="broken on purpose"):
        run_offline(CONFIG, program=program)
    assert pulumi_resource._get_stack_trace is original


def test_each_run_keeps_its_own_log() -> None:
    def program(message: str) -> None:
        pulumi.log.warn(message)

    first = run_offline(CONFIG, program=lambda: program("first"))
    second = run_offline(CONFIG, program=lambda: program("second"))

    assert first.warnings == ["first"]
    assert second.warnings == ["second"]


def test_the_mock_monitor_answers_in_the_programs_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK sends each registration through the loop's executor (built for a blocking gRPC call);
    under the mocks the engine makes the call where it is asked for, not in a worker thread."""
    threads: list[int] = []
    new_resource = engine.RecordingMocks.new_resource

    def recording(self: engine.RecordingMocks, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        threads.append(threading.get_ident())
        return new_resource(self, args)

    monkeypatch.setattr(engine.RecordingMocks, "new_resource", recording)

    def program() -> None:
        pulumi.CustomResource("test:index:Thing", "thing", {"size": 1})

    run = run_offline(CONFIG, program=program)

    assert [r.typ for r in run.resources] == ["test:index:Thing"]
    assert threads == [threading.get_ident()]
