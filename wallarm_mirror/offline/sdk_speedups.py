"""Cheaper stand-ins for Pulumi SDK functions the offline engine calls at every property of every resource.

Each speed-up swaps an SDK function for one that gives the same answers, only while a run lasts,
and puts the SDK's own back after it. One that the installed Pulumi release lacks (or has
changed) is skipped: the run is then as slow as before, never different.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import logging
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any

from pulumi import _types as pulumi_types
from pulumi import _utils as pulumi_utils
from pulumi import log as pulumi_log
from pulumi import output as pulumi_output
from pulumi.runtime import config as pulumi_config
from pulumi.runtime import known_types, rpc
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings

# The SDK asks these of the same few hundred type hints (a resource's annotated properties) for
# every property it sends or receives: ~40,000 times in a plan of the prod stack. Each answers
# from its argument alone (typing.get_origin and get_args, and a class's Pulumi input-type mark,
# set when the class is defined), so one answer per hint is the answer for good.
_PURE_OF_TYPE_HINTS = ("unwrap_type", "unwrap_optional_type")
# get_config spells the environment variable that may hold a key (wallarm-mirror:minSize ->
# PULUMI_CONFIG_WALLARM_MIRROR_MINSIZE) a character at a time, for each of the ~55 keys the config
# loader looks up: ~15% of a refused config's run. The name follows from the key alone; whether
# the variable is set is still read from the environment at every lookup.
_PURE_OF_CONFIG_KEYS = ("get_config_env_key",)
# Hints and keys are long-lived (class annotations, typing's own cache, the config model); a
# program that made new ones per run would grow a memo, so past this size it starts afresh.
_MEMO_LIMIT = 4096


def _memoized_by_identity(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`function` answering each argument object once: by identity, not equality.

    Equality would not do: typing's `Union[A, B] == Union[B, A]`, yet unwrap_type reads the order
    of a union's members. The memo keeps each argument alive, so its id names no other object.
    """
    memo: dict[int, tuple[Any, Any]] = {}

    def memoized(hint: Any) -> Any:
        known = memo.get(id(hint))
        if known is not None and known[0] is hint:
            return known[1]
        answer = function(hint)
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[id(hint)] = (hint, answer)
        return answer

    memoized.__wrapped__ = function  # type: ignore[attr-defined]
    return memoized


