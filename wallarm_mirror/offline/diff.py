"""Credential-free diff of two offline plans: load them, find what changed, print it as Markdown.

The offline plan (``python -m wallarm_mirror plan --stack <s> --json``) lists what the program would
register: ``{"project", "stack", "resources": [{"type", "name", "inputs"}], "outputs", "warnings"}``.
Inputs use Pulumi wire names; every secret value is the placeholder ``"[secret]"``. Comparing the
plans of the base and head of a pull request tells a reviewer what a merge would change, without
cloud credentials, so it works for pull requests from forks too.

This module is the diff itself: :func:`load_plan` reads and validates a plan file, :func:`diff_plans`
finds every setting that differs and sorts each changed resource into an in-place update or a
replacement, and :func:`main` is ``python -m wallarm_mirror diff``. Beside it:
``diff_model.py`` (the result types), ``diff_replacement.py`` (which inputs force a new resource,
which changes roll the instances) and ``diff_markdown.py`` (the pull request comment).

Pure standard library on purpose, like every ``diff*.py`` module: it must run where Pulumi is not
installed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn

from .diff_markdown import code_span, render_markdown
from .diff_model import (
    NOT_SET,
    SECRET,
    ComponentChange,
    PlanDiff,
    PlanError,
    ResourceChange,
    ResourceSummary,
    SettingChange,
    canonical,
    is_scalar,
)
from .diff_replacement import (
    INSTANCE_REFRESH_NOTE,
    LAUNCH_TEMPLATE,
    apply_replacement_rule,
    asg_follows_latest,
    notes_for,
)

# --------------------------------------------------------------------------------------------
# Loading and validating plans
# --------------------------------------------------------------------------------------------


def load_plan(path: Path | str) -> dict[str, Any]:
    """Read and validate one offline plan file; raises :class:`PlanError` with a one-line reason."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PlanError(f"{path} is not a JSON text file (not UTF-8)") from None
    except OSError as exc:
        raise PlanError(f"cannot read plan file {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    _validate_plan(data, str(path))
    return data


def _validate_plan(plan: Any, label: str) -> None:
    def fail(reason: str) -> PlanError:
        return PlanError(f"{label} is not an offline plan: {reason}")

    if not isinstance(plan, dict):
        raise fail("the top level must be a JSON object")
    resources = plan.get("resources")
    if not isinstance(resources, list):
        raise fail('"resources" must be a list of {"type", "name", "inputs"} objects')
    seen: set[tuple[str, str]] = set()
    for index, resource in enumerate(resources):
        if not isinstance(resource, dict) or not all(isinstance(resource.get(key), str) for key in ("type", "name")):
            raise fail(f'resources[{index}] must be an object with string "type" and "name"')
        if not isinstance(resource.get("inputs", {}), dict):
            raise fail(f"resources[{index}].inputs must be an object")
        key = (resource["type"], resource["name"])
        if key in seen:
            raise fail(f"resource {key[0]} {key[1]!r} appears twice")
        seen.add(key)
    if not isinstance(plan.get("outputs", {}), dict):
        raise fail('"outputs" must be an object')
    warnings = plan.get("warnings", [])
    if not isinstance(warnings, list) or not all(isinstance(item, str) for item in warnings):
        raise fail('"warnings" must be a list of strings')


# --------------------------------------------------------------------------------------------
# Diffing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Match:
    """Path segment of a list item found by an identifying field, e.g. ``tags[key=env]``."""

    field: str
    value: str


Segment = str | int | _Match

# Fields that identify an item of a list of objects (ASG tags, launch template tag
# specifications, block devices), so a list with one item more is not shown as every later
# index changing, and paths read `tags[key=env].value` rather than `tags[2].value`.
_IDENTITY_FIELDS: Final = ("key", "resourceType", "deviceName", "name")


def _clean(value: Any) -> Any:
    # A null input and an absent input mean the same to the provider.
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_:/-]+")


def _join(path: Sequence[Segment]) -> str:
    text = ""
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif isinstance(segment, _Match):
            value = segment.value if _PLAIN_KEY.fullmatch(segment.value) else json.dumps(segment.value)
            text += f"[{segment.field}={value}]"
        elif _PLAIN_KEY.fullmatch(segment):
            text += f".{segment}" if text else segment
        else:
            text += f"[{json.dumps(segment)}]"
    return text


