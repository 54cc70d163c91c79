"""About 300 sources against moto behind EC2's throttling (tests/traffic_mirror/throttling.py), with a
short deadline: the scheduled reconcile defers, never raises, never passes its deadline, and
converges with one session per source. bench/enrolment_scale.py runs the same at 1,000 and 5,000."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.endpoint
import pytest

from tests.node.boot.moto_server import MotoServer
from tests.traffic_mirror.throttling import (
    SimClock,
    ThrottlingProxy,
    converge,
    duplicates,
    estate,
    launch,
    sessions_of,
    skipped_backoff,
)
from wallarm_mirror.traffic_mirror import enrolment

SOURCES = 300
# A short deadline: DEADLINE_MARGIN_S of it is kept back, about 30 s is left for work.
TIMEOUT = enrolment.DEADLINE_MARGIN_S + 30.0


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    # Its own server: 300 sessions would slow every listing of the shared one.
    with MotoServer(tmp_path_factory.mktemp("moto-scale") / "moto.log") as server:
        yield server


def fleet(moto: MotoServer, run_id: str, sources: int) -> tuple[Any, Any, set[str]]:
    ec2 = moto.client("ec2")
    subnet, settings = estate(ec2, run_id)
    ids = launch(ec2, subnet, dict(settings.source_tags), sources)
    enis = {
        interface["NetworkInterfaceId"]
        for reservation in ec2.describe_instances(InstanceIds=ids)["Reservations"]
        for instance in reservation["Instances"]
        for interface in instance["NetworkInterfaces"]
    }
    return ec2, settings, enis


def test_throttled_and_short_of_time_the_reconcile_defers_never_raises_and_converges(moto: MotoServer) -> None:
    ec2, settings, enis = fleet(moto, "busy", SOURCES)
    clock = SimClock()
    # Other callers in the account take 4.5 of the 5 CreateTrafficMirrorSession tokens a second.
    busy = {"CreateTrafficMirrorSession": 4.5}
    with ThrottlingProxy(moto.endpoint, clock, others=busy) as proxy, skipped_backoff(clock):
        runs = converge(settings, proxy, TIMEOUT)

    assert [r.raised for r in runs] == [None] * len(runs), "throttling and the deadline are not failures"
    assert all(r.deadline_held for r in runs), [round(r.seconds) for r in runs]
    assert sum(r.throttled["CreateTrafficMirrorSession"] for r in runs) > 0, "EC2 did throttle"
    assert len(runs) > 2 and all(r.reasons[enrolment.DEFERRED_DEADLINE] > 0 for r in runs[:-1])
    assert all(r.pending == r.deferred > 0 for r in runs[:-1]) and runs[-1].pending == runs[-1].deferred == 0
    assert sum(r.created for r in runs) == SOURCES
    assert sessions_of(ec2, settings) == enis and duplicates(ec2, settings) == {}, "one session per source"
    assert [json.loads(r.metric_line)["EnrolmentPending"] for r in runs] == [r.pending for r in runs]


def test_at_its_own_pace_the_reconcile_is_never_throttled(moto: MotoServer) -> None:
    # More creates than EC2's burst of 50, in one run: only the refill can carry them.
    ec2, settings, enis = fleet(moto, "paced", 120)
    clock = SimClock()
    with ThrottlingProxy(moto.endpoint, clock) as proxy, skipped_backoff(clock):
        [result] = converge(settings, proxy, timeout=300.0)

    assert result.created == 120 and result.throttled.total() == 0
    assert result.seconds > (120 - 50) / 5, "faster than EC2's refill would have been throttled"
    assert sessions_of(ec2, settings) == enis


def test_botocore_backoff_is_skipped_only_inside_the_simulation() -> None:
    clock = SimClock()
    before = clock()
    endpoint: Any = botocore.endpoint
    with skipped_backoff(clock):
        endpoint.time.sleep(100)
    assert clock() - before >= 100 and endpoint.time.sleep is not clock.sleep
