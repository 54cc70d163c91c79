"""A web host, a client and an NLB stand-in in network namespaces this module creates and removes.

    cli (c0 10.77.0.2, fd77::2) ── veth ── (w0 10.77.0.1, fd77::1) web (w1 10.77.1.1) ── veth ── (r0 10.77.1.2,
                                                                                          10.77.1.3) rcv
The web host's default route leaves through w0, so w0 is the interface the script picks. Its copies go
out of w1 to the receiver on UDP 4789 (10.77.1.2, and 10.77.1.3 as a second NLB address). w1 takes no
segmentation offload (gso_max_segs 1), as a real NIC's wire: a veth would otherwise hand a 64 KB
VXLAN super-packet to the receiver's namespace in one piece, which no Ethernet link carries. Every
process is started here and stopped in `close`; every namespace is deleted there. The script runs in
a mount namespace of its own where a lab directory stands in for /run and /var/lib (its state) and
lab files for /etc/hosts and /etc/resolv.conf (names resolve from the hosts file; DNS is 127.0.0.1,
where nothing answers), and lab folders for /etc/systemd/system and /usr/local/sbin (install's
units and copy): the host's own files are never touched.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
WEB_IP, CLIENT_IP = "10.77.0.1", "10.77.0.2"
WEB_IP6, CLIENT_IP6 = "fd77::1", "fd77::2"
NLB_IP, NLB_IP_2 = "10.77.1.2", "10.77.1.3"
APP_PORT, OTHER_PORT = 8080, 9090
BIG = 200 * 1024
_numbers = itertools.count()


def run(
    argv: Sequence[str],
    check: bool = True,
    timeout: float = 20,
    input: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, check=check, timeout=timeout, input=input, env=env
    )


def namespaces_work() -> str | None:
    """Why the kernel tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "the host mirroring kernel tests need root (network namespaces, tc, mount namespaces)"
    for tool in ("ip", "tc", "unshare", "curl", "getent", "setpriv"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    name = f"wmhprobe{os.getpid()}"
    made = run(["ip", "netns", "add", name], check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    try:
        probe = run(["ip", "netns", "exec", name, "unshare", "-m", "true"], check=False)
        if probe.returncode != 0:
            return f"cannot create a mount namespace: {probe.stderr.strip()}"
    finally:
        run(["ip", "netns", "del", name], check=False)
    return None


class Lab:
    """The three namespaces, their processes and the lab's files (see the module docstring)."""

    def __init__(self, root: Path, web_mtu: int = 1500, client_mtu: int = 1500, servers: bool = True) -> None:
        number = next(_numbers)
        tag = f"wmh{os.getpid() % 100000}x{number}"
        self.web, self.cli, self.rcv = f"{tag}w", f"{tag}c", f"{tag}r"
        self.root = root
        self.processes: list[subprocess.Popen[bytes]] = []
        self.received = root / "received.bin"
        for folder in ("run", "lib", "docs", "bin", "units", "sbin"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        (root / "hosts").write_text("127.0.0.1 localhost\n")
        (root / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        self.big = os.urandom(BIG)
        (root / "docs" / "big.bin").write_bytes(self.big)
        (root / "docs" / "small.txt").write_text("hello from the web host\n")
        self._created: list[str] = []
        try:
            self._build(web_mtu, client_mtu, servers)
        except BaseException:
            self.close()
            raise

    # --- set-up ---------------------------------------------------------------------------------
    def _build(self, web_mtu: int, client_mtu: int, servers: bool) -> None:
        for name in (self.web, self.cli, self.rcv):
            run(["ip", "netns", "add", name])
            self._created.append(name)
            self.ns(name, "ip link set lo up")
        run(["ip", "link", "add", "c0", "netns", self.cli, "type", "veth", "peer", "name", "w0", "netns", self.web])
        run(["ip", "link", "add", "r0", "netns", self.rcv, "type", "veth", "peer", "name", "w1", "netns", self.web])
        relay_mtu = max(web_mtu, client_mtu)
        self.ns(self.cli, f"ip link set c0 mtu {client_mtu} up && ip addr add {CLIENT_IP}/24 dev c0 && "
                f"ip addr add {CLIENT_IP6}/64 dev c0 nodad && ip route add default via {WEB_IP}")  # fmt: skip
        self.ns(self.web, f"ip link set w0 mtu {web_mtu} up && ip addr add {WEB_IP}/24 dev w0 && "
                f"ip addr add {WEB_IP6}/64 dev w0 nodad && ip route add default via {CLIENT_IP} dev w0 && "
                f"ip link set w1 mtu {relay_mtu} gso_max_segs 1 up && ip addr add 10.77.1.1/24 dev w1 && "
                "ip addr add 169.254.169.254/32 dev lo")  # fmt: skip
        self.ns(self.rcv, f"ip link set r0 mtu {relay_mtu} up && ip addr add {NLB_IP}/24 dev r0 && "
                f"ip addr add {NLB_IP_2}/24 dev r0 && ip route add default via 10.77.1.1")  # fmt: skip
        if not servers:
            return
        for port in (APP_PORT, OTHER_PORT):
            self.start(self.web, [sys.executable, "-m", "http.server", str(port), "--bind", "::",
                                  "--directory", str(self.root / "docs")])  # fmt: skip
        for port in (APP_PORT, OTHER_PORT):
            self.wait_for(f"http://{WEB_IP}:{port}/small.txt")

    def wait_for(self, url: str) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.fetch(url, check=False).returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"{url} did not answer within 10 s")

    def ns(self, name: str, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["ip", "netns", "exec", name, "sh", "-c", command], check=check)

    def start(self, name: str, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            ["ip", "netns", "exec", name, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            if process.stdout:
                process.stdout.close()
        for name in self._created:
            run(["ip", "netns", "del", name], check=False)
        self._created.clear()

    # --- what tests do ---------------------------------------------------------------------------
    def fetch(self, url: str, check: bool = True, out: str = "/dev/null") -> subprocess.CompletedProcess[str]:
        return run(["ip", "netns", "exec", self.cli, "curl", "-sS", "-g", "-m", "10", "-o", out, url], check=check)

    def imds(self, zone: str = "eu-west-1a", instance_type: str = "m6i.large", zone_id: str | None = None) -> None:
        """The fake IMDSv2; without `zone_id`, placement/availability-zone-id answers 404."""
        argv = [sys.executable, str(HERE / "imds.py"), zone, instance_type, *([zone_id] if zone_id else [])]
        process = self.start(self.web, argv)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == b"READY"

    def receive(self) -> subprocess.Popen[bytes]:
        """Start the NLB stand-in (both addresses); `stop_receiving` ends it and returns nothing."""
        self.received.unlink(missing_ok=True)
        ready = Path(f"{self.received}.ready")
        ready.unlink(missing_ok=True)
        process = self.start(
            self.rcv, [sys.executable, str(HERE / "receiver.py"), str(self.received), NLB_IP, NLB_IP_2]
        )
        deadline = time.monotonic() + 10
        while not ready.exists():
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the UDP 4789 receiver did not start")
            time.sleep(0.02)
        return process

    def stop_receiving(self, process: subprocess.Popen[bytes]) -> None:
        time.sleep(0.3)  # copies still in flight
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=5)

    def write_hosts(self, entries: dict[str, str]) -> None:
        lines = ["127.0.0.1 localhost", *(f"{address} {name}" for name, address in entries.items())]
        (self.root / "hosts").write_text("\n".join(lines) + "\n")

    def script(self, script: Path, *args: str, as_nobody: bool = False, path_prefix: Path | None = None,
               check: bool = False) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """Run the rendered script in the web host, as root (or as nobody, the script on stdin)."""
        mounts = (
            'mount --bind "$1/run" /run && mount --bind "$1/lib" /var/lib && '
            'mount --bind "$1/hosts" /etc/hosts && mount --bind "$1/resolv.conf" /etc/resolv.conf && '
            'mount --bind "$1/units" /etc/systemd/system && mount --bind "$1/sbin" /usr/local/sbin && '
            'shift && exec "$@"'
        )
        command = ["sh", str(script), *args]
        stdin = None
        if as_nobody:
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-s", *args]
            stdin = script.read_text()
        env = dict(os.environ)
        if path_prefix is not None:
            env["PATH"] = f"{path_prefix}:{env['PATH']}"
        argv = ["ip", "netns", "exec", self.web, "unshare", "-m", "sh", "-c", mounts, "sh", str(self.root), *command]
        return run(argv, check=check, input=stdin, env=env)

    def web_state(self) -> str:
        """What tc and ip show in the web host: qdiscs, filters of both directions, links."""
        shown = self.ns(self.web, "tc qdisc show dev w0; tc filter show dev w0 ingress; tc filter show dev w0 egress; "
                        "ip -o link show | awk '{print $2}'")  # fmt: skip
        return shown.stdout

    def snmp(self, name: str) -> dict[str, int]:
        """The Ip: counters of a namespace (ReasmOKs, FragCreates, ...)."""
        lines = [
            line.split() for line in self.ns(name, "cat /proc/net/snmp").stdout.splitlines() if line.startswith("Ip:")
        ]
        return dict(zip(lines[0][1:], (int(value) for value in lines[1][1:]), strict=True))