def _identity_field(before: list[Any], after: list[Any]) -> str | None:
    items = [*before, *after]
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for name in _IDENTITY_FIELDS:
        if all(isinstance(item.get(name), str) for item in items) and all(
            len({item[name] for item in side}) == len(side) for side in (before, after)
        ):
            return name
    return None


def _pair_items(before: list[Any], after: list[Any]) -> list[tuple[Segment, Any, Any]] | None:
    """Pair the items of two lists of objects by identity or, failing that, by position."""
    name = _identity_field(before, after)
    if name is not None:
        old = {item[name]: item for item in before}
        new = {item[name]: item for item in after}
        return [
            (_Match(name, key), old.get(key, NOT_SET), new.get(key, NOT_SET)) for key in sorted(set(old) | set(new))
        ]
    if len(before) == len(after) and not all(is_scalar(item) for item in (*before, *after)):
        return [
            (index, old_item, new_item) for index, (old_item, new_item) in enumerate(zip(before, after, strict=True))
        ]
    return None


def _walk(before: Any, after: Any, path: tuple[Segment, ...]) -> Iterator[tuple[tuple[Segment, ...], Any, Any]]:
    """Yield (path, before, after) for every leaf-level difference, expanding nested objects."""
    if before == after:
        return
    in_list = bool(path) and isinstance(path[-1], _Match)
    before_is_dict = isinstance(before, dict) or before is NOT_SET
    after_is_dict = isinstance(after, dict) or after is NOT_SET
    if before_is_dict and after_is_dict and (isinstance(before, dict) or isinstance(after, dict)):
        old = before if isinstance(before, dict) else {}
        new = after if isinstance(after, dict) else {}
        if (not old and not new) or (in_list and NOT_SET in (before, after)):
            # A list item that comes or goes reads best as one line, not one per field.
            yield path, before, after
            return
        for key in sorted(set(old) | set(new)):
            yield from _walk(old.get(key, NOT_SET), new.get(key, NOT_SET), (*path, key))
        return
    if isinstance(before, list) and isinstance(after, list):
        pairs = _pair_items(before, after)
        if pairs is not None:
            for segment, old_item, new_item in pairs:
                yield from _walk(old_item, new_item, (*path, segment))
            return
    yield path, before, after


def _list_delta(before: list[Any], after: list[Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    old = Counter(canonical(item) for item in before)
    new = Counter(canonical(item) for item in after)
    return _take(after, new - old), _take(before, old - new)


def _take(items: list[Any], wanted: Counter[str]) -> tuple[Any, ...]:
    """The items whose canonical form `wanted` counts, as many of each as it counts, in list order."""
    taken: list[Any] = []
    for item in items:
        key = canonical(item)
        if wanted[key] > 0:
            wanted[key] -= 1
            taken.append(item)
    return tuple(taken)


def _diff_values(before: Any, after: Any) -> tuple[list[SettingChange], list[str]]:
    """Setting changes between two input/output maps, plus paths secret on both sides."""
    changes: list[SettingChange] = []
    for path, old, new in _walk(before, after, ()):
        if isinstance(old, list) and isinstance(new, list):
            added, removed = _list_delta(old, new)
            changes.append(SettingChange(_join(path), old, new, added, removed))
        else:
            changes.append(SettingChange(_join(path), old, new))
    return changes, sorted(_secret_paths(before, after, ()))


def _secret_paths(before: Any, after: Any, path: tuple[Segment, ...]) -> Iterator[str]:
    if before == SECRET and after == SECRET:
        yield _join(path)
    elif isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) & set(after)):
            yield from _secret_paths(before[key], after[key], (*path, key))
    elif isinstance(before, list) and isinstance(after, list):
        for segment, old, new in _pair_items(before, after) or []:
            yield from _secret_paths(old, new, (*path, segment))


