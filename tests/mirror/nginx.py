"""Run the real NGINX binary on 127.0.0.1 from a throw-away prefix, around a generated mirror snippet."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

from tests.mirror.servers import LOOPBACK, free_port, wait_for_port

NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")

# The generated NGINX text marks where its server{} part starts; users split it the same way.
SERVER_PART_MARKER = "===== Part 2 of 2"


def find_nginx() -> str | None:
    """Path of an nginx binary, or None."""
    for candidate in NGINX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def split_snippet(snippet: str) -> tuple[str, str]:
    """(http part, server part) of a generated NGINX snippet."""
    head, marker, tail = snippet.partition(SERVER_PART_MARKER)
    if not marker:
        raise AssertionError(f"generated NGINX text has no {SERVER_PART_MARKER!r} marker")
    http_part = head.rsplit("\n", 1)[0]
    return http_part, "#" + marker + tail


def full_config(
    prefix: Path,
    snippet: str,
    port: int,
    primary_port: int,
    primary_name: str = "primary_app",
    fallback_location: bool = True,
    worker_connections: int = 256,
) -> str:
    """A complete nginx.conf: our upstream for the app, the snippet's two parts, a catch-all location."""
    http_part, server_part = split_snippet(snippet)
    # The relay's logs go to /var/log/nginx on a real host; here they stay in the throw-away prefix.
    http_part = http_part.replace("/var/log/nginx/", f"{prefix}/")
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    # As root the workers would drop to "nobody", who cannot enter pytest's private temp folders.
    user = "user root;" if os.geteuid() == 0 else ""
    fallback = f"location / {{ proxy_pass http://{primary_name}; }}" if fallback_location else ""
    return f"""
daemon off;
worker_processes 1;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections {worker_connections}; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    # A user may have switched body mirroring off globally; the snippet's locations must win.
    mirror_request_body off;
    upstream {primary_name} {{ server {LOOPBACK}:{primary_port}; }}

{http_part}

    server {{
        listen {LOOPBACK}:{port};
        # The site's own body limit, set where sites set it: in their server. The relay's servers get
        # NGINX's default (1m) from http level, so a copy over 1 MiB reaches the ALB only because the
        # snippet lifts the relay's limit itself (at http level, 10m would hide that: issue 22).
        client_max_body_size 10m;
        # So a test can tell the copy and the original carry the same id.
        proxy_set_header X-Request-ID $request_id;
        proxy_set_header Host $http_host;

{server_part}

        {fallback}
    }}
}}
"""


class NginxRunner:
    """One NGINX master on 127.0.0.1 with a config written to `prefix`; stopped on exit, bounded."""

    def __init__(self, binary: str, prefix: Path, config_text: str) -> None:
        self.binary = binary
        self.prefix = prefix
        self.conf = prefix / "nginx.conf"
        self.error_log = prefix / "error.log"
        self.conf.write_text(config_text)
        self._process: subprocess.Popen[bytes] | None = None

    def _args(self, *extra: str) -> list[str]:
        return [self.binary, "-p", f"{self.prefix}/", "-c", str(self.conf), "-e", str(self.error_log), *extra]

    def test_config(self) -> subprocess.CompletedProcess[str]:
        """`nginx -t` on the config; the result carries NGINX's own messages in stderr."""
        return subprocess.run(self._args("-t"), capture_output=True, text=True, timeout=20, check=False)

    def start(self, port: int, timeout: float = 5.0) -> NginxRunner:
        self._process = subprocess.Popen(
            self._args(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self._process.returncode}:\n{self.log_text()}")
            try:
                wait_for_port(port, timeout=0.2)
                return self
            except TimeoutError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"nginx did not listen on {port}:\n{self.log_text()}") from None

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # fast shutdown: do not wait for slow mirror subrequests
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def log_text(self) -> str:
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""

    def wait_for_log(self, text: str, timeout: float = 3.0) -> str:
        """The error log once it contains `text` (mirror subrequests may outlive the response), or after `timeout`."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        return log

    def __enter__(self) -> NginxRunner:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_nginx(
    binary: str,
    prefix: Path,
    snippet: str,
    primary_port: int,
    fallback_location: bool = True,
    attempts: int = 3,
    worker_connections: int = 256,
) -> tuple[NginxRunner, int]:
    """Start NGINX on a free loopback port around `snippet`; retry if another process took the port."""
    last_error: Exception | None = None
    for _ in range(attempts):
        port = free_port()
        config = full_config(
            prefix,
            snippet,
            port,
            primary_port,
            fallback_location=fallback_location,
            worker_connections=worker_connections,
        )
        runner = NginxRunner(binary, prefix, config)
        try:
            return runner.start(port), port
        except (RuntimeError, TimeoutError) as error:
            runner.stop()
            last_error = error
            if "Address already in use" not in str(error):
                raise
    raise RuntimeError(f"could not start nginx after {attempts} attempts") from last_error
