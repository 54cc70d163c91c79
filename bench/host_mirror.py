"""What host mirroring costs the web host: the same load without and with the rendered script applied.

A real NGINX (Debian nginx-light) serves a page from the "web host" namespace of the kernel tests'
lab (tests/host_mirror/lab.py: veth pairs, a client namespace, an NLB stand-in namespace). The load
comes from the client namespace, open loop (tests/mirror/load.py: CLIENTS keep-alive clients, a GET
every INTERVAL seconds each, latency counted from when each request was due). The NLB stand-in is
a UDP 4789 socket that is never read, so the kernel drops the copies on arrival and the "NLB" costs
no user-space CPU. Rounds alternate without/with, so drift on a shared machine hits both alike.

Per run it prints: answered requests per second, p50 and p99, bytes on the web interface (both
directions) and bytes the copies put on the wire (the link to the NLB), NGINX's CPU (user + system
of its processes: the copies of answers are made in its send path) and the client's CPU (the load
generator: on veth, the receive path of the requests, and so their copies, runs in the sender's
context), each per 1,000 requests. Machine-wide CPU is not shown: the machine is shared.

    .venv/bin/python bench/host_mirror.py [--seconds 8] [--clients 40] [--interval 0.02] [--body-kb 16]
        [--rounds 2] [--mtu 1500] [--client-mtu 1500]

Needs root (network namespaces). Everything runs inside namespaces it creates and removes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.host_mirror.lab import APP_PORT, NLB_IP, WEB_IP, Lab, namespaces_work
from wallarm_mirror.host_mirror import HostScriptSpec, render_host_script

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_requests 100000;
    server {{
        listen {web}:{port} reuseport;
        location = /small.txt {{ return 200 "ok\\n"; }}
        location /app/load {{ default_type application/octet-stream; alias {root}/docs/page.bin; }}
    }}
}}
"""
# Runs in the client namespace: load.py's open loop, pointed at the web host instead of 127.0.0.1.
LOAD = """
import json, sys
import tests.mirror.load as load
load.LOOPBACK = sys.argv[1]
result = load.open_loop(int(sys.argv[2]), clients=int(sys.argv[3]), interval=float(sys.argv[4]),
                        seconds=float(sys.argv[5]), timeout=5.0)
print(json.dumps({"completed": result.completed, "offered": result.offered, "seconds": result.seconds,
                  "p50": result.percentile(50), "p99": result.percentile(99), "errors": dict(result.errors),
                  "statuses": {str(k): v for k, v in result.statuses.items()}}))
"""
SINK = """
import socket, sys, time
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
sock.bind((sys.argv[1], 4789))
print("READY", flush=True)
time.sleep(3600)
"""


@dataclass
class Run:
    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    web_bytes: int
    copy_bytes: int
    nginx_cpu: float
    load_cpu: float
    completed: int
    errors: dict[str, int]
    statuses: dict[str, int]

    def row(self) -> str:
        per_k = 1000 / self.completed if self.completed else float("nan")
        return (
            f"| {self.label} | {self.rps:.0f}/s | {self.p50_ms:.2f} ms | {self.p99_ms:.2f} ms "
            f"| {self.web_bytes / 1e6:.1f} MB | {self.copy_bytes / 1e6:.1f} MB "
            f"| {self.nginx_cpu * per_k * 1000:.1f} ms | {self.load_cpu * per_k * 1000:.1f} ms |"
            + (f" errors {self.errors}" if self.errors else "")
            + (f" statuses {self.statuses}" if set(self.statuses) != {"200"} else "")
        )


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return total


def nginx_pids(lab: Lab) -> list[int]:
    master = int((lab.root / "nginx.pid").read_text())
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [master, *(int(pid) for pid in children)]


def link_bytes(lab: Lab, namespace: str, device: str, directions: tuple[str, ...]) -> int:
    shown = lab.ns(namespace, " ; ".join(f"cat /sys/class/net/{device}/statistics/{d}_bytes" for d in directions))
    return sum(int(value) for value in shown.stdout.split())


