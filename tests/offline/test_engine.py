"""The offline engine itself: what it changes in Pulumi while it runs a program, and that it puts it back."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

import pulumi
import pulumi_aws.ec2
import pytest
from pulumi import _types as pulumi_types
from pulumi.output import UNKNOWN
from pulumi.runtime import config as pulumi_config
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc

from wallarm_mirror.offline import engine, sdk_speedups
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


def test_pulumi_still_has_the_type_hint_questions_the_engine_memoizes() -> None:
    # If a Pulumi upgrade renames them, runs stay correct but slower: this says so.
    assert set(sdk_speedups.TYPE_HINT_SWAPS) == {"unwrap_type", "unwrap_optional_type"}
    for name, (original, _) in sdk_speedups.TYPE_HINT_SWAPS.items():
        assert getattr(pulumi_types, name) is original


def test_runs_answer_type_hints_from_a_memo_and_pulumi_gets_its_own_back() -> None:
    original = pulumi_types.unwrap_type
    seen: list[object] = []

    def program() -> None:
        seen.append(pulumi_types.unwrap_type)
        pulumi.CustomResource("test:index:Thing", "thing", {"size": 1})

    run = run_offline(CONFIG, program=program)

    assert seen and getattr(seen[0], "__wrapped__", None) is original
    assert [r.inputs for r in run.resources] == [{"size": 1}]
    assert pulumi_types.unwrap_type is original


def test_the_memo_answers_each_hint_as_pulumi_does_even_for_equal_hints_in_another_order() -> None:
    _, memoized = sdk_speedups.TYPE_HINT_SWAPS["unwrap_type"]
    hints: list[Any] = [
        *pulumi_types.input_type_types(pulumi_aws.ec2.SecurityGroupArgs).values(),
        *pulumi_types.resource_types(pulumi_aws.ec2.SecurityGroup).values(),
        int | str,
        str | int,  # equal to the one before (a union ignores the order), yet unwrapped as given
    ]
    for hint in hints + hints:
        assert memoized(hint) is pulumi_types.unwrap_type(hint)


def test_pulumi_still_spells_config_environment_variables_where_the_engine_memoizes_it() -> None:
    assert set(sdk_speedups.CONFIG_KEY_SWAPS) == {"get_config_env_key"}
    assert pulumi_config.get_config_env_key is sdk_speedups.CONFIG_KEY_SWAPS["get_config_env_key"][0]


def test_each_run_reads_a_keys_environment_variable_afresh_and_pulumi_gets_its_own_speller_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = pulumi_config.get_config_env_key
    seen: list[str | None] = []

    def program() -> None:
        assert getattr(pulumi_config.get_config_env_key, "__wrapped__", None) is original
        # As the config loader reads a key (config/loader.py), and as pulumi.Config does.
        seen.append(pulumi_config.get_config("test:nodeSize"))
        seen.append(pulumi.Config("test").get("nodeSize"))

    for size in ("small", "large"):
        monkeypatch.setenv("PULUMI_CONFIG_TEST_NODESIZE", size)
        run_offline(CONFIG, program=program)

    assert seen == ["small", "small", "large", "large"]
    assert pulumi_config.get_config_env_key is original


def test_the_memo_spells_each_key_as_pulumi_does() -> None:
    _, memoized = sdk_speedups.CONFIG_KEY_SWAPS["get_config_env_key"]
    keys = ["wallarm-mirror:minSize", "aws:region", "test:node_size", "ns:Ünïcode.key", ""]
    for key in keys + keys:
        assert memoized(key) == pulumi_config.get_config_env_key(key)


def test_pulumi_still_checks_for_unknowns_with_the_walk_the_engine_copied() -> None:
    # A Pulumi upgrade that changes it keeps Pulumi's own, correct but slower: this says so.
    swap = {"contains_unknowns": (rpc.contains_unknowns, sdk_speedups.contains_unknowns)}
    assert sdk_speedups.acyclic_swaps() == swap


def test_the_copy_finds_unknowns_as_pulumi_does() -> None:
    looped: dict[str, Any] = {"name": "a"}
    looped["self"] = looped
    values: list[Any] = [
        None,
        "text",
        0,
        2.5,
        True,
        UNKNOWN,
        [1, [2, {"deep": UNKNOWN}]],
        {"a": [1, 2], "b": {"c": "d"}},
        {"a": [1, 2], "b": {"c": UNKNOWN}},
        (UNKNOWN,),  # a tuple is not walked, by either
        looped,
        [looped, UNKNOWN],
    ]
    assert [sdk_speedups.contains_unknowns(v) for v in values] == [rpc.contains_unknowns(v) for v in values]
    assert [sdk_speedups.contains_unknowns(v) for v in values] == [
        False,
        False,
        False,
        False,
        False,
        True,
        True,
        False,
        True,
        False,
        False,
        True,
    ]


def test_a_run_marks_a_value_holding_an_unknown_unknown_and_pulumi_gets_its_own_check_back() -> None:
    original = rpc.contains_unknowns
    applied: list[object] = []

    def program() -> None:
        assert rpc.contains_unknowns is sdk_speedups.contains_unknowns
        value = pulumi.Output.from_input({"ports": [443, UNKNOWN]})
        value.apply(applied.append)
        pulumi.export("known", pulumi.Output.from_input({"ports": [443]}))

    run = run_offline(CONFIG, program=program, preview=True)

    assert applied == []  # an apply never runs on an unknown value
    assert run.outputs == {"known": {"ports": [443]}}
    assert rpc.contains_unknowns is original


def test_the_loops_executor_answers_with_the_loops_own_future_at_its_next_turn() -> None:
    """No thread's future chained to the loop (a wake-up through its self-pipe per call), and the
    answer still comes a turn later, as the chained one did, so tasks keep their order."""
    seen: dict[str, Any] = {}

    def broken() -> None:
        raise pulumi.RunError("refused on purpose")

    async def ask() -> None:
        loop = asyncio.get_running_loop()
        answer = loop.run_in_executor(None, lambda: 42)
        seen["own future"] = asyncio.isfuture(answer) and answer.get_loop() is loop
        seen["done at once"] = answer.done()
        seen["answer"] = await answer
        with pytest.raises(pulumi.RunError, match="refused on purpose"):
            await loop.run_in_executor(None, broken)
        seen["refusal"] = "raised at the await"

    def program() -> None:
        pulumi.export("asked", pulumi.Output.from_input(asyncio.ensure_future(ask())))

    run_offline(CONFIG, program=program)

    assert seen == {"own future": True, "done at once": False, "answer": 42, "refusal": "raised at the await"}


def test_the_executor_called_off_its_loop_answers_with_a_done_thread_future() -> None:
    loop = asyncio.new_event_loop()
    try:
        executor = engine._InlineExecutor(loop)
        answer = executor.submit(lambda: 42)
        assert isinstance(answer, concurrent.futures.Future) and answer.result(timeout=0) == 42
        failed = executor.submit(lambda: 1 / 0)
        assert isinstance(failed.exception(timeout=0), ZeroDivisionError)
    finally:
        loop.close()


def test_pulumi_still_tracks_outputs_with_the_code_the_engine_copied() -> None:
    # A Pulumi upgrade that changes it keeps Pulumi's own, correct but slower: this says so.
    swaps = sdk_speedups.output_tracking_swaps()
    assert swaps == {
        "_track": (pulumi.Output._track, sdk_speedups._track),
        "_untrack": (pulumi.Output._untrack, sdk_speedups._untrack),
    }


def _tracked_while_outputs_settle(track: Any, untrack: Any) -> list[list[str]]:
    """Which of four outputs SETTINGS.outputs holds, turn by turn, with these _track and _untrack."""
    pending_outputs = pulumi.runtime.settings.SETTINGS.outputs
    turns: list[list[str]] = []

    async def settle() -> None:
        loop = asyncio.get_running_loop()
        values: dict[str, asyncio.Future[Any]] = {name: loop.create_future() for name in ("a", "b", "c", "d")}
        known = loop.create_future()
        known.set_result(True)
        outputs = {name: pulumi.Output(set(), value, known) for name, value in values.items()}
        names = {id(output._data): name for name, output in outputs.items()}

        def note() -> None:
            turns.append(sorted(names[id(data)] for data in pending_outputs if id(data) in names))

        note()
        values["a"].set_result(1)
        values["b"].set_exception(ValueError("refused"))  # a failed one stays for the run's end
        outputs["c"]._untrack()
        for _ in range(5):
            await asyncio.sleep(0)
            note()
        values["c"].set_result(3)
        values["d"].cancel()  # so does a cancelled one
        for _ in range(4):
            await asyncio.sleep(0)
            note()
        for output in outputs.values():  # retrieved, so asyncio logs no failure when they are freed
            await asyncio.gather(output._data, return_exceptions=True)

    original = (pulumi.Output._track, pulumi.Output._untrack)
    pulumi.Output._track, pulumi.Output._untrack = track, untrack  # type: ignore[method-assign]
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(settle())
        return turns
    finally:
        pulumi.Output._track, pulumi.Output._untrack = original  # type: ignore[method-assign]
        pending_outputs.clear()
        loop.close()


def test_the_copies_track_outputs_turn_by_turn_as_pulumi_does() -> None:
    pulumis = _tracked_while_outputs_settle(pulumi.Output._track, pulumi.Output._untrack)
    copies = _tracked_while_outputs_settle(sdk_speedups._track, sdk_speedups._untrack)
    assert copies == pulumis
    assert pulumis[0] == ["a", "b", "c", "d"] and pulumis[-1] == ["b", "d"]
    assert pulumis[1] == ["a", "b", "d"]  # "c" untracked at once, "a" taken out a turn after it settled


def test_a_run_waits_for_its_outputs_and_pulumi_gets_its_own_tracking_back() -> None:
    original = pulumi.Output._track
    seen: list[object] = []

    def program() -> None:
        seen.append(pulumi.Output._track)
        later: Any = asyncio.ensure_future(asyncio.sleep(0, result="settled"))  # SDK's overloads say Never
        pulumi.export("later", pulumi.Output.from_input(later).apply(str.upper))

    run = run_offline(CONFIG, program=program)

    assert seen == [sdk_speedups._track]
    assert run.outputs == {"later": "SETTLED"}
    assert pulumi.Output._track is original
