"""The plan diff as Markdown for a pull request comment: :func:`render_markdown` and its helpers.

Everything a plan holds is untrusted text (a pull request from a fork writes it), so every value is
shown in a code span that backticks cannot close (:func:`code_span`) and every free text is escaped
(no markup, no @-mentions). Long values are cut around their first difference; base64 values such as
launch template ``userData`` (and the base64 files a boot script writes) are compared as the text
they hold, so a reviewer reads the changed line.

Pure standard library on purpose, like every ``diff*.py`` module: it must run where Pulumi is not
installed.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import gzip
import re
from typing import Any, Final

from .diff_model import NOT_SET, SECRET, PlanDiff, ResourceChange, ResourceSummary, SettingChange, canonical, is_scalar

MAX_VALUE_CHARS: Final = 100
"""Longest value shown inline; longer ones are cut around the first difference."""

_SECRET_TEXT: Final = "(secret, value not shown)"
_NOT_SET_TEXT: Final = "(not set)"


def code_span(text: str) -> str:
    """An inline code span that survives backticks in untrusted text."""
    text = text.replace("\r", "").replace("\n", "⏎")
    if text == "":
        return '`""`'
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _escape_text(text: str) -> str:
    """Plain text from a plan, safe to place in Markdown (no markup, no @-mentions)."""
    text = " ".join(text.split())
    text = re.sub(r"([\\`*_\[\]<>#|~!])", r"\\\1", text)
    return text.replace("@", "@\u200b")


def _raw(value: Any) -> str:
    return value if isinstance(value, str) else canonical(value)


def _cut(text: str, start: int = 0) -> str:
    if len(text) <= MAX_VALUE_CHARS:
        return text
    start = max(0, min(start, len(text) - MAX_VALUE_CHARS))
    prefix = "…" if start > 0 else ""
    end = start + MAX_VALUE_CHARS
    suffix = "…" if end < len(text) else ""
    return f"{prefix}{text[start:end]}{suffix}"


def _show(value: Any, start: int = 0) -> str:
    if value is NOT_SET:
        return _NOT_SET_TEXT
    if value == SECRET:
        return _SECRET_TEXT
    return code_span(_cut(_raw(value), start))


def _show_pair(before: Any, after: Any) -> tuple[str, str]:
    old, new = _raw(before), _raw(after)
    if before is not NOT_SET and after is not NOT_SET and old == new:
        # Same text, different JSON types (8445 vs "8445"): show the types.
        old, new = canonical(before), canonical(after)
        return code_span(_cut(old)), code_span(_cut(new))
    start = 0
    if isinstance(before, str) and isinstance(after, str):
        common = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
        start = max(0, common - 20)
    return _show(before, start), _show(after, start)


_BASE64_LINE = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def _expand_base64_blocks(lines: list[str]) -> tuple[list[str], bool]:
    """Replace wrapped base64 blocks inside a text (files a boot script writes with `base64 -d`)
    by the text they hold, so a diff shows the changed line instead of re-wrapped base64."""
    result: list[str] = []
    expanded = False
    index = 0
    while index < len(lines):
        end = index
        if len(lines[index].strip()) >= 40 and _BASE64_LINE.fullmatch(lines[index].strip()):
            # Padding ends a block; a heredoc terminator such as `B64` may look like base64 too,
            # so the longest run that decodes wins.
            while end < len(lines) and _BASE64_LINE.fullmatch(lines[end].strip()):
                end += 1
                if lines[end - 1].rstrip().endswith("="):
                    break
            for stop in range(end, index, -1):
                decoded = _decoded_text("".join(line.strip() for line in lines[index:stop]))
                if decoded is not None:
                    result.extend(decoded.splitlines())
                    expanded = True
                    index = stop
                    break
            else:
                result.append(lines[index])
                index += 1
            continue
        result.append(lines[index])
        index += 1
    return result, expanded


def _multiline_change(before: str, after: str) -> str:
    old, old_expanded = _expand_base64_blocks(before.splitlines())
    new, new_expanded = _expand_base64_blocks(after.splitlines())
    opcodes = [op for op in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes() if op[0] != "equal"]
    if not opcodes:
        return "text changes only in line endings"
    removed = sum(i2 - i1 for _, i1, i2, _, _ in opcodes)
    added = sum(j2 - j1 for _, _, _, j1, j2 in opcodes)
    _, i1, i2, j1, j2 = opcodes[0]
    # Indentation is noise in an inline code span; the line number says where it is.
    first_old = old[i1].strip() if i1 < i2 else None
    first_new = new[j1].strip() if j1 < j2 else None
    where = f"text changes at line {j1 + 1}"
    if first_old is not None and first_new is not None:
        detail = f"{code_span(_cut(first_old))} → {code_span(_cut(first_new))}"
    elif first_new is not None:
        detail = f"adds {code_span(_cut(first_new))}"
    else:
        detail = f"drops {code_span(_cut(first_old or ''))}"
    plural = "" if added == 1 else "s"
    decoded = ", embedded base64 decoded" if old_expanded or new_expanded else ""
    return f"{where}: {detail} ({added} line{plural} added, {removed} removed{decoded})"


def _decoded_text(value: str) -> str | None:
    """The text inside a base64 value such as launch template ``userData``, or None if it is not one."""
    if len(value) < 24 or len(value) % 4:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
        # Boot scripts over EC2's 16 KB limit are stored gzip-compressed (cloud-init unpacks them).
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
    except (binascii.Error, ValueError, OSError, EOFError):
        return None
    # Requiring a line break keeps short ids that happen to be valid base64 out.
    if "\n" not in text or not all(ch.isprintable() or ch in "\n\r\t" for ch in text):
        return None
    return text


def _setting_line(setting: SettingChange) -> str:
    label = code_span(setting.path) if setting.path else "(whole value)"
    if setting.is_collection_change:
        parts: list[str] = []
        if setting.added:
            parts.append("added " + ", ".join(_show(item) for item in setting.added))
        if setting.removed:
            parts.append("removed " + ", ".join(_show(item) for item in setting.removed))
        return f"{label}: " + ("; ".join(parts) if parts else "order changed")
    before, after = setting.before, setting.after
    if SECRET not in (before, after) and isinstance(before, str) and isinstance(after, str):
        old_text, new_text = _decoded_text(before), _decoded_text(after)
        if old_text is not None and new_text is not None:
            return f"{label} (base64-decoded): {_multiline_change(old_text, new_text)}"
    if (
        SECRET not in (before, after)
        and isinstance(before, str)
        and isinstance(after, str)
        and ("\n" in before or "\n" in after)
    ):
        return f"{label}: {_multiline_change(before, after)}"
    old, new = _show_pair(before, after)
    return f"{label}: {old} → {new}"


def _resource_title(type_token: str, name: str) -> str:
    return f"{code_span(type_token)} **{code_span(name)}**"


_SUMMARY_KEYS: Final = (
    "cidrIpv4",
    "cidrIpv6",
    "referencedSecurityGroupId",
    "prefixListId",
    "ipProtocol",
    "fromPort",
    "toPort",
    "port",
    "protocol",
    "instanceType",
    "imageId",
    "internal",
)
_SUMMARY_MAX: Final = 4


def _summary(resource: ResourceSummary) -> str:
    # A few identifying scalars, preferred keys first, so an added rule reads as "cidrIpv4 10.0.0.0/16".
    scalars = {key: value for key, value in resource.inputs.items() if is_scalar(value) and value != SECRET}
    keys: list[str] = [key for key in _SUMMARY_KEYS if key in scalars]
    keys += [key for key in sorted(scalars) if key not in keys]
    shown = [f"{key} {code_span(_cut(_raw(scalars[key])))}" for key in keys[:_SUMMARY_MAX]]
    line = f"- {_resource_title(resource.type, resource.name)}"
    return f"{line}: {', '.join(shown)}" if shown else line


def _change_lines(change: ResourceChange) -> list[str]:
    head = f"- {_resource_title(change.type, change.name)}"
    if change.replaced:
        head += " — replaced because " + "; ".join(change.replacement_reasons)
    lines = [head]
    lines += [f"  - {_setting_line(setting)}" for setting in change.settings]
    lines += [f"  - ⚠️ {note}" for note in change.notes]
    # Both sides hold the same placeholder, so nothing can be said about a change: say so.
    lines += [
        f"  - {code_span(path)}: secret, value not shown (cannot be compared offline)" for path in change.secret_paths
    ]
    return lines


def headline(diff: PlanDiff) -> str:
    """The one-line count of resource changes, e.g. ``2 to change, 1 to replace, 0 to add, 0 to remove``."""
    return (
        f"{len(diff.changed)} to change, {len(diff.replacements)} to replace, "
        f"{len(diff.added)} to add, {len(diff.removed)} to remove"
    )


def render_markdown(
    diff: PlanDiff, base_label: str = "base", head_label: str = "head", *, title: str | None = None
) -> str:
    """Markdown for a pull request comment: headline, then replacements, changes, additions,
    removals, output and warning changes. Deterministic for the same diff."""
    heading = title if title is not None else f"Plan diff: {base_label} → {head_label}"
    lines = [f"### {_escape_text(heading)}", ""]
    if not diff.has_changes:
        lines += ["No changes.", ""]
    else:
        lines += [f"**{headline(diff)}**", ""]
        for callout in diff.callouts:  # one quote each: consecutive quote lines would merge
            lines += [f"> ⚠️ {callout}", ""]
        sections: list[tuple[str, list[str]]] = [
            ("Replaced (deleted and re-created)", [ln for c in diff.replacements for ln in _change_lines(c)]),
            ("Changed in place", [ln for c in diff.changed for ln in _change_lines(c)]),
            ("Added", [_summary(resource) for resource in diff.added]),
            ("Removed", [_summary(resource) for resource in diff.removed]),
            ("Outputs", [f"- {_setting_line(setting)}" for setting in diff.outputs]),
        ]
        for name, body in sections:
            if body:
                lines += [f"#### {name}", "", *body, ""]
        if diff.component_changes:
            items = [f"{c.kind} {code_span(c.type)} {code_span(c.name)}" for c in diff.component_changes]
            lines += [f"Grouping components (no cloud resources of their own): {'; '.join(items)}.", ""]
    warnings = [f"- New: {_escape_text(item)}" for item in diff.new_warnings]
    warnings += [f"- Resolved: {_escape_text(item)}" for item in diff.resolved_warnings]
    if warnings:
        lines += ["#### Warnings", "", *warnings, ""]
    if diff.has_changes and diff.has_secrets:
        lines += [
            "<sub>Secret values are redacted in offline plans, so a change to a secret alone does not "
            "show here; `pulumi preview` shows it.</sub>",
            "",
        ]
    return "\n".join(lines)
