"""A check's result: one line of the report (no boto3 here, so the report renders without it)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class CheckResult:
    """One line of the report: which check, about what, how it stands, why, and what to do next."""

    check: str  # asg, target, boot, traffic, alarms
    subject: str  # the group, instance or load balancer the line is about
    status: Status
    evidence: str
    next_step: str = ""
    refused_action: str | None = None  # set when AWS refused the call this check needed
    unreachable: bool = False  # AWS could not be reached for the call this check needed
