"""Enrolment Lambda: one traffic mirror session on the primary ENI of every running source instance.

This file is the whole deployed source of the function: it imports only the standard library and,
on the first invocation, boto3 (so importing it for its constants costs nothing). It never touches a
session it did not create: every session it creates carries the managed-by tag, and it lists,
compares and deletes only sessions with that exact tag.

Environment (the `ENV_*` constants; all required)
-------------------------------------------------
- `TRAFFIC_MIRROR_TARGET_ID` — the traffic mirror target (`tmt-…`, the NLB) sessions send to.
- `TRAFFIC_MIRROR_FILTER_ID` — the traffic mirror filter (`tmf-…`) sessions use.
- `TRAFFIC_MIRROR_VNI` — the VXLAN network id stamped on mirrored packets, 0-16777215; the node
  accepts only this one (`vni_filter`).
- `TRAFFIC_MIRROR_SESSION_NUMBER` — AWS's session priority on the source ENI, 1-32766.
- `TRAFFIC_MIRROR_SOURCE_TAGS` — JSON object of tag key → value; an instance is a source when it
  carries ALL of them (at least one).
- `WALLARM_STACK` — the Pulumi stack name: in the `Name` tag of each session and in the idempotency
  token, so two stacks in one account never share a token.
- `MANAGED_TAG_KEY` / `MANAGED_TAG_VALUE` — the tag put on every session this function creates;
  the only sessions it will ever modify or delete are those carrying exactly this pair (the IAM
  policy in `policy.py` enforces the same rule).
- `SESSION_DESCRIPTION` — the description of each session (name the stack in it).
- `TRAFFIC_MIRROR_METHOD` — the stack's `trafficMirrorMethod`: `aws` (every source gets a session),
  `auto` (only sources whose type AWS can mirror; the others are copied by the host script, which
  applies the same rule, `mirror_method`) or `host` (no source gets a session; managed sessions left
  from an earlier method are deleted).
- `ENROLMENT_MUTATIONS_PER_SECOND` — the stack's `trafficMirrorEnrolmentRate`: the function's whole
  budget of CreateTrafficMirrorSession calls a second, and the same again of
  DeleteTrafficMirrorSession (EC2 throttles each API in its own bucket), above 0 and at most
  `MAX_MUTATION_RATE`. A reconcile uses `RECONCILE_SHARE` of it and a batch of events the rest: the
  function runs at most one of each at a time (`CONCURRENCY`, its reserved concurrency).

Pace and deadline (docs/enrolment-at-scale.md)
----------------------------------------------
EC2 throttles each API per account and Region with a token bucket ("Request throttling for the
Amazon EC2 API", https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html, read
2026-12-07): CreateTrafficMirrorSession and DeleteTrafficMirrorSession are named in none of its
special rows, so they fall in "Mutating actions": a bucket of 50, refilled 5 a second. The Describe*
calls here are filtered and paginated, so they use the "Non-mutating actions" buckets (100, refilled
20 a second), not the smaller unfiltered one (50, 10). The function keeps its own token bucket per
API below those (`Pace`) and waits for a token before each call. Before each call it also looks at
the Lambda deadline (`context.get_remaining_time_in_millis()`): when the wait plus
`DEADLINE_MARGIN_S` (the worst case of one call with the client's timeouts and retries) no longer
fits, it starts nothing more. Work left for that reason, or because EC2 still answered
`RequestLimitExceeded` after botocore's retries, is *deferred*: recorded (`deferred`, with the
reason), never raised; the next run does it. A reconcile never deletes from a partial listing: when
the listing itself is deferred, the whole run is.

Metrics
-------
Each run prints one JSON line to stdout (not through `logging`: Lambda's text log format prefixes
logging lines, and CloudWatch's JSON metric filters need the whole event to be JSON), e.g.
`{"EnrolmentFailed": 0, "EnrolmentPending": 12, "Stack": "prod", "mode": "reconcile"}`. The stack's
metric filters turn it into `WallarmMirror` metrics with the dimension `Stack`.
`EnrolmentPending` (sources left without a session by deferral) comes from reconciles only: they
see the whole fleet, a batch of events does not.

Events
------
- SQS messages (`Records`, `eventSource` `aws:sqs`) whose bodies are EventBridge "EC2 Instance
  State-change Notification" events with `detail.state == "running"`: a batch of launches. One
  DescribeInstances per `FILTER_CHUNK` instance ids and one DescribeTrafficMirrorSessions per chunk
  of their ENIs, then, for each instance carrying the source tags, ensure the session of its primary
  ENI (device index 0 on network card 0). Only those ENIs are looked at.
- One such EventBridge event on its own: the same for that one instance.
- Anything else (the schedule, a manual test invoke, a state change to another state): reconcile.
  Every pending/running instance with the source tags gets its session; every managed session whose
  ENI is no longer the primary ENI of a pending/running instance with the source tags is deleted.
  That covers a deleted ENI, a terminated instance, a stopped instance (deleted on purpose: AWS bills
  per hour per ENI with mirroring enabled and does not say whether a stopped source counts, and the
  "running" event or the next reconcile creates a new one on start), an instance whose tags were
  removed and a detached ENI.
  A managed session on a wanted ENI whose target, filter, VNI or session number differ from the
  environment (the stack changed them) is deleted and created again; the description alone is not
  compared.

Both return a JSON-able summary: `mode`, `created`, `deleted`, `unchanged`, `skipped` (each with a
reason), `failed`, `deferred` (each with a reason), `pending`, `calls` (API calls by name) and
`throttled` (calls EC2 refused as throttled after retries). One JSON log line is written per
action except the deferred ones, which are counted by reason in the summary line that every run
logs.

Errors
------
Configuration errors and failed listings raise at once. An error while handling one instance or
session is recorded in `failed` and the others go on; at the end the handler raises
`EnrolmentFailed` when anything failed, so Lambda's Errors metric, its retries and the
dead-letter/on-failure destination see it. Not errors (recorded in `skipped`): an instance type that
cannot be a mirror source (`UNSUPPORTED_FAMILIES`, bare metal, older Xen types), AWS refusing an ENI
as unsupported (AWS's own message is kept), an ENI that vanished between listing and creating.

Idempotency and concurrency
---------------------------
The "running" event and the schedule can run at the same time for the same ENI. Each create sends a
ClientToken derived from the stack, the ENI, the instance's launch time, every request parameter and
the current hour: two runs in the same hour send the same token and AWS creates one session. After a
stop/start the launch time differs, so a new session is made even though an older token for the
same ENI was used before (AWS replays a token's first answer for at least a day, even when that
session is gone; the hour also bounds that replay after a session was deleted by hand). If a create
fails for any other reason the ENI's sessions are listed again: when a managed session with our
settings is there now, a concurrent run made it and nothing failed. Two runs that straddle an hour
may both create one; the next reconcile keeps the lowest session id and deletes the other.

Facts this relies on (AWS VPC Traffic Mirroring guide, read 2026; see docs/security-and-facts.md)
-----------------------------------------------------------------------------------------
- Quotas: 3 sessions per source ENI, 10,000 sessions per account (neither adjustable):
  https://docs.aws.amazon.com/vpc/latest/mirroring/traffic-mirroring-quotas.html
- Sources that cannot be mirrored (Nitro families below, bare metal, and non-Nitro types other than
  C4, D2, G3, G3s, H1, I3, M4, P2, P3, R4, X1, X1e — so no T2):
  https://docs.aws.amazon.com/vpc/latest/mirroring/traffic-mirroring-sessions.html
- AWS deletes the sessions of a source ENI when that ENI is deleted ("Traffic Mirroring
  considerations": https://docs.aws.amazon.com/vpc/latest/mirroring/traffic-mirroring-considerations.html).
  This function does not depend on it: a managed session whose ENI is gone is deleted here too, and
  "already gone" counts as done.
- Billing: AWS's VPC pricing page (https://aws.amazon.com/vpc/pricing/, read through a 2026-09
  transcription of it) charges Traffic Mirroring per hour per ENI with mirroring enabled ($0.015 in
  US East (Ohio)), plus the target's own costs. Whether a stopped source keeps being billed is not
  stated there; deleting the sessions of stopped instances makes the question moot.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

ENV_TARGET_ID = "TRAFFIC_MIRROR_TARGET_ID"
ENV_FILTER_ID = "TRAFFIC_MIRROR_FILTER_ID"
ENV_VNI = "TRAFFIC_MIRROR_VNI"
ENV_SESSION_NUMBER = "TRAFFIC_MIRROR_SESSION_NUMBER"
ENV_SOURCE_TAGS = "TRAFFIC_MIRROR_SOURCE_TAGS"
ENV_STACK = "WALLARM_STACK"
ENV_MANAGED_TAG_KEY = "MANAGED_TAG_KEY"
ENV_MANAGED_TAG_VALUE = "MANAGED_TAG_VALUE"
ENV_DESCRIPTION = "SESSION_DESCRIPTION"
ENV_METHOD = "TRAFFIC_MIRROR_METHOD"
ENV_MUTATION_RATE = "ENROLMENT_MUTATIONS_PER_SECOND"
ENVIRONMENT_VARIABLES = (
    ENV_TARGET_ID,
    ENV_FILTER_ID,
    ENV_VNI,
    ENV_SESSION_NUMBER,
    ENV_SOURCE_TAGS,
    ENV_STACK,
    ENV_MANAGED_TAG_KEY,
    ENV_MANAGED_TAG_VALUE,
    ENV_DESCRIPTION,
    ENV_METHOD,
    ENV_MUTATION_RATE,
)

# trafficMirrorMethod's values, and the two ways an instance's traffic can be copied.
METHODS = ("auto", "aws", "host")
AWS_METHOD = "aws"
HOST_METHOD = "host"

# The one tag key besides the managed-by key that sessions get; policy.py allows exactly these two.
NAME_TAG_KEY = "Name"

STATE_CHANGE = "EC2 Instance State-change Notification"
LIVE_STATES = ("pending", "running")

# Page size of every Describe* call (AWS accepts 5-1000); tests lower it to walk several pages.
PAGE_SIZE = 200
# Values per EC2 filter in one request (AWS documents no higher bound for these filters; 200 is the
# limit it states for instance-id lists, used here for ENI ids too).
FILTER_CHUNK = 200

# -- pace (the EC2 figures are in the module docstring) ---------------------------------------------
# EC2's bucket for CreateTrafficMirrorSession and for DeleteTrafficMirrorSession: 50, refilled 5/s.
EC2_MUTATION_REFILL = 5.0
# The function's default budget: 80% of EC2's refill, so other callers of these two APIs in the
# account (a person, Terraform, another stack's function in its own share) keep a fifth of it and
# EC2's burst of 50 absorbs an overlap; 5,000 sources converged in 41 minutes (bench/enrolment_scale.py).
DEFAULT_MUTATION_RATE = 4.0
MAX_MUTATION_RATE = EC2_MUTATION_REFILL
# At most one reconcile and one batch of events run at a time (the function's reserved concurrency);
# the reconcile, which walks whole fleets, gets three quarters of the budget, a batch the rest, so
# both together stay within it.
CONCURRENCY = 2
RECONCILE_SHARE = 0.75
# Describe* calls (EC2: 100, refilled 20/s per API): a quarter of the refill per invocation, so two
# invocations use half of it. A reconcile at rest makes one call per PAGE_SIZE items of each listing.
DESCRIBE_RATE = 5.0
# Seconds of each rate an invocation may spend at once (its client-side burst; EC2's own is 50).
BURST_SECONDS = 2.0
# The client: a call either answers or gives up within CALL_WORST_CASE_S. botocore's standard retry
# mode retries throttling and transient errors with a backoff of at most 1 s, then 2 s.
MAX_ATTEMPTS = 3
CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 6
CALL_WORST_CASE_S = MAX_ATTEMPTS * (CONNECT_TIMEOUT_S + READ_TIMEOUT_S) + 1 + 2
# botocore.config.Config(**CLIENT_CONFIG): the deployed client (simulations build theirs from it too).
CLIENT_CONFIG: dict[str, Any] = {
    "retries": {"mode": "standard", "max_attempts": MAX_ATTEMPTS},
    "connect_timeout": CONNECT_TIMEOUT_S,
    "read_timeout": READ_TIMEOUT_S,
}
# No call starts unless this much of the invocation is left after its wait for a token: the call
# itself at its worst, and a few seconds to log the summary and the metric line.
DEADLINE_MARGIN_S = CALL_WORST_CASE_S + 3
# EC2's throttling answer (botocore retried it first); the others are other AWS APIs' names for it.
THROTTLE_CODES = frozenset({"RequestLimitExceeded", "Throttling", "ThrottlingException"})
# After this many throttled calls in a row a run stops mutating: the account's bucket is empty and
# the schedule comes back in five minutes.
THROTTLE_STOP = 3

# Nitro families AWS lists as unable to be a traffic mirror source (traffic-mirroring-sessions.html).
UNSUPPORTED_FAMILIES = frozenset(
    {
        # General purpose
        "m8g", "m6a", "m6i", "m6id", "m6idn", "m6in", "m7a", "m7g", "m7gd", "m7i", "m7i-flex",
        # Compute optimized
        "c8g", "c6a", "c6gd", "c6gn", "c6i", "c6id", "c6in", "c7a", "c7g", "c7gd", "c7gn", "c7i",
        # Memory optimized
        "r8g", "r6a", "r6i", "r6id", "r6idn", "r6in", "r7a", "r7g", "r7gd", "r7i", "r7iz",
        "x8g", "x2idn", "x2iedn", "x2iezn",
        # Storage optimized
        "i4g", "i4i", "im4gn", "is4gen",
        # Accelerated computing
        "inf2", "p5", "trn1", "trn1n",
        # High-performance computing
        "hpc6a", "hpc6id", "hpc7a", "hpc7g",
    }
)  # fmt: skip
# Non-Nitro (Xen) families. AWS lists the Xen families that *can* be sources (C4, D2, G3, G3s, H1,
# I3, M4, P2, P3, R4, X1, X1e); which other families are Xen is inferred from EC2's instance-type
# pages. A type missing here is tried, and AWS's refusal is recorded as skipped.
XEN_FAMILIES_UNSUPPORTED = frozenset(
    {"t1", "t2", "m1", "m2", "m3", "c1", "c3", "cc2", "cr1", "cg1", "g2", "hi1", "hs1", "i2", "r3", "f1"}
)

# AWS errors that mean "this ENI is gone" while creating, and "already deleted" while deleting.
ENI_GONE_CODES = frozenset({"InvalidNetworkInterfaceID.NotFound", "InvalidNetworkInterfaceId.NotFound"})
SESSION_GONE_CODES = frozenset({"InvalidTrafficMirrorSessionId.NotFound", "InvalidTrafficMirrorSessionID.NotFound"})
# AWS does not document the code it returns for an ENI that cannot be a source; these codes with a
# message about support are taken as that refusal (inferred), anything else counts as a failure.
UNSUPPORTED_CODES = frozenset({"InvalidParameterValue", "InvalidParameter", "UnsupportedOperation", "Unsupported"})

LOG = logging.getLogger("wallarm_mirror.traffic_mirror.enrolment")
LOG.setLevel(logging.INFO)


class ConfigurationError(ValueError):
    """The function's environment is incomplete or invalid (every problem in one message)."""


