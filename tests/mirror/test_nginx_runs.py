"""The generated NGINX snippet, run in the real NGINX binary on 127.0.0.1.

A tiny app stands in for the user's primary upstream and a recording server for the Wallarm ALB. The
tests check what a user cares about: the client always gets the app's answer, the copy reaches the
endpoint complete (method, path, query, body, Host, client address, the node's X-Server-* headers),
and a slow or dead endpoint costs the client nothing (tests/mirror/test_nginx_distress.py: under load).
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.mirror.client import round_robin
from tests.mirror.nginx import NginxRunner, find_nginx, full_config, start_nginx
from tests.mirror.servers import LOOPBACK, DnsStandIn, HttpStandIn, free_port, free_port_pair
from tests.ports import RefusingPort
from wallarm_mirror.mirror import DEFAULT_CA_FILE, MirrorEndpoint, MirrorOptions, render_nginx

PRIMARY_BODY = b"served by the primary app"
PRIMARY = "primary_app"
TIMEOUT = 0.3  # the snippet's mirror timeout in these tests (proxy_*_timeout 300ms)
MARGIN = 0.5  # scheduling slack on a loaded 2-core CI machine
TLS_NAME = "wallarm-mirror.test"


@pytest.fixture(scope="session")
def nginx_binary() -> str:
    found = find_nginx()
    if found is None:
        message = "nginx is not installed (Debian: apt-get install nginx-light)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the real-NGINX mirror tests")
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def primary() -> Iterator[HttpStandIn]:
    with HttpStandIn(PRIMARY_BODY) as server:
        yield server


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A mirror endpoint's port that refuses every connection for the whole test (held closed)."""
    with RefusingPort() as port:
        yield port


@pytest.fixture(scope="module")
def receiver() -> Iterator[HttpStandIn]:
    with HttpStandIn(b"the mirror's answer is thrown away") as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_recorders(request: pytest.FixtureRequest) -> None:
    for name in ("primary", "receiver"):
        if name in request.fixturenames:
            server: HttpStandIn = request.getfixturevalue(name)
            server.clear()
            server.delay = 0.0


def _options(**changes: Any) -> MirrorOptions:
    # A relay port of its own: tests run in parallel, each with its own NGINX.
    changes = {"nginx_relay_port": free_port_pair(), **changes}
    return MirrorOptions(primary_upstream=PRIMARY, timeout_seconds=TIMEOUT, **changes)


