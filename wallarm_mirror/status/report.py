"""How `status` shows its results: aligned text lines for people, JSON for machines, and the exit code."""

from __future__ import annotations

import json
from collections import Counter

from .outputs import StackOutputs
from .result import CheckResult, Status

EXIT_OK = 0
EXIT_DEGRADED = 1
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3


def exit_code(results: list[CheckResult]) -> int:
    """3 when AWS refused or never answered a call (the picture is incomplete), else 1 when a line is
    not ok, else 0."""
    if any(r.refused_action or r.unreachable for r in results):
        return EXIT_REFUSED
    if any(r.status is not Status.OK for r in results):
        return EXIT_DEGRADED
    return EXIT_OK


def verdict(results: list[CheckResult]) -> str:
    counts = Counter(r.status for r in results)
    tally = f"{counts[Status.OK]} ok, {counts[Status.WARN]} warn, {counts[Status.FAIL]} fail"
    code = exit_code(results)
    if code == EXIT_REFUSED:
        actions = sorted({r.refused_action for r in results if r.refused_action})
        said = ["AWS could not be reached"] if any(r.unreachable for r in results) else []
        said += [f"AWS refused {', '.join(actions)}"] if actions else []
        return f"{'; '.join(said)} ({tally})"
    return {EXIT_OK: "healthy", EXIT_DEGRADED: "degraded"}[code] + f" ({tally})"


def _header(outputs: StackOutputs, region: str) -> str:
    stack = f"stack {outputs.stack}" if outputs.stack else "stack outputs"
    return f"wallarm-mirror status: {stack}, {outputs.analyser}, {region}"


def render_text(outputs: StackOutputs, region: str, results: list[CheckResult]) -> str:
    """One line per result: status, check, subject, evidence, and `→` the next step when not ok."""
    width = max((len(r.subject) for r in results), default=0)
    lines = [_header(outputs, region)]
    for r in results:
        line = f"{r.status.value:<4}  {r.check:<7}  {r.subject:<{width}}  {r.evidence}"
        if r.next_step:
            line += f" → {r.next_step}"
        lines.append(line)
    lines.append(f"status: {verdict(results)}")
    return "\n".join(lines) + "\n"


def render_json(outputs: StackOutputs, region: str, results: list[CheckResult]) -> str:
    document = {
        "stack": outputs.stack,
        "analyser": outputs.analyser,
        "region": region,
        "exit_code": exit_code(results),
        "verdict": verdict(results),
        "checks": [
            {
                "check": r.check,
                "subject": r.subject,
                "status": r.status.value,
                "evidence": r.evidence,
                "next_step": r.next_step or None,
                "refused_action": r.refused_action,
                "unreachable": r.unreachable,
            }
            for r in results
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def progress(results: list[CheckResult], waited: float, limit: float) -> str:
    """One line per --wait round: what is not ok yet, and how long is left."""
    pending = [f"{r.check} {r.subject}: {r.status.value}" for r in results if r.status is not Status.OK]
    shown = "; ".join(pending[:4]) + (f"; {len(pending) - 4} more" if len(pending) > 4 else "")
    return f"status: waiting ({waited:.0f} of {limit:.0f} s): {shown}"