class EnrolmentFailed(RuntimeError):
    """Some instances or sessions could not be handled; `summary` says which and why."""

    def __init__(self, summary: dict[str, Any]) -> None:
        failed = summary["failed"]
        details = "; ".join(f"{item.get('eni') or item.get('instance')}: {item['error']}" for item in failed)
        super().__init__(f"{len(failed)} enrolment action(s) failed: {details}")
        self.summary = summary


@dataclass(frozen=True)
class Settings:
    """What the function is configured to do, read from its environment."""

    target_id: str
    filter_id: str
    vni: int
    session_number: int
    source_tags: Mapping[str, str]
    stack: str
    managed_tag_key: str
    managed_tag_value: str
    description: str
    method: str = AWS_METHOD
    mutation_rate: float = DEFAULT_MUTATION_RATE

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Read and check every variable; all problems are reported together."""
        problems: list[str] = []

        def text(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                problems.append(f"{name} is not set")
            return value

        def number(name: str, low: int, high: int) -> int:
            raw = environ.get(name, "").strip()
            try:
                value = int(raw)
            except ValueError:
                problems.append(f"{name}={raw!r} is not an integer ({low}-{high})")
                return low
            if not low <= value <= high:
                problems.append(f"{name}={value} is outside {low}-{high}")
            return value

        tags: dict[str, str] = {}
        raw_tags = environ.get(ENV_SOURCE_TAGS, "")
        try:
            parsed = json.loads(raw_tags)
        except ValueError:
            parsed = None
        if (
            isinstance(parsed, dict)
            and parsed
            and all(isinstance(k, str) and k and isinstance(v, str) for k, v in parsed.items())
        ):
            tags = dict(parsed)
        else:
            problems.append(f"{ENV_SOURCE_TAGS}={raw_tags!r} is not a non-empty JSON object of string tag values")

        method = environ.get(ENV_METHOD, "").strip()
        if method not in METHODS:
            problems.append(f"{ENV_METHOD}={method!r} is not one of {', '.join(METHODS)}")

        raw_rate = environ.get(ENV_MUTATION_RATE, "").strip()
        try:
            rate = float(raw_rate)
        except ValueError:
            rate = float("nan")
        if not 0 < rate <= MAX_MUTATION_RATE:  # NaN fails this too
            problems.append(
                f"{ENV_MUTATION_RATE}={raw_rate!r} is not a number of calls a second above 0 and at most"
                f" {MAX_MUTATION_RATE:g} (EC2's refill for CreateTrafficMirrorSession)"
            )

        settings = cls(
            target_id=text(ENV_TARGET_ID),
            filter_id=text(ENV_FILTER_ID),
            vni=number(ENV_VNI, 0, 16_777_215),
            session_number=number(ENV_SESSION_NUMBER, 1, 32_766),
            source_tags=tags,
            stack=text(ENV_STACK),
            managed_tag_key=text(ENV_MANAGED_TAG_KEY),
            managed_tag_value=text(ENV_MANAGED_TAG_VALUE),
            description=text(ENV_DESCRIPTION),
            method=method,
            mutation_rate=rate,
        )
        if problems:
            raise ConfigurationError("the enrolment function's environment is invalid: " + "; ".join(problems))
        return settings


# ---------------------------------------------------------------------------------------------------
# Pure helpers


def running_instance_id(event: Mapping[str, Any]) -> str | None:
    """The instance id of an EC2 "running" state-change event, or None for any other event."""
    if event.get("detail-type") != STATE_CHANGE:
        return None
    detail = event.get("detail")
    if not isinstance(detail, Mapping) or detail.get("state") != "running":
        return None
    instance_id = detail.get("instance-id")
    return instance_id if isinstance(instance_id, str) and instance_id.startswith("i-") else None


def running_instance_ids(event: Mapping[str, Any]) -> list[str] | None:
    """The instance ids of a batch of "running" events (SQS records, or one EventBridge event), in
    order and once each; None when the event is not one of those (the schedule: reconcile).

    A record whose body is not a "running" event is ignored: the queue only receives them, and a
    reconcile would not be what a malformed message asks for.
    """
    records = event.get("Records")
    if isinstance(records, list):
        found: dict[str, None] = {}
        for record in records:
            try:
                body = json.loads(record.get("body") or "")
            except (AttributeError, TypeError, ValueError):
                continue
            instance_id = running_instance_id(body) if isinstance(body, Mapping) else None
            if instance_id:
                found[instance_id] = None
        return list(found)
    instance_id = running_instance_id(event)
    return [instance_id] if instance_id else None


def tags_of(resource: Mapping[str, Any]) -> dict[str, str]:
    """An EC2 resource's tag list as a dict."""
    return {tag["Key"]: tag["Value"] for tag in resource.get("Tags") or []}