@pytest.fixture(scope="module")
def mirroring_nginx(
    nginx_binary: str, primary: HttpStandIn, receiver: HttpStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    """NGINX mirroring every request to the receiver; yields its port."""
    endpoint = MirrorEndpoint.parse(f"http://{LOOPBACK}:{receiver.port}")
    snippet = render_nginx(endpoint, _options())
    runner, port = start_nginx(nginx_binary, tmp_path_factory.mktemp("nginx"), snippet, primary.port)
    with runner:
        yield port


def _send(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes, float]:
    own = conn is None
    conn = conn or http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    started = time.monotonic()
    try:
        conn.request(method, path, body=body, headers={"Host": "shop.example.test", **(headers or {})})
        response = conn.getresponse()
        payload = response.read()
        return response.status, payload, time.monotonic() - started
    finally:
        if own:
            conn.close()


def _by_marker(requests: list, marker: str) -> list:
    return [r for r in requests if marker in r.query]


# ------------------------------------------------------------------------------------ config test


def _check_config(nginx_binary: str, prefix: Path, snippet: str, fallback: bool = True) -> subprocess.CompletedProcess:
    runner = NginxRunner(
        nginx_binary, prefix, full_config(prefix, snippet, free_port(), free_port(), PRIMARY, fallback)
    )
    return runner.test_config()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed certificate for TLS_NAME (the 'ALB') and an unrelated one (a wrong CA)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        message = "openssl is not installed"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("tls")
    files: dict[str, Path] = {}
    for label, name in (("alb", TLS_NAME), ("other", "someone-else.test")):
        cert, key = folder / f"{label}.crt", folder / f"{label}.key"
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
             "-addext", f"subjectAltName=DNS:{name}"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        files[f"{label}_cert"], files[f"{label}_key"] = cert, key
    return files


CONFIG_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    # Before 1.27.3 NGINX resolves the name once, at start: here it must resolve (localhost does).
    "http-name-default-options": ("http://localhost:8445", {}),
    "http-sampled-two-locations": (
        "http://localhost:8445",
        {"sample_percent": 12.5, "locations": ("/api", "/login")},
    ),
    "https-ip-verify-custom-ca": (f"https://{LOOPBACK}:8445", {"tls_server_name": TLS_NAME, "ca": "alb_cert"}),
    "https-localhost-system-ca": ("https://localhost:8445", {}),
    "https-verify-off": ("https://localhost:8445", {"tls_verify": False, "sample_percent": 1}),
    "upstream-as-url": ("http://10.0.0.7:80", {"primary_upstream": "http://127.0.0.1:9"}),
}


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_nginx_accepts_full_config_with_snippet(
    case: str, nginx_binary: str, tmp_path: Path, tls_files: dict[str, Path]
) -> None:
    url, changes = CONFIG_CASES[case]
    changes = dict(changes)
    if "ca" in changes:
        changes["tls_ca_file"] = str(tls_files[changes.pop("ca")])
    system_ca = url.startswith("https") and changes.get("tls_verify", True) and "tls_ca_file" not in changes
    if system_ca and not Path(DEFAULT_CA_FILE).exists():
        pytest.skip(f"{DEFAULT_CA_FILE} is missing here (Debian: apt-get install ca-certificates)")
    options = MirrorOptions(**{"primary_upstream": PRIMARY, **changes})
    snippet = render_nginx(MirrorEndpoint.parse(url), options)
    result = _check_config(nginx_binary, tmp_path, snippet)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_config_check_catches_a_broken_snippet(nginx_binary: str, tmp_path: Path) -> None:
    """The harness must be able to say no: drop one closing brace and nginx -t fails."""
    snippet = render_nginx(MirrorEndpoint.parse("http://10.0.0.7:8445"), _options())
    broken = snippet.replace("proxy_next_upstream off;", "proxy_next_upstream off")
    result = _check_config(nginx_binary, tmp_path, broken)
    assert result.returncode != 0
    assert "emerg" in result.stderr


# ------------------------------------------------------------------------------------ live traffic


def test_get_reaches_client_and_mirror_with_wallarm_headers(
    mirroring_nginx: int, primary: HttpStandIn, receiver: HttpStandIn
) -> None:
    status, body, _ = _send(
        mirroring_nginx, "GET", "/shop/items?id=7&q=%27%20OR%201%3D1&m=get", headers={"Cookie": "session=abc"}
    )
    assert (status, body) == (200, PRIMARY_BODY)

    [copy] = _by_marker(receiver.wait_for(1), "m=get")
    assert (copy.method, copy.path, copy.query, copy.body) == (
        "GET",
        "/shop/items",
        "id=7&q=%27%20OR%201%3D1&m=get",
        b"",
    )
    headers = copy.headers
    assert headers["host"] == "shop.example.test"
    assert headers["x-forwarded-for"] == LOOPBACK
    assert headers["x-server-addr"] == LOOPBACK
    assert headers["x-server-port"] == str(mirroring_nginx)
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-port"] == str(mirroring_nginx)
    assert headers["x-scheme"] == "http"
    assert headers["cookie"] == "session=abc"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])
    [original] = _by_marker(primary.requests, "m=get")
    assert headers["x-request-id"] == original.headers["x-request-id"], "copy and original must share the id"


