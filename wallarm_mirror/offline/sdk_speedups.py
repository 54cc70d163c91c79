"""Pulumi SDK work the offline engine does once instead of at every property of every resource.

Each speed-up swaps an SDK function for one that gives the same answers, only while a run lasts,
and puts the SDK's own back after it. One that the installed Pulumi release lacks is skipped: the
run is then as slow as before, never different.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from pulumi import _types as pulumi_types

# The SDK asks these of the same few hundred type hints (a resource's annotated properties) for
# every property it sends or receives: ~40,000 times in a plan of the prod stack. Each answers
# from its argument alone (typing.get_origin and get_args, and a class's Pulumi input-type mark,
# set when the class is defined), so one answer per hint is the answer for good.
_PURE_OF_TYPE_HINTS = ("unwrap_type", "unwrap_optional_type")
# Hints are long-lived (class annotations, typing's own cache); a program that makes new ones per
# run would grow the memo, so past this size it starts afresh.
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


# Made once, so the memos last from run to run. Where the module calls its own functions (unwrap_type
# calls unwrap_optional_type), it reads them from its globals: the swap covers those calls too.
_MEMOIZED: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    name: (original, _memoized_by_identity(original))
    for name in _PURE_OF_TYPE_HINTS
    if callable(original := getattr(pulumi_types, name, None))
}


@contextlib.contextmanager
def memoized_type_hints() -> Iterator[None]:
    """Answer the SDK's questions about a type hint from a memo while the block runs.

    A function already replaced by someone else (a test's monkeypatch) is left as it is.
    """
    swapped = [name for name, (original, _) in _MEMOIZED.items() if getattr(pulumi_types, name, None) is original]
    for name in swapped:
        setattr(pulumi_types, name, _MEMOIZED[name][1])
    try:
        yield
    finally:
        for name in swapped:
            setattr(pulumi_types, name, _MEMOIZED[name][0])
