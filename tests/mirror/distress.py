"""What the NGINX and Envoy distress tests share: the load, its bounds, and the analyser's faults.

The load arrives as real traffic does (tests/mirror/load.py): 40 keep-alive clients, each sending a
request every 200 ms (200 requests a second), open loop, latency counted from when each request was
due. The bounds are issue 24's: at most 0.5 % of user requests over 100 ms, throughput within 10 %
of the offered (and healthy) rate.
"""

from __future__ import annotations

from contextlib import ExitStack

from tests.mirror.load import LoadResult
from tests.mirror.servers import BlackholeStandIn, HttpStandIn, HungStandIn
from tests.ports import RefusingPort

CLIENTS = 40
INTERVAL = 0.2  # each client's requests: 200 requests a second in all
SECONDS = 1.5  # a shorter run than the 25 s (bench/mirror.py runs 10 s): 300 requests
OFFERED_RATE = CLIENTS / INTERVAL
SLOW = 2.0  # the slow analyser answers after this long, as in the issue
SLOW_SHARE = 0.005
SLOW_LATENCY = 0.1
ANALYSERS = ("healthy", "slow", "hung", "refusing", "blackholed")

Analyser = HttpStandIn | HungStandIn | BlackholeStandIn | None


def analyser_stand_in(stack: ExitStack, kind: str) -> tuple[Analyser, int]:
    """The stand-in for the ALB in state `kind` (one of ANALYSERS), entered on `stack`, and its port."""
    endpoint: Analyser = None
    if kind == "healthy":
        endpoint = stack.enter_context(HttpStandIn())
    elif kind == "slow":
        endpoint = stack.enter_context(HttpStandIn(delay=SLOW))
    elif kind == "hung":
        endpoint = stack.enter_context(HungStandIn())
    elif kind == "blackholed":
        endpoint = stack.enter_context(BlackholeStandIn())
    elif kind != "refusing":
        raise ValueError(f"unknown analyser state {kind!r}")
    return endpoint, endpoint.port if endpoint is not None else stack.enter_context(RefusingPort())


def assert_users_unharmed(result: LoadResult) -> None:
    """Every request answered 200, at most 0.5 % over 100 ms, throughput within 10 % of the offered rate."""
    print(result.summary())
    assert result.completed == result.offered, result.summary()
    assert set(result.statuses) == {200}, result.summary()
    assert result.share_over(SLOW_LATENCY) <= SLOW_SHARE, result.summary()
    assert result.throughput >= 0.9 * OFFERED_RATE, result.summary()
