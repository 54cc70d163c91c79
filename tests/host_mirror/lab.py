"""A web host, a client and an NLB stand-in in network namespaces this module creates and removes.

    cli (c0 10.77.0.2, fd77::2) ── veth ── (w0 10.77.0.1, fd77::1) web (w1 10.77.1.1) ── veth ── (r0 10.77.1.2,
                                                                                          10.77.1.3) rcv
The web host's default route leaves through w0, so w0 is the interface the script picks. Its copies go
out of w1 to the receiver on UDP 4789 (10.77.1.2, and 10.77.1.3 as a second NLB address). w1 takes no
segmentation offload (gso_max_segs 1), as a real NIC's wire: a veth would otherwise hand a 64 KB
VXLAN super-packet to the receiver's namespace in one piece, which no Ethernet link carries.

The script runs in a mount namespace of its own where a lab directory stands in for /run and /var/lib
(its state) and lab files for /etc/hosts and /etc/resolv.conf (names resolve from the hosts file; DNS
is 127.0.0.1, where nothing answers), and lab folders for /etc/systemd/system and /usr/local/sbin
(install's units and copy): the host's own files are never touched. That mount namespace is made
once per lab and held by a sleeping process; each run enters it (and the web host's network
namespace) with nsenter.

The site (two HTTP ports), the fake IMDS and the NLB stand-in's sockets are served by threads of this
process from sockets created inside the namespaces (netns.py). A lab serves a whole test module:
`reset` brings it back to the state it was built in before each test, and checks that it is.
Every process is started here and stopped in `close`; every namespace is deleted there.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from socketserver import ThreadingMixIn

from tests.host_mirror.imds import FakeImds, serve_imds
from tests.host_mirror.netns import NamespaceHTTPServer, listening_in
from tests.host_mirror.receiver import Receiver

WEB_IP, CLIENT_IP = "10.77.0.1", "10.77.0.2"
WEB_IP6, CLIENT_IP6 = "fd77::1", "fd77::2"
NLB_IP, NLB_IP_2 = "10.77.1.2", "10.77.1.3"
APP_PORT, OTHER_PORT = 8080, 9090
BIG = 200 * 1024
HOSTS = "127.0.0.1 localhost\n"
RESOLV_CONF = "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
# What the script's mount namespace binds over the host's paths: lab folder or file -> host path.
BINDS = {"run": "/run", "lib": "/var/lib", "hosts": "/etc/hosts", "resolv.conf": "/etc/resolv.conf",
         "units": "/etc/systemd/system", "sbin": "/usr/local/sbin"}  # fmt: skip
# The web host as `reset` checks it, one batch per tool (and family): qdiscs and filters, links,
# addresses (brief: without the flags duplicate address detection changes), routes and learnt path
# MTUs (cached routes). IPv6's batch flushes those first (IPv4's are flushed by `reset`'s batch; a
# batch cannot name the family): none is left from a test, and a fresh lab has none.
WEB_STATE = (
    ("tc", "-force", "qdisc show", "filter show dev w0 ingress", "filter show dev w0 egress"),
    ("ip", "-o", "link show", "route show", "route show cache"),
    ("ip", "-br", "addr show"),
    ("ip", "-6", "route flush cache", "route show", "route show cache"),
)
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
    for tool in ("ip", "tc", "unshare", "nsenter", "curl", "getent", "setpriv"):
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


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _Site(ThreadingMixIn, NamespaceHTTPServer):
    """`python -m http.server PORT --bind ::` of the lab's docs folder, on a socket of the web host."""

    daemon_threads = True

    def __init__(self, namespace: str, port: int, docs: Path) -> None:
        sock = listening_in(namespace, socket.AF_INET6, ("::", port))
        super().__init__(sock, WEB_IP, functools.partial(_Quiet, directory=str(docs)), poll_interval=0.1)


@dataclass(frozen=True)
class Receiving:
    """A receiver and what it waits for: the copies of the filters that mirror into `device`."""

    receiver: Receiver
    device: str
    before: int  # what those filters had copied when it started