def _contains_secret(value: Any) -> bool:
    if value == SECRET:
        return True
    if isinstance(value, dict):
        return any(_contains_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(_contains_secret(item) for item in value)
    return False


def _is_component(type_token: str) -> bool:
    # Bridged provider resources carry "module/resource" in the middle of the token
    # (aws:lb/loadBalancer:LoadBalancer); hand-written component tokens such as
    # wallarm:mirror:LoadBalancer, and the pulumi:pulumi:Stack root, do not. Provider
    # resources (pulumi:providers:aws) stay visible: changing one can replace everything.
    parts = type_token.split(":")
    if len(parts) != 3:
        return False
    package, module, _ = parts
    if package == "pulumi":
        return module == "pulumi"
    return "/" not in module


def _resource_map(plan: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(item["type"], item["name"]): _clean(item.get("inputs") or {}) for item in plan["resources"]}


def diff_plans(base: dict[str, Any], head: dict[str, Any]) -> PlanDiff:
    """Compare two offline plans (base = before the change, head = after it).

    Raises :class:`PlanError` when either dict does not have the offline-plan shape.
    """
    _validate_plan(base, "base")
    _validate_plan(head, "head")
    old = _resource_map(base)
    new = _resource_map(head)
    asg_uses_latest = asg_follows_latest(new)

    added: list[ResourceSummary] = []
    removed: list[ResourceSummary] = []
    changed: list[ResourceChange] = []
    replacements: list[ResourceChange] = []
    components: list[ComponentChange] = []
    callouts: list[str] = []
    refresh_sources: list[str] = []

    for key in sorted(set(old) | set(new)):
        type_token, name = key
        if key not in old or key not in new:
            if _is_component(type_token):
                components.append(ComponentChange("added" if key in new else "removed", type_token, name))
            elif key in new:
                added.append(ResourceSummary(type_token, name, new[key]))
            else:
                removed.append(ResourceSummary(type_token, name, old[key]))
            continue
        settings, secret_paths = _diff_values(old[key], new[key])
        if not settings:
            continue
        if _is_component(type_token):
            components.append(ComponentChange("changed", type_token, name))
            continue
        settings, reasons = apply_replacement_rule(type_token, settings, old[key], new[key])
        notes = notes_for(type_token, settings, old[key], new[key], bool(reasons), asg_uses_latest)
        change = ResourceChange(type_token, name, tuple(settings), tuple(reasons), notes, tuple(secret_paths))
        (replacements if change.replaced else changed).append(change)
        for note in notes:
            if INSTANCE_REFRESH_NOTE in note:
                kind = "launch template" if type_token == LAUNCH_TEMPLATE else "auto scaling group"
                refresh_sources.append(f"{kind} {code_span(name)}")
            elif "internet-facing" in note:
                callouts.append(f"**The load balancer {code_span(name)} would become internet-facing.**")
    if refresh_sources:
        # One callout however many resources lead to it: the instances are replaced once.
        callouts.insert(
            0, f"**Instances will be replaced by a rolling instance refresh** ({', '.join(refresh_sources)})."
        )

    outputs, _ = _diff_values(_clean(base.get("outputs") or {}), _clean(head.get("outputs") or {}))
    base_warnings = list(base.get("warnings") or [])
    head_warnings = list(head.get("warnings") or [])
    has_secrets = any(_contains_secret(plan.get(part)) for plan in (base, head) for part in ("resources", "outputs"))
    return PlanDiff(
        added=tuple(added),
        removed=tuple(removed),
        changed=tuple(changed),
        replacements=tuple(replacements),
        outputs=tuple(outputs),
        component_changes=tuple(components),
        new_warnings=tuple(item for item in head_warnings if item not in base_warnings),
        resolved_warnings=tuple(item for item in base_warnings if item not in head_warnings),
        callouts=tuple(callouts),
        has_secrets=has_secrets,
    )


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


class _UsageError(Exception):
    pass


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse prints usage and exits; we want one line
        raise _UsageError(message)


def main(argv: list[str] | None = None) -> int:
    """``python -m wallarm_mirror diff BASE.json HEAD.json [--title T]``: print the Markdown diff.

    Exit 0 whether or not anything changed; 2 with a one-line message on stderr when a plan file
    is unreadable, not JSON, or not an offline plan.
    """
    parser = _ArgumentParser(
        prog="python -m wallarm_mirror diff",
        description="Markdown summary of what changes between two offline plans (base → head).",
    )
    parser.add_argument("base", help="plan JSON of the base (before), from `plan --json`")
    parser.add_argument("head", help="plan JSON of the head (after), from `plan --json`")
    parser.add_argument("--title", help="heading of the Markdown (default: 'Plan diff: BASE → HEAD')")
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(f"error: {exc} (usage: {parser.prog} BASE.json HEAD.json [--title TITLE])", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    try:
        base = load_plan(args.base)
        head = load_plan(args.head)
    except PlanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    diff = diff_plans(base, head)
    sys.stdout.write(render_markdown(diff, Path(args.base).name, Path(args.head).name, title=args.title))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