def _memoized_text(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`function` answering each string once (a string's answer follows from its value: equality will do)."""
    memo: dict[str, Any] = {}

    def memoized(text: Any) -> Any:
        if type(text) is not str:  # a str subclass could answer differently: not memoized
            return function(text)
        if text in memo:
            return memo[text]
        answer = function(text)
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[text] = answer
        return answer

    memoized.__wrapped__ = function  # type: ignore[attr-defined]
    return memoized


Swaps = Mapping[str, tuple[Callable[..., Any], Callable[..., Any]]]
Memoize = Callable[[Callable[..., Any]], Callable[..., Any]]


def _swaps(module: ModuleType, names: tuple[str, ...], memoize: Memoize) -> Swaps:
    """(the SDK's function, its memoized twin) by name, for the names the module has.

    Made once, so the memos last from run to run. Where a module calls its own functions
    (unwrap_type calls unwrap_optional_type), it reads them from its globals: a swap covers those
    calls too.
    """
    return {name: (original, memoize(original)) for name in names if callable(original := getattr(module, name, None))}


TYPE_HINT_SWAPS = _swaps(pulumi_types, _PURE_OF_TYPE_HINTS, _memoized_by_identity)
CONFIG_KEY_SWAPS = _swaps(pulumi_config, _PURE_OF_CONFIG_KEYS, _memoized_text)


@contextlib.contextmanager
def _swapped(module: ModuleType, swaps: Swaps) -> Iterator[None]:
    """The memoized twins in `module` while the block runs, the SDK's own after it.

    A function already replaced by someone else (a test's monkeypatch) is left as it is.
    """
    names = [name for name, (original, _) in swaps.items() if getattr(module, name, None) is original]
    for name in names:
        setattr(module, name, swaps[name][1])
    try:
        yield
    finally:
        for name in names:
            setattr(module, name, swaps[name][0])


def _source_digest(function: Callable[..., Any]) -> str:
    """The digest of a function's source text: the same on every Python, unlike its bytecode."""
    try:
        return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()
    except (OSError, TypeError):  # no source to read (a frozen or compiled-only install)
        return ""


def _sources_digest(functions: list[Callable[..., Any] | None]) -> str:
    """One digest of the source texts of what a stand-in copies or answers for; '' when one is missing
    (another Pulumi release), which no stored digest equals."""
    if any(function is None for function in functions):
        return ""
    return hashlib.sha256("".join(_source_digest(f) for f in functions if f is not None).encode()).hexdigest()


# Exact types whose values are never Unknown and hold nothing to walk: nine in ten values checked
# in a prod plan (strings, None, numbers). Pulumi's walk answers False for them after an Unknown
# check and noting their id, which only ever stops a second walk into a container.
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def _any_unknown(val: Any, seen_ids: set[int]) -> bool:
    if type(val) in _PLAIN_TYPES:
        return False
    if known_types.is_unknown(val):
        return True

    val_id = id(val)
    if val_id in seen_ids:
        return False

    seen_ids.add(val_id)
    if isinstance(val, dict):
        return any(_any_unknown(val[k], seen_ids) for k in val)
    if isinstance(val, list):
        return any(_any_unknown(x, seen_ids) for x in val)

    return False


def contains_unknowns(val: Any) -> bool:
    """pulumi.runtime.rpc.contains_unknowns, line for line but for plain values (answered at once),
    with its walk at module level.

    Pulumi's defines the recursive walk inside each call: the new function and the closure cell
    that names it hold each other, so every call (~1,350 per prod plan: each Output's value is
    checked) left a reference cycle of ~6 objects, two thirds of what the run's one garbage
    collection then had to find (~3 ms of a plan).
    """
    if type(val) in _PLAIN_TYPES:
        return False
    return _any_unknown(val, set())


# The copy stands in only for the function it copies: pulumi 3.272.0's, by its source text (the
# digest is the same on every Python version). Another release fails this check and keeps its own;
# tests/offline/test_engine.py says so for the locked one.
_CONTAINS_UNKNOWNS_DIGEST = "e7b3af52757662714af8f72e91ca60443697dd2fbdb9c45b72fad00e7d8fedb4"


@functools.cache
def acyclic_swaps() -> Swaps:
    """The swap of rpc.contains_unknowns for the copy, if the SDK's is the one copied; read on first use
    (reading the source costs ~2 ms, for a run, not for every import)."""
    pulumis = getattr(rpc, "contains_unknowns", None)
    if pulumis is None or _sources_digest([pulumis]) != _CONTAINS_UNKNOWNS_DIGEST:
        return {}
    return {"contains_unknowns": (pulumis, contains_unknowns)}


def memoized_type_hints() -> contextlib.AbstractContextManager[None]:
    """Answer the SDK's questions about a type hint from a memo while the block runs."""
    return _swapped(pulumi_types, TYPE_HINT_SWAPS)


def memoized_config_env_keys() -> contextlib.AbstractContextManager[None]:
    """Spell each config key's environment variable once while the block runs."""
    return _swapped(pulumi_config, CONFIG_KEY_SWAPS)


def acyclic_unknowns_check() -> contextlib.AbstractContextManager[None]:
    """Check values for unknowns without leaving a reference cycle per check while the block runs."""
    return _swapped(rpc, acyclic_swaps())


# Every Output the SDK makes (~1,100 per prod plan) is noted in SETTINGS.outputs while its value is
# pending, under SETTINGS.lock, so that the end of a run can wait for the lot: Output._track adds
# it and leaves a callback that takes it out once the value is there, and Output._untrack takes it
# out early. Each SETTINGS read goes through ContextProperty.__get__, which reads the setting's
# context variable twice (~97,000 of the ~118,000 descriptor calls of 20 prod plans), and each
# _track made a new closure. The copies below read each setting's context variable once, as
# ContextProperty.fget does, and leave one module-level function to call back (~2% of a plan; the
# callback's turn through the loop, most of this bookkeeping's cost, stays as it was).
# They stand in only for the code they copy, checked by its source text, like contains_unknowns.
_SETTINGS_PROPERTIES = pulumi_settings.Settings.__dict__


def _setting(name: str) -> Any:
    """SETTINGS.<name>, answered as ContextProperty.__get__ answers it: the value of the setting's
    context variable (its first value where the variable is unset), or the property when that is a
    dict. One read of the variable, not two."""
    prop = _SETTINGS_PROPERTIES[name]
    value = prop._data.get(prop._ContextProperty__default)
    return prop if isinstance(value, dict) else value


def _forget_output(fut: Any) -> None:
    """Output._track's cleanup callback, line for line."""
    if fut.cancelled() or (fut.exception() is not None):
        # if cancelled or error'd leave it in the set to pick up at program exit
        return
    # else remove it from the set
    with _setting("lock"):
        # if it's not in the set then it's already been removed in wait_for_rpcs (Pulumi's removes
        # it and ignores the KeyError)
        _setting("outputs").discard(fut)


def _track(self: Any) -> None:
    """pulumi.output.Output._track, line for line, its callback a module function."""
    data = self._data
    with _setting("lock"):
        _setting("outputs").add(data)
    data.add_done_callback(_forget_output)


def _untrack(self: Any) -> None:
    """pulumi.output.Output._untrack, line for line."""
    with _setting("lock"):
        _setting("outputs").discard(self._data)


# The source text of what the copies copy, in pulumi 3.272.0: Output._track and _untrack, and the
# ContextProperty reads that _setting stands for (tests/offline/test_engine.py checks it).
_OUTPUT_TRACKING_DIGEST = "68eea8eb2ae7dc4bab63c3a3ee50a2e87f05c75baaa3b36336edf2003b5b61a8"


def _output_tracking_sources() -> list[Callable[..., Any] | None]:
    output = getattr(pulumi_output, "Output", None)
    prop = getattr(pulumi_utils, "ContextProperty", None)
    return [
        getattr(output, "_track", None),
        getattr(output, "_untrack", None),
        getattr(prop, "fget", None),
        getattr(prop, "__get__", None),
        getattr(prop, "__init__", None),
        getattr(prop, "fset", None),
    ]


@functools.cache
def output_tracking_swaps() -> Swaps:
    """The swaps of Output._track and _untrack for the copies, if the SDK's are the ones copied."""
    if _sources_digest(_output_tracking_sources()) != _OUTPUT_TRACKING_DIGEST:
        return {}
    properties = (_SETTINGS_PROPERTIES.get(name) for name in ("lock", "outputs"))
    if not all(isinstance(prop, pulumi_utils.ContextProperty) for prop in properties):
        return {}
    output = pulumi_output.Output
    return {"_track": (output._track, _track), "_untrack": (output._untrack, _untrack)}


def cheaper_output_tracking() -> contextlib.AbstractContextManager[None]:
    """Note each pending Output for the run's end with one read per setting while the block runs."""
    return _swapped(pulumi_output.Output, output_tracking_swaps())  # type: ignore[arg-type]


# The SDK logs a debug line per registration, per RPC and per invoke (~180 per prod plan, ~11 per
# refused config): each one a LogRequest handed to the mock engine, whose logger (the offline
# run's, at INFO) drops it. The stand-in drops it at once where Pulumi's would reach that logger
# and no further: a plain message for no resource, to the mock engine, whose plain logger is not
# enabled for DEBUG. Anything else goes to Pulumi's own.
_PULUMIS_DEBUG: Callable[..., None] | None = getattr(pulumi_log, "debug", None)


def _debug(msg: Any, resource: Any = None, stream_id: Any = None, ephemeral: Any = None) -> None:
    """pulumi.log.debug, answering at once where the mock engine's logger would drop the line."""
    if resource is None and stream_id is None and ephemeral is None and type(msg) is str:
        engine = _setting("engine")
        if (
            type(engine) is pulumi_mocks.MockEngine
            and type(engine.logger) is logging.Logger
            and not engine.logger.isEnabledFor(logging.DEBUG)
        ):
            return
    assert _PULUMIS_DEBUG is not None
    _PULUMIS_DEBUG(msg, resource, stream_id, ephemeral)


# The source text of what the stand-in answers for, in pulumi 3.272.0: log.debug and the engine it
# asks (log.get_engine, settings.get_engine), and the mock engine's Log.
_QUIET_DEBUG_DIGEST = "936b8c2181590c2b2e178c7e4a139b8211812e73bd08b82bbae158d35b47f73a"


def _quiet_debug_sources() -> list[Callable[..., Any] | None]:
    return [
        _PULUMIS_DEBUG,
        getattr(pulumi_log, "get_engine", None),
        getattr(pulumi_settings, "get_engine", None),
        getattr(getattr(pulumi_mocks, "MockEngine", None), "Log", None),
    ]


@functools.cache
def quiet_debug_swaps() -> Swaps:
    """The swap of pulumi.log.debug for the stand-in, if the SDK's is the one it answers for."""
    if _PULUMIS_DEBUG is None or _sources_digest(_quiet_debug_sources()) != _QUIET_DEBUG_DIGEST:
        return {}
    if not isinstance(_SETTINGS_PROPERTIES.get("engine"), pulumi_utils.ContextProperty):
        return {}
    if not output_tracking_swaps():  # _setting reads as ContextProperty does only where these stand in
        return {}
    return {"debug": (_PULUMIS_DEBUG, _debug)}


def quiet_mock_debug_lines() -> contextlib.AbstractContextManager[None]:
    """Drop the SDK's debug lines the mock engine would drop, at once, while the block runs."""
    return _swapped(pulumi_log, quiet_debug_swaps())