class Lab:
    """The three namespaces, their processes and the lab's files (see the module docstring)."""

    def __init__(self, root: Path, web_mtu: int = 1500, client_mtu: int = 1500, servers: bool = True) -> None:
        """`root`: a folder of the lab's own (what else is in it is deleted); `servers`: the site."""
        self.root = root
        self.servers = servers
        self.processes: list[subprocess.Popen[bytes]] = []
        self.received = root / "received.bin"
        (root / "docs").mkdir(parents=True, exist_ok=True)
        self.big = os.urandom(BIG)
        (root / "docs" / "big.bin").write_bytes(self.big)
        (root / "docs" / "small.txt").write_text("hello from the web host\n")
        self._clear_files()
        self._created: list[str] = []
        self._sites: list[_Site] = []
        self._imds: FakeImds | None = None
        self._receivers: list[Receiver] = []
        try:
            self._build(web_mtu, client_mtu)
        except BaseException:
            self.close()
            raise
        self.mtus = (web_mtu, client_mtu)
        self._clean_state, _ = self._state()

    # --- set-up ---------------------------------------------------------------------------------
    def _build(self, web_mtu: int, client_mtu: int) -> None:
        number = next(_numbers)
        tag = f"wmh{os.getpid() % 100000}x{number}"
        self.web, self.cli, self.rcv = f"{tag}w", f"{tag}c", f"{tag}r"
        for name in (self.web, self.cli, self.rcv):
            run(["ip", "netns", "add", name])
            self._created.append(name)
            run(["ip", "-n", name, "link", "set", "lo", "up"])
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
        # The script's mount namespace, held by a process that sleeps until `close`.
        mounts = " && ".join(f'mount --bind "$1/{source}" {target}' for source, target in BINDS.items())
        hold = f"{mounts} && echo READY && exec sleep infinity"
        self.holder = self.start(self.web, ["unshare", "-m", "sh", "-c", hold, "sh", str(self.root)])
        assert self.holder.stdout is not None
        if self.holder.stdout.readline().strip() != b"READY":
            raise RuntimeError("could not make the script's mount namespace")
        if self.servers:
            self._sites = [_Site(self.web, port, self.root / "docs") for port in (APP_PORT, OTHER_PORT)]

    def reset(self, web_mtu: int = 1500, client_mtu: int = 1500) -> None:
        """Back to the lab as built, with these MTUs: no qdisc, filter or link a test added, no PMTU
        learnt, no neighbour entry, no imds or receiver, the lab's files as new. Checks the web host
        against the state it was built in; where a test left something `reset` does not know, the lab
        is built anew."""
        self.end_test()
        self._clear_files()
        relay_mtu = max(web_mtu, client_mtu)
        if self.mtus != (web_mtu, client_mtu):
            run(["ip", "-n", self.cli, "link", "set", "c0", "mtu", str(client_mtu)])
            run(["ip", "-n", self.rcv, "link", "set", "r0", "mtu", str(relay_mtu)])
            self.mtus = (web_mtu, client_mtu)
        # The clsact qdisc goes with every filter on it. Deleting one end of a veth deletes the other,
        # whose own `link del` then fails: -force goes on, and whatever is left shows in the state.
        run(["tc", "-n", self.web, "qdisc", "del", "dev", "w0", "clsact"], check=False)
        listed = run(["ip", "-n", self.web, "-o", "link", "show"]).stdout.splitlines()
        names = [line.split()[1].rstrip(":").split("@")[0] for line in listed]
        commands = [f"link del {name}" for name in names if name not in ("lo", "w0", "w1")]
        commands += [f"link set w0 mtu {web_mtu}", f"link set w1 mtu {relay_mtu}", "neigh flush all"]
        commands += ["route flush cache"]  # PMTU exceptions, IPv4 (IPv6's: in the state's batch)
        run(["ip", "-n", self.web, "-force", "-batch", "-"], check=False, input="\n".join(commands) + "\n")
        state, mtus = self._state()
        if mtus == {"w0": web_mtu, "w1": relay_mtu} and state == self._clean_state:
            return
        self._teardown()  # a test left something behind that the steps above do not take away
        self._build(web_mtu, client_mtu)
        self.mtus = (web_mtu, client_mtu)
        self._clean_state, _ = self._state()

    def _state(self) -> tuple[str, dict[str, int]]:
        """The web host's WEB_STATE with the MTUs taken out, and the MTUs of w0 and w1 (those there are)."""
        shown = "".join(
            run([tool, "-n", self.web, option, "-batch", "-"], input="\n".join(lines) + "\n").stdout
            for tool, option, *lines in WEB_STATE
        )
        mtus = {name.split("@")[0]: int(mtu) for name, mtu in re.findall(r"^\d+: (\S+): .* mtu (\d+) ", shown, re.M)}
        return re.sub(r" mtu \d+ ", " ", shown), {name: mtus[name] for name in ("w0", "w1") if name in mtus}

    def _clear_files(self) -> None:
        """Everything but the docs, as a new lab has it. The bound folders and files stay (emptied or
        rewritten in place): the script's mount namespace holds them by inode."""
        for path in self.root.iterdir():
            if path.name in ("docs", "hosts", "resolv.conf"):
                continue  # the files are rewritten below
            for item in list(path.iterdir()) if path.name in BINDS else [path]:  # a bound folder: what is in it
                if item.is_dir() and not item.is_symlink():
                    shutil.rmtree(item)
                else:
                    item.unlink()
        for folder in ("run", "lib", "bin", "units", "sbin"):
            (self.root / folder).mkdir(exist_ok=True)
        (self.root / "hosts").write_text(HOSTS)
        (self.root / "resolv.conf").write_text(RESOLV_CONF)

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

    def end_test(self) -> None:
        """Stops what a test started: the fake IMDS and the receivers."""
        if self._imds is not None:
            self._imds.close()
            self._imds = None
        for receiver in self._receivers:
            receiver.close()
        self._receivers.clear()

    def _teardown(self) -> None:
        self.end_test()
        for site in self._sites:
            site.close()
        self._sites.clear()
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
        self.processes.clear()
        for name in self._created:
            run(["ip", "netns", "del", name], check=False)
        self._created.clear()

    def close(self) -> None:
        self._teardown()

    # --- what tests do ---------------------------------------------------------------------------
    def fetch(self, url: str, check: bool = True, out: str = "/dev/null") -> subprocess.CompletedProcess[str]:
        return run(["ip", "netns", "exec", self.cli, "curl", "-sS", "-g", "-m", "10", "-o", out, url], check=check)

    def imds(self, zone: str = "eu-west-1a", instance_type: str = "m6i.large", zone_id: str | None = None) -> None:
        """The fake IMDSv2 for this test; without `zone_id`, placement/availability-zone-id answers 404."""
        assert self._imds is None, "one fake IMDS a test"
        self._imds = serve_imds(self.web, zone, instance_type, zone_id)

    def receive(self, device: str) -> Receiving:
        """Start the NLB stand-in (both addresses) for the copies the filters mirror into `device`;
        `stop_receiving` waits for them and leaves them in `self.received`."""
        receiver = Receiver(self.rcv, (NLB_IP, NLB_IP_2), self.received)
        self._receivers.append(receiver)
        return Receiving(receiver, device, self.mirrored(device))

    def mirrored(self, device: str) -> int:
        """Packets the filters on w0 that mirror into `device` have copied, by their counters (a
        segmentation super-packet counts as its segments, each of which leaves as one datagram)."""
        shown = self.tc("-s", "filter show dev w0 ingress", "filter show dev w0 egress")
        marker = re.escape(f"Mirror to device {device})")
        return sum(int(count) for count in re.findall(marker + r".*?\n\s*Sent \d+ bytes (\d+) pkt", shown, re.S))

    def stop_receiving(self, receiving: Receiving) -> None:
        """Waits until every copy the filters made has arrived, then stops the receiver. The counters
        are read again once that many arrived: what was still being copied arrives too."""
        receiver, deadline = receiving.receiver, time.monotonic() + 10
        while True:
            expected = self.mirrored(receiving.device) - receiving.before
            while receiver.drain() < expected and time.monotonic() < deadline:
                receiver.wait(0.05)
            if receiver.count < expected:
                raise AssertionError(f"{receiver.count} of the {expected} copies the filters made arrived in 10 s")
            if self.mirrored(receiving.device) - receiving.before <= receiver.count:
                break
        receiver.close()
        self._receivers.remove(receiver)

    def write_hosts(self, entries: dict[str, str]) -> None:
        lines = ["127.0.0.1 localhost", *(f"{address} {name}" for name, address in entries.items())]
        (self.root / "hosts").write_text("\n".join(lines) + "\n")

    def script(self, script: Path, *args: str, as_nobody: bool = False, path_prefix: Path | None = None,
               check: bool = False) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """Run the rendered script in the web host, as root (or as nobody, the script on stdin)."""
        command = ["sh", str(script), *args]
        stdin = None
        if as_nobody:
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-s", *args]
            stdin = script.read_text()
        env = dict(os.environ)
        if path_prefix is not None:
            env["PATH"] = f"{path_prefix}:{env['PATH']}"
        argv = ["nsenter", f"--target={self.holder.pid}", "--mount", "--net", *command]
        return run(argv, check=check, input=stdin, env=env)

    def ip(self, *args: str) -> str:
        """What `ip ARGS` prints in the web host (one process, where `ns` takes a shell too)."""
        return run(["ip", "-n", self.web, *args]).stdout

    def tc(self, option: str, *commands: str) -> str:
        """What tc prints for `commands` in the web host, run as one batch (one process)."""
        return run(["tc", "-n", self.web, option, "-batch", "-"], input="\n".join(commands) + "\n").stdout

    def web_state(self) -> str:
        """What tc and ip show in the web host: qdiscs, filters of both directions, links."""
        filters = self.tc("-force", "qdisc show dev w0", "filter show dev w0 ingress", "filter show dev w0 egress")
        links = run(["ip", "-n", self.web, "-o", "link", "show"]).stdout.splitlines()
        return filters + "".join(f"{line.split()[1]}\n" for line in links)

    def snmp(self, name: str) -> dict[str, int]:
        """The Ip: counters of a namespace (ReasmOKs, FragCreates, ...)."""
        lines = [
            line.split() for line in self.ns(name, "cat /proc/net/snmp").stdout.splitlines() if line.startswith("Ip:")
        ]
        return dict(zip(lines[0][1:], (int(value) for value in lines[1][1:]), strict=True))
