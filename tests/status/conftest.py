"""The test process's shared moto server (127.0.0.1, tests/conftest.py) for the status tests, `status`
run in-process against it with a stack's hooks, and a fake clock for `--wait`."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.node.boot.moto_server import MotoServer
from tests.status.moto_stack import MotoStack, standard_session
from wallarm_mirror.status import aws as status_aws
from wallarm_mirror.status import command


@pytest.fixture(scope="session")
def moto(shared_moto: MotoServer) -> MotoServer:
    return shared_moto


def aws_environment(
    monkeypatch: pytest.MonkeyPatch, endpoint: str, key: str = "testing", secret: str = "testing"
) -> None:
    """The standard chain, pointed at moto: keys from the environment, no region (so status takes the
    ARNs'), no profile or instance role of the machine running the tests."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@dataclass
class Run:
    code: int
    out: str
    err: str

    def line(self, check: str, subject: str) -> str:
        """The report line of one check about one subject."""
        found = [line for line in self.out.splitlines() if line.split()[1:3] == [check, subject]]
        assert len(found) == 1, f"no single {check} line about {subject} in:\n{self.out}"
        return found[0]


StatusRunner = Callable[..., Run]


@pytest.fixture
def status(moto: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> StatusRunner:
    """`status` for a stack (its outputs written to a file, its hooks on the session) or a given file."""
    aws_environment(monkeypatch, moto.endpoint)
    monkeypatch.setattr(status_aws, "new_session", standard_session)

    def run(
        stack: MotoStack | None = None,
        *,
        outputs_file: Path | None = None,
        name: str | None = None,
        anonymous: bool = False,
        as_json: bool = False,
        wait: float = 0.0,
        interval: float = 0.1,
    ) -> Run:
        if stack is not None:
            monkeypatch.setattr(status_aws, "new_session", stack.session)
            outputs_file = outputs_file or stack.write_outputs(tmp_path)
            name = None if anonymous else name or stack.stack
        out, err = io.StringIO(), io.StringIO()
        code = command.run(
            str(outputs_file) if outputs_file else None,
            name,
            as_json=as_json,
            wait=wait,
            interval=interval,
            out=out,
            err=err,
        )
        return Run(code, out.getvalue(), err.getvalue())

    return run


@dataclass
class FakeClock:
    """The clock of `status --wait` (`command.time`): only its sleeps move it, and it keeps them."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        # A --wait that never gives up must fail here, not hang the suite.
        assert len(self.sleeps) < 100, f"still waiting after {len(self.sleeps)} sleeps"
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """`status --wait` on a fake clock: its rounds follow each other at once, whatever it waits for."""
    fake = FakeClock()
    monkeypatch.setattr(command, "time", fake)
    return fake