def carries_all(tags: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """True when every wanted tag is present with the same value."""
    return all(tags.get(key) == value for key, value in wanted.items())


def primary_eni(instance: Mapping[str, Any]) -> str | None:
    """The ENI at device index 0 on network card 0 (the one every instance has), if attached yet."""
    for interface in instance.get("NetworkInterfaces") or []:
        attachment = interface.get("Attachment") or {}
        if attachment.get("DeviceIndex") == 0 and attachment.get("NetworkCardIndex", 0) == 0:
            return str(interface["NetworkInterfaceId"])
    return None


def unsupported_reason(instance_type: str) -> str | None:
    """Why AWS will not mirror an instance of this type, or None when it may."""
    family, _, size = instance_type.partition(".")
    if size.startswith("metal"):
        return f"{instance_type} is bare metal: Traffic Mirroring is not available on bare metal instances"
    if family in UNSUPPORTED_FAMILIES:
        return f"{instance_type}: AWS lists the {family.upper()} family as unable to be a traffic mirror source"
    if family in XEN_FAMILIES_UNSUPPORTED:
        return (
            f"{instance_type}: a non-Nitro type; of those only C4, D2, G3, G3s, H1, I3, M4, P2, P3, R4, X1 and X1e"
            " can be mirror sources"
        )
    return None


def mirror_method(instance_type: str, method: str) -> str:
    """`aws` or `host`: how an instance of this type is copied under the stack's trafficMirrorMethod.

    The one rule both sides apply: this function decides which instances get a session, and the host
    script (wallarm_mirror/host_mirror) carries the same decision, rendered from `unsupported_reason`'s
    tables, so no instance is ever copied both ways.
    """
    if method == "auto":
        return HOST_METHOD if unsupported_reason(instance_type) else AWS_METHOD
    if method not in (AWS_METHOD, HOST_METHOD):
        raise ValueError(f"unknown traffic mirror method {method!r}; expected one of {', '.join(METHODS)}")
    return method


def client_token(settings: Settings, eni: str, launch_time: str, hour: int) -> str:
    """The idempotency token of one create: the same inputs in the same hour give the same token."""
    material = json.dumps(
        [
            settings.stack,
            eni,
            launch_time,
            settings.target_id,
            settings.filter_id,
            settings.vni,
            settings.session_number,
            settings.description,
            settings.managed_tag_key,
            settings.managed_tag_value,
            hour,
        ]
    )
    return hashlib.sha256(material.encode()).hexdigest()  # 64 characters, AWS's maximum


def aws_error(error: BaseException) -> tuple[str, str] | None:
    """(code, message) of a botocore ClientError, read without importing botocore."""
    response = getattr(error, "response", None)
    if not isinstance(response, Mapping):
        return None
    body = response.get("Error") or {}
    code = str(body.get("Code") or "")
    return (code, str(body.get("Message") or "")) if code else None


def _chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# ---------------------------------------------------------------------------------------------------
# Pace and deadline


class OutOfTime(Exception):
    """No call may start: the invocation's deadline is too close (the work is deferred, not failed)."""


class TokenBucket:
    """A client-side token bucket: `rate` calls a second, at most `burst` saved up (starts full)."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs a rate above 0 and a burst of at least 1, not {rate}/{burst}")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = burst
        self.stamp = clock()

    def wait(self) -> float:
        """Seconds until a token is there (0 when one is)."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


class Pace:
    """Every AWS call of one invocation goes through `before`: it waits for the call's token and
    refuses (`OutOfTime`) when the wait and `margin` no longer fit before the deadline."""

    def __init__(
        self,
        mutation_rate: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        remaining: Callable[[], float],
        margin: float = DEADLINE_MARGIN_S,
    ) -> None:
        self.mutation_rate = mutation_rate
        self.clock = clock
        self.sleep = sleep
        self.remaining = remaining
        self.margin = margin
        self.buckets: dict[str, TokenBucket] = {}
        self.calls: dict[str, int] = {}

    def _bucket(self, api: str) -> TokenBucket:
        if api not in self.buckets:
            rate = DESCRIBE_RATE if api.startswith("Describe") else self.mutation_rate
            self.buckets[api] = TokenBucket(rate, max(1.0, rate * BURST_SECONDS), self.clock)
        return self.buckets[api]

    def before(self, api: str) -> None:
        bucket = self._bucket(api)
        wait = bucket.wait()
        if self.remaining() - wait < self.margin:
            raise OutOfTime(f"{self.remaining():.0f} s left: {api} would end within {self.margin} s of the deadline")
        if wait > 0:
            self.sleep(wait)
            bucket.wait()
        bucket.take()
        self.calls[api] = self.calls.get(api, 0) + 1


def no_deadline() -> float:
    """`remaining` outside Lambda (tests, a person's shell): no deadline."""
    return float("inf")


def lambda_remaining(context: Any) -> Callable[[], float]:
    """Seconds left in this invocation, from the Lambda context (`no_deadline` without one)."""
    if context is None or not callable(getattr(context, "get_remaining_time_in_millis", None)):
        return no_deadline
    return lambda: context.get_remaining_time_in_millis() / 1000


# ---------------------------------------------------------------------------------------------------
# The work


@dataclass
class Summary:
    """What one invocation did; `as_dict` is the handler's return value."""

    mode: str
    created: list[dict[str, str]] = field(default_factory=list)
    deleted: list[dict[str, str]] = field(default_factory=list)
    unchanged: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    deferred: list[dict[str, str]] = field(default_factory=list)

    def defer(self, reason: str, **details: str | None) -> None:
        """Keep work left for the next run; not logged one by one (a large fleet defers thousands)."""
        self.deferred.append({**{key: value for key, value in details.items() if value is not None}, "reason": reason})

    def record(self, action: str, **details: str | None) -> None:
        """Keep one action and log it as one JSON line."""
        entry = {key: value for key, value in details.items() if value is not None}
        getattr(self, action).append(entry)
        log = LOG.error if action == "failed" else LOG.info
        log(json.dumps({"action": action, "mode": self.mode, **entry}, sort_keys=True))

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "created": self.created,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
            "deferred": self.deferred,
        }


