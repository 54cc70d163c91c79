"""180 sources against moto behind EC2's throttling (tests/traffic_mirror/throttling.py), with a short
deadline: the scheduled reconcile defers, never raises, never passes its deadline, and converges
over several runs with one session per source. bench/enrolment_scale.py runs the same at 1,000 and
5,000."""

from __future__ import annotations

import json
from typing import Any

import botocore.endpoint
import pytest

from tests.node.boot.moto_server import MotoServer
from tests.traffic_mirror.throttling import (
    SimClock,
    ThrottlingProxy,
    converge,
    estate,
    launch_instances,
    sessions_per_eni,
    skipped_backoff,
)
from wallarm_mirror.traffic_mirror import enrolment

# A short deadline: DEADLINE_MARGIN_S of it is kept back, about 30 s is left for work. In those 30 s a
# run creates ~63 sessions (the function's pace, 3 a second, less what EC2 throttles: each run but
# the last is throttled 7 to 14 times), so 180 sources take three runs (63, 63, 54): the test needs
# fewer than 90 creates a run for its "several runs" (at least three), a margin of 27 (43%). At 300
# sources (five runs) the test cost 15 s of CPU, mostly moto describing the whole fleet once a run;
# bench/enrolment_scale.py keeps the figures of 1,000 and 5,000.
SOURCES = 180
TIMEOUT = enrolment.DEADLINE_MARGIN_S + 30.0
# Its own Region on the process's shared server (tests/conftest.py): moto keeps a Region's instances,
# sessions and tags apart, so the fleet slows no listing of the other modules, and no server is started
# for it alone.
SCALE_REGION = "eu-west-3"


@pytest.fixture(scope="module")
def moto(shared_moto: MotoServer) -> MotoServer:
    return shared_moto


def fleet(moto: MotoServer, run_id: str, sources: int) -> tuple[Any, Any, set[str]]:
    ec2 = moto.client("ec2", SCALE_REGION)
    subnet, settings = estate(ec2, run_id)
    instances = launch_instances(ec2, subnet, dict(settings.source_tags), sources)
    enis = {interface["NetworkInterfaceId"] for instance in instances for interface in instance["NetworkInterfaces"]}
    return ec2, settings, enis


def test_throttled_and_short_of_time_the_reconcile_defers_never_raises_and_converges(moto: MotoServer) -> None:
    ec2, settings, enis = fleet(moto, "busy", SOURCES)
    clock = SimClock()
    # Other callers in the account take 4.5 of the 5 CreateTrafficMirrorSession tokens a second.
    busy = {"CreateTrafficMirrorSession": 4.5}
    with ThrottlingProxy(moto.endpoint, clock, others=busy, region=SCALE_REGION) as proxy, skipped_backoff(clock):
        runs = converge(settings, proxy, TIMEOUT)

    assert [r.raised for r in runs] == [None] * len(runs), "throttling and the deadline are not failures"
    assert all(r.deadline_held for r in runs), [round(r.seconds) for r in runs]
    assert sum(r.throttled["CreateTrafficMirrorSession"] for r in runs) > 0, "EC2 did throttle"
    assert len(runs) > 2 and all(r.reasons[enrolment.DEFERRED_DEADLINE] > 0 for r in runs[:-1])
    assert all(r.pending == r.deferred > 0 for r in runs[:-1]) and runs[-1].pending == runs[-1].deferred == 0
    assert sum(r.created for r in runs) == SOURCES
    assert sessions_per_eni(ec2, settings) == dict.fromkeys(enis, 1), "one session per source"
    assert [json.loads(r.metric_line)["EnrolmentPending"] for r in runs] == [r.pending for r in runs]


# More creates than EC2's burst of 50 (by 30, 60%), in one run: only the refill can carry them.
PACED = 80


def test_at_its_own_pace_the_reconcile_is_never_throttled(moto: MotoServer) -> None:
    ec2, settings, enis = fleet(moto, "paced", PACED)
    clock = SimClock()
    with ThrottlingProxy(moto.endpoint, clock, region=SCALE_REGION) as proxy, skipped_backoff(clock):
        [result] = converge(settings, proxy, timeout=300.0)

    assert result.created == PACED and result.throttled.total() == 0
    assert result.seconds > (PACED - 50) / 5, "faster than EC2's refill would have been throttled"
    # The function's own pace: a reconcile's share of the rate, after its burst. Without it the
    # creates go as fast as EC2 answers (0.2 s each, simulated) and this run takes ~18 s.
    rate = settings.mutation_rate * enrolment.RECONCILE_SHARE
    assert result.seconds >= (PACED - rate * enrolment.BURST_SECONDS) / rate
    assert set(sessions_per_eni(ec2, settings)) == enis


def test_botocore_backoff_is_skipped_only_inside_the_simulation() -> None:
    clock = SimClock()
    before = clock()
    endpoint: Any = botocore.endpoint
    with skipped_backoff(clock):
        endpoint.time.sleep(100)
    assert clock() - before >= 100 and endpoint.time.sleep is not clock.sleep
