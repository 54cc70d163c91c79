"""What the NGINX mirror costs users: p50/p99 with and without it, and connections per 1,000 copies.

Runs the real NGINX on 127.0.0.1 with the generated snippet and a healthy HTTPS (or HTTP) receiver
standing in for the ALB; the client sends REQUESTS GETs over CLIENTS keep-alive connections. Timing
lives here, not in the test suite: figures on a shared machine are noisy, pass/fail tests are not.

    .venv/bin/python bench/mirror.py [--requests 2000] [--http]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.mirror.nginx import find_nginx, start_nginx
from tests.mirror.servers import LOOPBACK, HttpStandIn, free_port
from wallarm_mirror.mirror import MirrorEndpoint, MirrorOptions, render_nginx

CLIENTS = 4
TLS_NAME = "wallarm-mirror.test"


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--http", action="store_true", help="plain HTTP to the receiver instead of HTTPS")
    args = parser.parse_args()
    binary = find_nginx()
    if binary is None:
        print("nginx is not installed", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as temp, HttpStandIn(b"served by the primary app") as primary:
        folder = Path(temp)
        cert, key = _certificate(folder)
        receiver = HttpStandIn() if args.http else HttpStandIn(tls_cert=cert, tls_key=key)
        with receiver:
            scheme = "http" if args.http else "https"
            endpoint = MirrorEndpoint.parse(f"{scheme}://{LOOPBACK}:{receiver.port}")
            options = MirrorOptions(
                primary_upstream="primary_app",
                nginx_relay_port=free_port(),
                tls_server_name=TLS_NAME,
                tls_ca_file=str(cert),
            )
            snippet = render_nginx(endpoint, options)
            # Without the mirror: the same config with the server-level mirror line commented out.
            unmirrored = snippet.replace("\nmirror /_wallarm_mirror;", "\n# mirror off for the baseline")
            results = {}
            for label, text in (("without mirror", unmirrored), ("with mirror", snippet)):
                prefix = folder / label.replace(" ", "-")
                prefix.mkdir()
                receiver.clear()
                runner, port = start_nginx(binary, prefix, text, primary.port)
                with runner:
                    _latencies(port, 200)  # warm-up: workers, connections, TLS sessions
                    receiver.clear()
                    results[label] = _latencies(port, args.requests)
                    copies = len(receiver.wait_for(args.requests if label == "with mirror" else 0, timeout=10))
                    connections, handshakes = receiver.connections, len(receiver.sni_names)
            print(
                f"NGINX {binary}, {scheme.upper()} endpoint, {args.requests} requests after 200 warm-up, "
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


if __name__ == "__main__":
    raise SystemExit(main())