def measure(lab: Lab, label: str, args: argparse.Namespace) -> Run:
    pids = nginx_pids(lab)
    web_before = link_bytes(lab, lab.web, "w0", ("rx", "tx"))
    copies_before = link_bytes(lab, lab.web, "w1", ("tx",))
    cpu_before, load_before = process_cpu(pids), children_cpu()
    load = subprocess.run(
        ["ip", "netns", "exec", lab.cli, sys.executable, "-c", LOAD, WEB_IP, str(APP_PORT), str(args.clients),
         str(args.interval), str(args.seconds)],
        capture_output=True, text=True, cwd=ROOT, timeout=args.seconds + 120, check=True,
    )  # fmt: skip
    cpu, load_cpu = process_cpu(pids) - cpu_before, children_cpu() - load_before
    result = json.loads(load.stdout)
    return Run(
        label=label,
        rps=result["completed"] / result["seconds"] if result["seconds"] else 0.0,
        p50_ms=result["p50"] * 1000,
        p99_ms=result["p99"] * 1000,
        web_bytes=link_bytes(lab, lab.web, "w0", ("rx", "tx")) - web_before,
        copy_bytes=link_bytes(lab, lab.web, "w1", ("tx",)) - copies_before,
        nginx_cpu=cpu,
        load_cpu=load_cpu,
        completed=result["completed"],
        errors=result["errors"],
        statuses=result["statuses"],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between one client's requests")
    parser.add_argument("--body-kb", type=int, default=16, help="size of the page each GET returns")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--mtu", type=int, default=1500, help="MTU of the web host's links")
    parser.add_argument(
        "--client-mtu",
        type=int,
        help="MTU of the client's link (default: --mtu); 1500 with --mtu 9001 is a VPC host serving internet clients",
    )
    args = parser.parse_args()
    why = namespaces_work()
    if why is not None:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        print("cannot run: nginx is not installed (Debian: apt-get install nginx-light)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-host-mirror-") as folder:
        os.chmod(folder, 0o755)  # NGINX's worker (www-data) reads the page from here
        lab = Lab(Path(folder), web_mtu=args.mtu, client_mtu=args.client_mtu or args.mtu, servers=False)
        try:
            (lab.root / "docs" / "page.bin").write_bytes(os.urandom(args.body_kb * 1024))
            conf = lab.root / "nginx.conf"
            conf.write_text(NGINX_CONF.format(root=lab.root, web=WEB_IP, port=APP_PORT))
            lab.start(lab.web, [nginx, "-c", str(conf), "-g", "daemon off;"])
            lab.wait_for(f"http://{WEB_IP}:{APP_PORT}/small.txt")
            sink = lab.start(lab.rcv, [sys.executable, "-c", SINK, NLB_IP])
            assert sink.stdout is not None and sink.stdout.readline().strip() == b"READY"
            script = lab.root / "host-mirror.sh"
            spec = HostScriptSpec(stack="bench", method="host", vni=7, ports=(APP_PORT,), nlb_dns_name=None)
            script.write_text(render_host_script(spec))
            load_average = os.getloadavg()[0]
            runs: list[Run] = []
            for _ in range(args.rounds):
                runs.append(measure(lab, "without mirror", args))
                applied = lab.script(script, "apply", "--remote", NLB_IP)
                if applied.returncode != 0:
                    print(applied.stderr, file=sys.stderr)
                    return 1
                runs.append(measure(lab, "host mirror", args))
                lab.script(script, "remove")
                time.sleep(0.5)
        finally:
            lab.close()
    offered = args.clients / args.interval
    print(
        f"# host mirroring cost: {args.clients} clients x 1 GET every {args.interval * 1000:.0f} ms "
        f"(offered {offered:.0f}/s), {args.body_kb} KB pages, {args.seconds:.0f} s per run, "
        f"MTU {args.mtu} (client {args.client_mtu or args.mtu}), "
        f"{os.cpu_count()} CPUs, load average {load_average:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print("| run | answered | p50 | p99 | web interface (rx+tx) | copies on the wire | NGINX CPU /1k req "
          "| client CPU /1k req |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for run in runs:
        print(run.row())
    for label in ("without mirror", "host mirror"):
        mine = [run for run in runs if run.label == label]
        print(
            f"median {label}: {statistics.median(r.rps for r in mine):.0f}/s, p99 "
            f"{statistics.median(r.p99_ms for r in mine):.2f} ms, NGINX CPU "
            f"{statistics.median(r.nginx_cpu * 1e6 / r.completed for r in mine):.1f} ms/1k, client CPU "
            f"{statistics.median(r.load_cpu * 1e6 / r.completed for r in mine):.1f} ms/1k, copies "
            f"{statistics.median(r.copy_bytes / r.web_bytes for r in mine):.2f} x the web interface's bytes"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