@pytest.mark.parametrize(
    "size",
    [64, 200_000, 1024 * 1024 + 1024],
    # Over 1 MiB: the site allows 10m in its server, the relay's servers inherit NGINX's default 1m,
    # so the copy gets through only with the relay's own `client_max_body_size 0` (413 otherwise).
    ids=["small-body", "body-spilled-to-disk", "body-over-nginx-default-1MiB"],
)
def test_post_body_is_mirrored_whole(mirroring_nginx: int, receiver: HttpStandIn, size: int) -> None:
    payload = (b"user=alice&password=%27+OR+1%3D1--&pad=" + b"x" * size)[:size]
    status, body, _ = _send(
        mirroring_nginx,
        "POST",
        f"/login?next=%2Fhome&m=post{size}",
        body=payload,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (status, body) == (200, PRIMARY_BODY)
    copies = _by_marker(receiver.wait_for(1), f"m=post{size}")
    assert len(copies) == 1, f"{len(copies)} copies of a {size}-byte body reached the ALB (413 at the relay?)"
    [copy] = copies
    assert (copy.method, copy.path, copy.query) == ("POST", "/login", f"next=%2Fhome&m=post{size}")
    assert copy.body == payload
    assert copy.headers["content-type"] == "application/x-www-form-urlencoded"


def test_forwarded_headers_from_a_load_balancer_in_front_are_kept(mirroring_nginx: int, receiver: HttpStandIn) -> None:
    """Behind an ALB the client address is already in X-Forwarded-For; the copy must keep it."""
    alb_headers = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"}
    _send(mirroring_nginx, "GET", "/?m=behind-alb", headers=alb_headers)
    [copy] = _by_marker(receiver.wait_for(1), "m=behind-alb")
    assert copy.headers["x-forwarded-for"] == f"203.0.113.7, {LOOPBACK}"
    assert copy.headers["x-forwarded-proto"] == "https"
    assert copy.headers["x-forwarded-port"] == "443"


def test_request_without_host_gets_the_server_address_as_host(mirroring_nginx: int, receiver: HttpStandIn) -> None:
    with socket.create_connection((LOOPBACK, mirroring_nginx), timeout=5) as sock:
        sock.sendall(b"GET /?m=no-host HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.endswith(PRIMARY_BODY)
    [copy] = _by_marker(receiver.wait_for(1), "m=no-host")
    assert copy.headers["host"] == LOOPBACK


def test_slow_mirror_does_not_delay_the_next_keep_alive_request(mirroring_nginx: int, receiver: HttpStandIn) -> None:
    """NGINX holds the connection until the mirror subrequest ends; the relay ends it at once."""
    receiver.delay = 3.0  # far beyond TIMEOUT: a subrequest waiting for the ALB would hold each request
    conn = http.client.HTTPConnection(LOOPBACK, mirroring_nginx, timeout=10)
    try:
        elapsed = []
        for index in range(3):
            status, body, seconds = _send(mirroring_nginx, "GET", f"/?m=slow{index}", conn=conn)
            assert (status, body) == (200, PRIMARY_BODY)
            elapsed.append(seconds)
    finally:
        conn.close()
    print(f"slow mirror: per-request seconds on one keep-alive connection {[round(s, 3) for s in elapsed]}")
    assert max(elapsed) < MARGIN / 5, "no wait for the ALB at all (the old snippet waited TIMEOUT each)"
    assert len(receiver.wait_for(3)) == 3, "each copy reached the slow endpoint before the relay gave up"


def test_a_copy_is_never_sent_again_to_another_alb_address(
    nginx_binary: str, primary: HttpStandIn, tmp_path: Path
) -> None:
    """An ALB name resolves to several addresses, and NGINX makes one upstream peer of each. A copy that
    times out on a slow address must not be sent again to the next one (`proxy_next_upstream off` in
    the relay): by NGINX's default (error timeout) it would be, so the node would see it twice and
    every slow copy would cost a second slot. The first address here answers after 3 s (TIMEOUT is 0.3 s)."""
    copies = 8
    with HttpStandIn(delay=3.0) as slow, HttpStandIn() as fast:
        endpoint = MirrorEndpoint.parse(f"http://{LOOPBACK}:{slow.port}")
        snippet = render_nginx(endpoint, _options())
        one_address = f"    server {LOOPBACK}:{slow.port} max_conns="
        [line] = [line for line in snippet.split("\n") if line.startswith(one_address)]
        # What NGINX builds from a name with two addresses: two peers, the slow one first.
        two_addresses = f"{line}\n{line.replace(f':{slow.port} ', f':{fast.port} ')}"
        runner, port = start_nginx(nginx_binary, tmp_path, snippet.replace(line, two_addresses), primary.port)
        with runner:
            conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
            try:
                for index in range(copies):
                    assert _send(port, "GET", f"/?m=twice{index}", conn=conn)[:2] == (200, PRIMARY_BODY)
            finally:
                conn.close()
            at_fast = fast.wait_quiet(quiet=TIMEOUT + MARGIN)  # a retried copy arrives a timeout late
            at_slow = slow.requests
    slow_markers = sorted(r.query for r in at_slow)
    fast_markers = sorted(r.query for r in at_fast)
    print(f"two ALB addresses: {len(slow_markers)} copies at the slow one, {len(fast_markers)} at the fast one")
    assert slow_markers and fast_markers, "round robin must give both addresses copies, or nothing was tested"
    assert not set(slow_markers) & set(fast_markers), "a copy that timed out was sent again to the other address"
    # At most once each (a copy the site's 50 ms hand-off dropped on a loaded machine is not this test's).
    arrived = slow_markers + fast_markers
    assert len(arrived) == len(set(arrived)) and set(arrived) <= {f"m=twice{i}" for i in range(copies)}, arrived


def test_dead_mirror_does_not_hurt_client(
    nginx_binary: str, primary: HttpStandIn, tmp_path: Path, refusing_port: int
) -> None:
    endpoint = MirrorEndpoint.parse(f"http://{LOOPBACK}:{refusing_port}")  # connection refused
    runner, port = start_nginx(nginx_binary, tmp_path, render_nginx(endpoint, _options()), primary.port)
    with runner:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
        try:
            results = [_send(port, "POST", f"/?m=dead{i}", body=b"a=1", conn=conn) for i in range(3)]
        finally:
            conn.close()
    print(f"dead mirror: per-request seconds {[round(r[2], 3) for r in results]}")
    assert [(status, body) for status, body, _ in results] == [(200, PRIMARY_BODY)] * 3
    assert max(seconds for _, _, seconds in results) < TIMEOUT + MARGIN
    assert "Connection refused" not in runner.log_text(), "failed copies stay out of the site's error log"


def test_sampling_mirrors_about_the_share_and_only_listed_locations(
    nginx_binary: str, primary: HttpStandIn, tmp_path: Path
) -> None:
    total = 300
    with HttpStandIn() as receiver:
        endpoint = MirrorEndpoint.parse(f"http://{LOOPBACK}:{receiver.port}")
        snippet = render_nginx(endpoint, _options(sample_percent=50, locations=("/mirrored",)))
        runner, port = start_nginx(nginx_binary, tmp_path, snippet, primary.port)
        with runner:
            # One keep-alive connection, a listed and an unlisted path in turn.
            paths = [path for index in range(total) for path in (f"/mirrored/page?n={index}", f"/elsewhere?n={index}")]
            answers = [answer[:2] for answer in round_robin(port, paths, clients=1)]
            assert answers == [(200, PRIMARY_BODY)] * len(paths)
            copies = receiver.wait_quiet()
    assert len(primary.requests) == 2 * total
    assert all(copy.path == "/mirrored/page" for copy in copies), "unlisted locations must never be mirrored"
    # Binomial(300, 0.5): mean 150, sd 8.7; 105..195 is more than 5 sd each side.
    assert 105 <= len(copies) <= 195, len(copies)
    ids = [copy.headers["x-request-id"] for copy in copies]
    assert len(set(ids)) == len(ids)
    print(f"sampling 50 %: {len(copies)} of {total} mirrored")


# ------------------------------------------------------------------------------------ TLS and DNS


def test_https_endpoint_is_verified_and_gets_sni(
    nginx_binary: str, primary: HttpStandIn, tls_files: dict[str, Path], tmp_path: Path
) -> None:
    with HttpStandIn(tls_cert=tls_files["alb_cert"], tls_key=tls_files["alb_key"]) as alb:
        endpoint = MirrorEndpoint.parse(f"https://{LOOPBACK}:{alb.port}")
        options = _options(tls_server_name=TLS_NAME, tls_ca_file=str(tls_files["alb_cert"]))
        runner, port = start_nginx(nginx_binary, tmp_path, render_nginx(endpoint, options), primary.port)
        with runner:
            status, body, _ = _send(port, "POST", "/pay?m=tls", body=b"card=4111")
            copies = alb.wait_for(1)
    assert (status, body) == (200, PRIMARY_BODY)
    assert [(c.method, c.path, c.query, c.body) for c in copies] == [("POST", "/pay", "m=tls", b"card=4111")]
    assert copies[0].headers["host"] == "shop.example.test"
    assert alb.sni_names == [TLS_NAME]


def test_https_endpoint_with_unknown_certificate_gets_nothing(
    nginx_binary: str, primary: HttpStandIn, tls_files: dict[str, Path], tmp_path: Path
) -> None:
    with HttpStandIn(tls_cert=tls_files["alb_cert"], tls_key=tls_files["alb_key"]) as impostor:
        endpoint = MirrorEndpoint.parse(f"https://{LOOPBACK}:{impostor.port}")
        options = _options(tls_server_name=TLS_NAME, tls_ca_file=str(tls_files["other_cert"]))
        runner, port = start_nginx(nginx_binary, tmp_path, render_nginx(endpoint, options), primary.port)
        with runner:
            status, body, seconds = _send(port, "POST", "/pay?m=impostor", body=b"card=4111")
            deadline = time.monotonic() + 3
            while not impostor.sni_names and time.monotonic() < deadline:
                time.sleep(0.02)
            log = runner.log_text()
    assert (status, body) == (200, PRIMARY_BODY)
    assert seconds < TIMEOUT + MARGIN
    assert impostor.sni_names == [TLS_NAME], "the copy was attempted: NGINX began a handshake"
    assert impostor.requests == [], "no request may reach a peer whose certificate is not trusted"
    assert "certificate verify" not in log, "the refusal stays out of the site's error log"


def _nginx_version(binary: str) -> tuple[int, int, int]:
    text = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10, check=False).stderr
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", text)
    return (int(found[1]), int(found[2]), int(found[3])) if found else (0, 0, 0)


def test_alb_name_is_resolved_at_run_time(nginx_binary: str, primary: HttpStandIn, tmp_path: Path) -> None:
    """ALB addresses change: NGINX 1.27.3+ asks DNS while running (`server ... resolve`), not once at start-up."""
    if _nginx_version(nginx_binary) < (1, 27, 3):
        pytest.skip("the resolving upstream needs NGINX 1.27.3 or newer; this NGINX is older")
    alb_name = "internal-wallarm-test-123.eu-west-1.elb.amazonaws.com"
    with HttpStandIn() as alb, DnsStandIn({alb_name}) as dns:
        endpoint = MirrorEndpoint.parse(f"http://{alb_name}:{alb.port}")
        options = _options(nginx_resolver=f"{LOOPBACK}:{dns.port}", nginx_version="1.27.3")
        runner, port = start_nginx(nginx_binary, tmp_path, render_nginx(endpoint, options), primary.port)
        with runner:
            assert _send(port, "GET", "/?m=dns")[:2] == (200, PRIMARY_BODY)
            copies = alb.wait_for(1)
    assert [(c.path, c.query) for c in copies] == [("/", "m=dns")]
    assert (alb_name, 1) in dns.queries
    assert {qtype for _, qtype in dns.queries} == {1}, "A records only: copies must not go to IPv6 addresses"
