"""What a plan diff is made of: the plan vocabulary and the result types of :func:`diff_plans`.

The offline plan (``python -m wallarm_mirror plan --stack <s> --json``) lists what the program would
register: ``{"project", "stack", "resources": [{"type", "name", "inputs"}], "outputs", "warnings"}``.
Inputs use Pulumi wire names; every secret value is the placeholder :data:`SECRET`.

This module holds the values both sides of the diff share: the placeholders, :class:`PlanError`, the
frozen result types (:class:`PlanDiff` and its parts) and the canonical text of a JSON value. The
comparison lives in ``diff.py``, the replacement rules in ``diff_replacement.py`` and the Markdown in
``diff_markdown.py``; all of them build on this module, which imports none of them.

Pure standard library on purpose, like every ``diff*.py`` module: it must run where Pulumi is not
installed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

SECRET: Final = "[secret]"
"""The placeholder the offline plan writes instead of any secret value."""


class _NotSet:
    """Marks a setting that one of the two plans does not have."""

    _instance: _NotSet | None = None

    def __new__(cls) -> _NotSet:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_SET"


NOT_SET: Final = _NotSet()
"""Value of :attr:`SettingChange.before` / ``after`` when the setting is absent on that side."""


class PlanError(ValueError):
    """A plan file cannot be read, is not JSON, or does not have the offline-plan shape."""


# --------------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingChange:
    """One setting (dotted path such as ``healthCheck.port`` or ``tags.env``) that differs.

    ``before``/``after`` hold the whole values (:data:`NOT_SET` when absent). For lists compared as
    collections, ``added``/``removed`` hold the items only in head / only in base; both empty with
    different lists means only the order changed.
    """

    path: str
    before: Any = NOT_SET
    after: Any = NOT_SET
    added: tuple[Any, ...] = ()
    removed: tuple[Any, ...] = ()
    forces_replacement: bool = False

    @property
    def is_collection_change(self) -> bool:
        """True when the change is rendered as items added/removed rather than before → after."""
        return isinstance(self.before, list) and isinstance(self.after, list)


@dataclass(frozen=True)
class ResourceSummary:
    """A resource that only one of the two plans has (added in head, or removed from base)."""

    type: str
    name: str
    inputs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceChange:
    """A resource present in both plans whose inputs differ.

    ``replacement_reasons`` is empty for an in-place update; otherwise each entry says which
    setting forces the provider to delete and re-create the resource. ``secret_paths`` lists
    settings that are secret in both plans: their values cannot be compared offline.
    """

    type: str
    name: str
    settings: tuple[SettingChange, ...]
    replacement_reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    secret_paths: tuple[str, ...] = ()

    @property
    def replaced(self) -> bool:
        """True when the resource is deleted and re-created rather than updated in place."""
        return bool(self.replacement_reasons)


@dataclass(frozen=True)
class ComponentChange:
    """A component resource (grouping only, no cloud object of its own) added, removed or changed."""

    kind: str  # "added", "removed" or "changed"
    type: str
    name: str


@dataclass(frozen=True)
class PlanDiff:
    """Everything that differs between two offline plans, in a deterministic order.

    ``changed`` holds in-place updates and ``replacements`` resources that are re-created; the two
    are disjoint. Component resources (grouping only, no cloud object) are kept out of the counts
    and summarised in ``component_changes``. ``callouts`` are the few consequences a reviewer must
    not miss, such as instances being replaced.
    """

    added: tuple[ResourceSummary, ...] = ()
    removed: tuple[ResourceSummary, ...] = ()
    changed: tuple[ResourceChange, ...] = ()
    replacements: tuple[ResourceChange, ...] = ()
    outputs: tuple[SettingChange, ...] = ()
    component_changes: tuple[ComponentChange, ...] = ()
    new_warnings: tuple[str, ...] = ()
    resolved_warnings: tuple[str, ...] = ()
    callouts: tuple[str, ...] = ()
    has_secrets: bool = False

    @property
    def has_changes(self) -> bool:
        """True when a merge would change resources, outputs or components."""
        return bool(
            self.added or self.removed or self.changed or self.replacements or self.outputs or self.component_changes
        )


# --------------------------------------------------------------------------------------------
# JSON values
# --------------------------------------------------------------------------------------------


def canonical(value: Any) -> str:
    """One text per JSON value (sorted keys, no spaces), to compare and count values by."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def is_scalar(value: Any) -> bool:
    """True for a JSON value that is not an object or a list."""
    return value is None or isinstance(value, str | int | float | bool)
