"""moto in server mode, in its own process, on 127.0.0.1.

Its own process because IAM enforcement is a process-wide moto setting: switching it on here
cannot leak into tests that use moto in-process.
"""

from __future__ import annotations

import ctypes
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import botocore.loaders
import botocore.session

REGION = "eu-west-1"
# One loader for every client the tests make: the service models (EC2's is 2 MB of JSON) are read once
# per test process instead of once per client (~0.2 s of CPU each; the status tests alone make dozens).
LOADER = botocore.loaders.create_loader()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: if pytest itself is killed, moto must not outlive it.
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


class MotoServer:
    """``python -m moto.server`` on a free loopback port, stopped on exit."""

    def __init__(self, log_path: Path) -> None:
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self.endpoint = ""
        self._keys = ("testing", "testing")
        self.admin_arn = ""

    def __enter__(self) -> MotoServer:
        # The port is picked before moto binds it, so another process can win the race: try again.
        for _ in range(3):
            port = _free_port()
            with self._log_path.open("ab") as log:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=_die_with_parent,
                )
            self.endpoint = f"http://127.0.0.1:{port}"
            if self._wait_until_ready(timeout=30):
                return self
            self._stop()
        raise RuntimeError(f"moto server did not start; see {self._log_path}")

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop()

    def _wait_until_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        assert self._process is not None
        while time.monotonic() < deadline and self._process.poll() is None:
            try:
                with urllib.request.urlopen(self.endpoint + "/moto-api/data.json", timeout=1):
                    return True
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        return False

    def _stop(self) -> None:
        if self._process is None:
            return
        # Killed, not terminated: its state is thrown away anyway, and a graceful stop takes ~0.4 s.
        self._process.kill()
        self._process.wait(timeout=10)
        self._process = None

    def client(self, service: str) -> Any:
        """A boto3 client for `service`: throw-away credentials, or the admin's once there is one."""
        # The stubs type client() per literal service name; tests pass it as a string.
        core = botocore.session.Session()
        core.register_component("data_loader", LOADER)
        session: Any = boto3.session.Session(botocore_session=core)
        return session.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=self._keys[0],
            aws_secret_access_key=self._keys[1],
        )

    def enforce_iam_with_admin(self) -> None:
        """enforce_iam(), after creating an identity allowed everything that client() uses from then on:
        several modules can set up their resources and identities on one enforcing server, in any order."""
        iam = self.client("iam")
        iam.create_user(UserName="test-admin")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="test-admin", PolicyName="everything", PolicyDocument=json.dumps(policy))
        self.admin_arn = iam.get_user(UserName="test-admin")["User"]["Arn"]
        key = iam.create_access_key(UserName="test-admin")["AccessKey"]
        self.enforce_iam()
        self._keys = (key["AccessKeyId"], key["SecretAccessKey"])

    def enforce_iam(self) -> None:
        """From now on every request needs credentials of an IAM identity whose policy allows it."""
        # moto's own set_initial_no_auth_action_count uses this endpoint in server mode. A form
        # content type would make Flask swallow the body, hence text/plain.
        request = urllib.request.Request(
            self.endpoint + "/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
