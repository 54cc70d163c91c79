"""The enrolment function at fleet scale: moto server behind EC2's API throttling, on a simulated clock.

For each fleet size it launches that many tagged instances in moto, then runs the scheduled
reconcile, as deployed, until it converges:

- the handler's body (`enrolment.run`) with the deployed client configuration (timeouts, retries)
  and a fake Lambda context whose deadline is the deployed timeout;
- in front of moto an HTTP proxy keeps EC2's documented token bucket per API and answers
  `RequestLimitExceeded` (HTTP 503) when it is empty (tests/traffic_mirror/throttling.py);
- the clock is simulated: the function's waits for a token, botocore's backoff between retries and
  the five minutes between two scheduled runs move it instead of passing, and each call through the
  proxy moves it by an assumed EC2 latency (1 s a Describe* page, 0.2 s a create or delete:
  tests/traffic_mirror/throttling.py LATENCY). moto's own time does not count (it needs seconds of
  real time for a page of 200 instances on this shared machine); for the same reason the bench's
  client waits up to 300 s for an answer instead of the deployed 6 s. moto pages DescribeInstances
  by reservation and DescribeTrafficMirrorSessions not at all: an answer longer than EC2's page of
  200 is counted, in calls, tokens and time, as the pages EC2 would have needed (ThrottlingProxy).

Per run it prints the simulated time, whether the run ended before its deadline, what it raised,
the sessions created and the work deferred, and the API calls by name (throttled ones in brackets);
then the runs needed to converge, a check for duplicate sessions, the calls of a reconcile at rest
(the schedule's steady cost), and, with --burst, a mass launch whose "running" events arrive in the
queue's batches of 200.

    .venv/bin/python bench/enrolment_scale.py                    # 1,000 and 5,000 sources (~10 min)
    .venv/bin/python bench/enrolment_scale.py --sizes 300 --burst 400
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.node.boot.moto_server import MotoServer
from tests.traffic_mirror.throttling import (
    LATENCY,
    SCHEDULE,
    RunResult,
    SimClock,
    ThrottlingProxy,
    converge,
    duplicates,
    estate,
    invoke,
    launch,
    sessions_of,
)
from tests.traffic_mirror.throttling import skipped_backoff as skipped
from wallarm_mirror.components.enrolment import (
    EVENT_BATCH_SIZE,
    RECONCILE_SCHEDULE,
    TIMEOUT_SECONDS,
)
from wallarm_mirror.traffic_mirror import enrolment

EVERY = 300.0  # RECONCILE_SCHEDULE, rate(5 minutes)


def calls_text(result: RunResult) -> str:
    parts = []
    for api, count in sorted(result.calls.items()):
        throttled = result.throttled.get(api, 0)
        parts.append(f"{api} {count}" + (f" [{throttled}]" if throttled else ""))
    return ", ".join(parts)


def table(runs: list[RunResult], label: str = "run") -> list[str]:
    lines = [
        f"| {label} | simulated s | deadline held | raised | created | deferred | pending | calls [throttled] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for number, result in enumerate(runs, 1):
        lines.append(
            f"| {number} | {result.seconds:.0f} of {result.timeout:.0f} | {'yes' if result.deadline_held else 'NO'} "
            f"| {result.raised or 'nothing'} | {result.created} | {result.deferred} "
            f"| {'-' if result.pending is None else result.pending} | {calls_text(result)} |"
        )
    return lines


def burst(ec2: Any, subnet: str, settings: Any, proxy: ThrottlingProxy, count: int, timeout: float) -> list[str]:
    """`count` launches at once; their running events reach the function in batches of EVENT_BATCH_SIZE."""
    ids = launch(ec2, subnet, dict(settings.source_tags), count, chunk=1)
    client = proxy.client()
    results = []
    for start in range(0, len(ids), EVENT_BATCH_SIZE):
        records = [
            {
                "eventSource": "aws:sqs",
                "messageId": instance_id,
                "body": json.dumps(
                    {
                        "detail-type": enrolment.STATE_CHANGE,
                        "source": "aws.ec2",
                        "detail": {"instance-id": instance_id, "state": "running"},
                    }
                ),
            }
            for instance_id in ids[start : start + EVENT_BATCH_SIZE]
        ]
        results.append(invoke({"Records": records}, settings, proxy, client, timeout))
    lines = [f"A launch of {count:,} sources: {len(results)} batch invocation(s) of up to {EVENT_BATCH_SIZE} events"]
    lines += table(results, "batch")
    return lines


def scenario(size: int, timeout: float, burst_size: int, launch_chunk: int) -> list[str]:
    wall = time.monotonic()
    out: list[str] = []
    with MotoServer(Path(tempfile.mkdtemp(prefix="enrolment-scale-")) / "moto.log") as moto:
        ec2 = moto.client("ec2")
        subnet, settings = estate(ec2, f"n{size}")
        settings_rate = settings.mutation_rate
        launch(ec2, subnet, dict(settings.source_tags), size, chunk=launch_chunk)
        launched = time.monotonic() - wall
        clock = SimClock()
        with ThrottlingProxy(moto.endpoint, clock) as proxy, skipped(clock):
            runs = converge(
                settings, proxy, timeout, every=EVERY, each=lambda r: print("  " + table([r])[-1][1:], flush=True)
            )
            at_rest = invoke(SCHEDULE, settings, proxy, proxy.client(), timeout)
            doubles = duplicates(ec2, settings)
            covered = len(sessions_of(ec2, settings))
            extra = burst(ec2, subnet, settings, proxy, burst_size, timeout) if burst_size else []
        converged = runs[-1].pending == 0 and runs[-1].deferred == 0
        span = EVERY * (len(runs) - 1) + runs[-1].seconds
        share = enrolment.RECONCILE_SHARE
        out.append(
            f"## {size:,} sources: Lambda timeout {timeout:.0f} s, deadline margin {enrolment.DEADLINE_MARGIN_S} s, "
            f"rate {settings_rate:g}/s (a reconcile {settings_rate * share:g}/s), schedule {RECONCILE_SCHEDULE}"
        )
        out.append("")
        out += table(runs)
        out.append("")
        out.append(
            f"- converged: {'yes' if converged else 'NO'}, after {len(runs)} run(s); the first enrolment spans "
            f"{span / 60:.0f} min on the schedule"
        )
        out.append(f"- every run ended before its deadline: {'yes' if all(r.deadline_held for r in runs) else 'NO'}")
        out.append(f"- a run raised: {'NO' if all(r.raised is None for r in runs) else 'yes'}")
        out.append(
            f"- throttled calls (RequestLimitExceeded answered by the proxy, botocore retried): "
            f"{sum((r.throttled for r in runs), Counter()).total()}"
        )
        out.append(f"- sources with a session: {covered:,} of {size:,}; ENIs with more than one: {len(doubles)}")
        pages = math.ceil(size / enrolment.PAGE_SIZE)
        out.append(
            f"- a reconcile at rest: {at_rest.seconds:.1f} s simulated, raised {at_rest.raised or 'nothing'}, "
            f"calls (as EC2 pages): {calls_text(at_rest)}, i.e. {pages} page(s) of {enrolment.PAGE_SIZE} per "
            f"listing every 5 minutes; created {at_rest.created}, deferred {at_rest.deferred}"
        )
        if extra:
            out.append("")
            out += extra
        out.append("")
        out.append(f"(wall time {time.monotonic() - wall:.0f} s, of which {launched:.0f} s launching in moto)")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--timeout", type=float, default=float(TIMEOUT_SECONDS), help="the Lambda timeout (s)")
    parser.add_argument("--burst", type=int, default=0, help="then launch this many more at once (event batches)")
    parser.add_argument(
        "--launch-chunk", type=int, default=25, help="instances per moto reservation (fewer: slower moto pages)"
    )
    args = parser.parse_args()
    print(
        "EC2 buckets simulated per API: mutating 50, refilled 5/s; Describe* 100, refilled 20/s (unfiltered"
        " DescribeInstances/DescribeNetworkInterfaces 50, 10/s). Times are simulated: waits skipped, each call"
        f" charged an assumed EC2 latency ({LATENCY['describe']:g} s a Describe* page, {LATENCY['mutate']:g} s a"
        " create or delete); see the docstring."
    )
    print()
    for size in args.sizes:
        print("\n".join(scenario(size, args.timeout, args.burst, args.launch_chunk)), flush=True)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