# Why work was deferred (the `reason` of each `deferred` entry).
DEFERRED_DEADLINE = "the Lambda deadline is near: left for the next run"
DEFERRED_THROTTLED = "EC2 throttled the call after botocore's retries: left for the next run"
DEFERRED_STOPPED = f"EC2 throttled {THROTTLE_STOP} calls in a row: this run stopped changing sessions"


def api_name(operation: str) -> str:
    """boto3's method name as EC2's API name: describe_instances -> DescribeInstances."""
    return "".join(part.title() for part in operation.split("_"))


class Enrolment:
    """One invocation's view of the account: lists, compares, creates and deletes sessions."""

    def __init__(
        self,
        settings: Settings,
        ec2: Any,
        mode: str,
        clock: Callable[[], float] = time.time,
        pace: Pace | None = None,
    ) -> None:
        self.settings = settings
        self.ec2 = ec2
        self.clock = clock
        self.pace = pace or Pace(settings.mutation_rate, clock, time.sleep, no_deadline)
        self.summary = Summary(mode)
        # Why this run changes nothing more (the deadline, or EC2's throttling), once it is so.
        self.stopped: str | None = None
        self.throttled = 0
        self._throttled_in_a_row = 0
        # Sources left without a session by deferral (reconcile only; None when the listing itself
        # was deferred and the run cannot know).
        self.pending: int | None = None

    def _deferral(self, error: BaseException) -> str | None:
        """The deferral reason when `error` is the deadline or EC2's throttling; None for real errors."""
        if isinstance(error, OutOfTime):
            self.stopped = DEFERRED_DEADLINE
            return DEFERRED_DEADLINE
        code = aws_error(error)
        if code and code[0] in THROTTLE_CODES:
            self.throttled += 1
            self._throttled_in_a_row += 1
            if self._throttled_in_a_row >= THROTTLE_STOP:
                self.stopped = DEFERRED_STOPPED
            return DEFERRED_THROTTLED
        return None

    # -- listings (every one paginated and paced; a failure here raises: nothing sensible can follow,
    # except the deadline or throttling, which defer what depended on the listing) ----------------

    def _pages(self, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        api = api_name(operation)
        paginator = self.ec2.get_paginator(operation)
        self.pace.before(api)
        for page in paginator.paginate(**params, PaginationConfig={"PageSize": PAGE_SIZE}):
            yield from page.get(key) or []
            if page.get("NextToken"):
                self.pace.before(api)  # the paginator calls again when this generator resumes

    def _instances(self, filters: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for reservation in self._pages("describe_instances", "Reservations", Filters=filters):
            yield from reservation.get("Instances") or []

    def _source_instances(self) -> Iterator[dict[str, Any]]:
        filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in self.settings.source_tags.items()]
        filters.append({"Name": "instance-state-name", "Values": list(LIVE_STATES)})
        # The filter narrows the listing; the tags are checked again because this decides deletions.
        for instance in self._instances(filters):
            if carries_all(tags_of(instance), self.settings.source_tags):
                yield instance

    def _managed_sessions(self, enis: list[str] | None = None) -> list[dict[str, Any]]:
        filters = [{"Name": "network-interface-id", "Values": enis}] if enis else []
        sessions = self._pages("describe_traffic_mirror_sessions", "TrafficMirrorSessions", Filters=filters)
        return [session for session in sessions if self._is_managed(session)]

    def _is_managed(self, session: Mapping[str, Any]) -> bool:
        return tags_of(session).get(self.settings.managed_tag_key) == self.settings.managed_tag_value

    def _has_our_settings(self, session: Mapping[str, Any]) -> bool:
        wanted = self.settings
        return (
            session.get("TrafficMirrorTargetId") == wanted.target_id
            and session.get("TrafficMirrorFilterId") == wanted.filter_id
            and session.get("VirtualNetworkId") == wanted.vni
            and session.get("SessionNumber") == wanted.session_number
        )

    # -- the two modes ----------------------------------------------------------------------------

    def enrol_instance(self, instance_id: str) -> None:
        """One "running" event: ensure the session of this one instance's primary ENI."""
        self.enrol_instances([instance_id])

    def enrol_instances(self, instance_ids: list[str]) -> None:
        """A batch of "running" events: per chunk of ids, one DescribeInstances and one
        DescribeTrafficMirrorSessions, then the session of each source's primary ENI."""
        for chunk in _chunks(instance_ids, FILTER_CHUNK):
            try:
                found = {i["InstanceId"]: i for i in self._instances([{"Name": "instance-id", "Values": chunk}])}
            except Exception as error:
                reason = self._deferral(error)
                if reason is None:
                    raise
                for instance_id in chunk:
                    self.summary.defer(reason, instance=instance_id)
                continue
            wanted: dict[str, dict[str, Any]] = {}
            for instance_id in chunk:
                eni = self._event_source_eni(instance_id, found.get(instance_id))
                if eni is not None:
                    wanted[eni] = found[instance_id]
            if not wanted:
                continue
            try:
                sessions = self._managed_sessions(sorted(wanted))
            except Exception as error:
                reason = self._deferral(error)
                if reason is None:
                    raise
                for eni, instance in sorted(wanted.items()):
                    self.summary.defer(reason, instance=instance["InstanceId"], eni=eni)
                continue
            by_eni: dict[str, list[dict[str, Any]]] = {}
            for session in sessions:
                by_eni.setdefault(session["NetworkInterfaceId"], []).append(session)
            for eni in sorted(wanted):
                instance = wanted[eni]
                self._guarded(
                    instance["InstanceId"], eni, functools.partial(self._ensure, instance, eni, by_eni.get(eni, []))
                )

    def _event_source_eni(self, instance_id: str, instance: Mapping[str, Any] | None) -> str | None:
        if instance is None:
            # DescribeInstances is eventually consistent; the schedule picks the instance up later.
            self.summary.record("skipped", instance=instance_id, reason="not listed by DescribeInstances yet")
            return None
        state = instance.get("State", {}).get("Name", "unknown")
        if state not in LIVE_STATES:
            self.summary.record("skipped", instance=instance_id, reason=f"the instance is {state} by now")
            return None
        if not carries_all(tags_of(instance), self.settings.source_tags):
            self.summary.record("skipped", instance=instance_id, reason="does not carry all the source tags")
            return None
        return self._enrollable_eni(instance)

    def reconcile(self) -> None:
        """The schedule: sessions for every source instance, none for anything else.

        Nothing is deleted unless both listings are complete: when the deadline or throttling cuts
        one short, the whole run is deferred.
        """
        wanted: dict[str, dict[str, Any]] = {}
        by_eni: dict[str, list[dict[str, Any]]] = {}
        try:
            for instance in self._source_instances():
                eni = self._enrollable_eni(instance)
                if eni is not None:
                    wanted[eni] = instance
            for session in self._managed_sessions():
                by_eni.setdefault(session["NetworkInterfaceId"], []).append(session)
        except Exception as error:
            reason = self._deferral(error)
            if reason is None:
                raise
            self.summary.defer(reason, listing="instances and sessions")
            return

        orphans = {eni: sessions for eni, sessions in by_eni.items() if eni not in wanted}
        if orphans:
            try:
                self._retire(orphans)
            except Exception as error:
                reason = self._deferral(error)
                if reason is None:
                    raise
                for eni, sessions in sorted(orphans.items()):
                    for session in sessions:
                        self.summary.defer(reason, eni=eni, session=session["TrafficMirrorSessionId"])
        pending = 0
        for eni in sorted(wanted):
            instance, managed = wanted[eni], by_eni.get(eni, [])
            deferred = len(self.summary.deferred)
            self._guarded(
                instance["InstanceId"],
                eni,
                functools.partial(self._ensure, instance, eni, managed),
            )
            if len(self.summary.deferred) > deferred and not any(self._has_our_settings(s) for s in managed):
                pending += 1
        self.pending = pending

    # -- steps --------------------------------------------------------------------------------------

    def _enrollable_eni(self, instance: Mapping[str, Any]) -> str | None:
        instance_id = instance["InstanceId"]
        instance_type = str(instance.get("InstanceType", ""))
        if mirror_method(instance_type, self.settings.method) == HOST_METHOD:
            self.summary.record("skipped", instance=instance_id, reason=self._host_reason(instance_type))
            return None
        reason = unsupported_reason(instance_type)
        if reason:
            self.summary.record("skipped", instance=instance_id, reason=reason)
            return None
        eni = primary_eni(instance)
        if eni is None:
            self.summary.record("skipped", instance=instance_id, reason="no network interface at device index 0 yet")
        return eni

    def _host_reason(self, instance_type: str) -> str:
        method = self.settings.method
        if method == HOST_METHOD:
            return "trafficMirrorMethod is host: the host script copies it"
        return f"trafficMirrorMethod is {method} and AWS cannot mirror {instance_type}: the host script copies it"

    def _guarded(self, instance_id: str | None, eni: str, step: Callable[[], None]) -> None:
        # One instance's trouble must not stop the others; it is raised at the end of the run. The
        # deadline and throttling are not trouble: the step is deferred.
        if self.stopped:
            self.summary.defer(self.stopped, instance=instance_id, eni=eni)
            return
        try:
            step()
        except Exception as error:
            reason = self._deferral(error)
            if reason is not None:
                self.summary.defer(reason, instance=instance_id, eni=eni)
                return
            code = aws_error(error)
            message = f"{code[0]}: {code[1]}" if code else f"{type(error).__name__}: {error}"
            self.summary.record("failed", instance=instance_id, eni=eni, error=message)
        else:
            self._throttled_in_a_row = 0

    def _ensure(self, instance: Mapping[str, Any], eni: str, managed: list[dict[str, Any]]) -> None:
        instance_id = instance["InstanceId"]
        current = sorted((s for s in managed if self._has_our_settings(s)), key=lambda s: s["TrafficMirrorSessionId"])
        for session in managed:
            if not self._has_our_settings(session):
                self._delete(session, "its target, filter, VNI or session number differ from the stack's")
        for session in current[1:]:
            self._delete(session, f"a duplicate of {current[0]['TrafficMirrorSessionId']} on the same ENI")
        if current:
            self.summary.record(
                "unchanged", instance=instance_id, eni=eni, session=current[0]["TrafficMirrorSessionId"]
            )
            return
        self._create(instance, eni)

    def _create(self, instance: Mapping[str, Any], eni: str) -> None:
        settings = self.settings
        instance_id = instance["InstanceId"]
        launch = instance.get("LaunchTime")
        launch_time = launch.isoformat() if isinstance(launch, date) else str(launch)
        tags = [
            {"Key": settings.managed_tag_key, "Value": settings.managed_tag_value},
            {"Key": NAME_TAG_KEY, "Value": f"{settings.stack}-{eni}"},
        ]
        self.pace.before("CreateTrafficMirrorSession")
        try:
            response = self.ec2.create_traffic_mirror_session(
                NetworkInterfaceId=eni,
                TrafficMirrorTargetId=settings.target_id,
                TrafficMirrorFilterId=settings.filter_id,
                SessionNumber=settings.session_number,
                VirtualNetworkId=settings.vni,
                Description=settings.description,
                TagSpecifications=[{"ResourceType": "traffic-mirror-session", "Tags": tags}],
                ClientToken=client_token(settings, eni, launch_time, int(self.clock() // 3600)),
            )
        except Exception as error:
            code, message = aws_error(error) or ("", "")
            if code in THROTTLE_CODES:
                raise  # deferred by _guarded: nothing was created
            if code in ENI_GONE_CODES:
                self.summary.record("skipped", instance=instance_id, eni=eni, reason=f"the ENI is gone ({code})")
                return
            if code in UNSUPPORTED_CODES and "support" in message.lower():
                self.summary.record("skipped", instance=instance_id, eni=eni, reason=f"AWS: {code}: {message}")
                return
            # A concurrent run may have created it (duplicate session number, per-ENI limit): look again.
            now = [s for s in self._managed_sessions([eni]) if self._has_our_settings(s)]
            if now:
                self.summary.record(
                    "unchanged",
                    instance=instance_id,
                    eni=eni,
                    session=now[0]["TrafficMirrorSessionId"],
                    reason="created by a concurrent run",
                )
                return
            raise
        session_id = response["TrafficMirrorSession"]["TrafficMirrorSessionId"]
        self.summary.record("created", instance=instance_id, eni=eni, session=session_id)

    def _delete(self, session: Mapping[str, Any], reason: str) -> None:
        session_id = session["TrafficMirrorSessionId"]
        if not self._is_managed(session):
            # Every caller passes managed sessions only; this guard keeps it that way.
            raise RuntimeError(f"refusing to delete {session_id}: it does not carry the managed-by tag")
        self.pace.before("DeleteTrafficMirrorSession")
        try:
            self.ec2.delete_traffic_mirror_session(TrafficMirrorSessionId=session_id)
        except Exception as error:
            code = aws_error(error)
            if code and code[0] in SESSION_GONE_CODES:
                self.summary.record(
                    "skipped", eni=session["NetworkInterfaceId"], session=session_id, reason="already deleted"
                )
                return
            raise
        self.summary.record("deleted", eni=session["NetworkInterfaceId"], session=session_id, reason=reason)

    def _retire(self, orphans: Mapping[str, list[dict[str, Any]]]) -> None:
        """Delete the managed sessions of ENIs that are not wanted, each with the precise reason.

        The ENIs and their instances are looked up again first: an instance launched after the
        listing above (DescribeInstances is eventually consistent) must keep the session its
        "running" event just created.
        """
        interfaces: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(sorted(orphans), FILTER_CHUNK):
            for interface in self._pages(
                "describe_network_interfaces",
                "NetworkInterfaces",
                Filters=[{"Name": "network-interface-id", "Values": chunk}],
            ):
                interfaces[interface["NetworkInterfaceId"]] = interface
        owners = sorted(
            {
                str((interface.get("Attachment") or {}).get("InstanceId"))
                for interface in interfaces.values()
                if (interface.get("Attachment") or {}).get("InstanceId")
            }
        )
        instances: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(owners, FILTER_CHUNK):
            for instance in self._instances([{"Name": "instance-id", "Values": chunk}]):
                instances[instance["InstanceId"]] = instance

        for eni in sorted(orphans):
            reason = self._retire_reason(interfaces.get(eni), instances)
            if reason is None:
                continue
            for session in orphans[eni]:
                self._guarded(None, eni, functools.partial(self._delete, session, reason))

    def _retire_reason(self, interface: Mapping[str, Any] | None, instances: Mapping[str, Any]) -> str | None:
        if interface is None:
            return "its ENI no longer exists"
        attachment = interface.get("Attachment") or {}
        instance_id = attachment.get("InstanceId")
        if not instance_id or attachment.get("DeviceIndex") != 0:
            return "its ENI is no longer the primary interface of an instance"
        instance = instances.get(instance_id)
        state = instance.get("State", {}).get("Name", "unknown") if instance else "gone"
        if state not in LIVE_STATES:
            return f"instance {instance_id} is {state}"
        assert instance is not None
        if not carries_all(tags_of(instance), self.settings.source_tags):
            return f"instance {instance_id} no longer carries all the source tags"
        instance_type = str(instance.get("InstanceType", ""))
        if mirror_method(instance_type, self.settings.method) == HOST_METHOD:
            return f"instance {instance_id}: {self._host_reason(instance_type)}"
        if unsupported_reason(instance_type):
            return f"instance {instance_id} has a type that cannot be a mirror source"
        return None  # a source after all: listed too late above, kept


# ---------------------------------------------------------------------------------------------------
# Entry points

_CLIENT: Any = None


def _ec2_client() -> Any:
    """One EC2 client per warm container; boto3 reads the region (and any endpoint) from the environment."""
    global _CLIENT
    if _CLIENT is None:
        import boto3
        from botocore.config import Config

        # Standard retries ride out a moment of throttling; the timeouts and attempts bound one call
        # (CALL_WORST_CASE_S), which the deadline margin relies on. Throttling that outlasts them
        # is deferral, not failure.
        # A copy: botocore's Config rewrites the retries dict it is given (max_attempts becomes
        # total_max_attempts), which would change CLIENT_CONFIG for every later reader.
        _CLIENT = boto3.client("ec2", config=Config(**copy.deepcopy(CLIENT_CONFIG)))
    return _CLIENT


# The metrics this line becomes (the stack's metric filters, alarm and dashboard read these names).
METRIC_NAMESPACE = "WallarmMirror"
PENDING_METRIC = "EnrolmentPending"
FAILED_METRIC = "EnrolmentFailed"
METRIC_DIMENSION = "Stack"


def metric_line(stack: str, mode: str, failed: int, pending: int | None) -> str:
    """The JSON line the stack's metric filters read (`EnrolmentPending` from reconciles only)."""
    values: dict[str, Any] = {METRIC_DIMENSION: stack, "mode": mode, FAILED_METRIC: failed}
    if mode == "reconcile" and pending is not None:
        values[PENDING_METRIC] = pending
    return json.dumps(values, sort_keys=True)


def run(
    event: Mapping[str, Any],
    settings: Settings,
    ec2: Any,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    remaining: Callable[[], float] = no_deadline,
) -> dict[str, Any]:
    """Handle one event with the given client; raise `EnrolmentFailed` after the fact if anything failed.

    `clock`, `sleep` and `remaining` (seconds left before the deadline) are Lambda's own unless a
    simulation passes its own.
    """
    instance_ids = running_instance_ids(event)
    mode = "reconcile" if instance_ids is None else "instance"
    share = RECONCILE_SHARE if mode == "reconcile" else 1 - RECONCILE_SHARE
    pace = Pace(settings.mutation_rate * share, clock, sleep, remaining)
    enrolment = Enrolment(settings, ec2, mode, clock, pace)
    if instance_ids is None:
        enrolment.reconcile()
    else:
        enrolment.enrol_instances(instance_ids)
    summary = enrolment.summary.as_dict()
    summary.update(pending=enrolment.pending, calls=dict(pace.calls), throttled=enrolment.throttled)
    counts = {key: len(value) if isinstance(value, list) else value for key, value in summary.items()}
    reasons: dict[str, int] = {}
    for entry in summary["deferred"]:
        reasons[entry["reason"]] = reasons.get(entry["reason"], 0) + 1
    LOG.info(json.dumps({"summary": counts, "deferred": reasons}, sort_keys=True))
    print(metric_line(settings.stack, mode, len(summary["failed"]), enrolment.pending), flush=True)
    if summary["failed"]:
        raise EnrolmentFailed(summary)
    return summary


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (batches of "running" events from SQS, and the reconcile schedule)."""
    return run(event, Settings.from_environ(os.environ), _ec2_client(), remaining=lambda_remaining(context))
