"""The first-boot script of a Wallarm Native Node, run for real.

Each run renders the user data and runs it with bash against stand-ins: a fake installer host
(HTTPS with a self-signed certificate the script is told to trust), a recording stand-in for the
all-in-one installer, a fake /ready endpoint, `systemctl`, the IMDSv2 fake and a moto server for
Secrets Manager and SSM. Everything listens on 127.0.0.1. The runs mostly wait (retries, bounded
polls), so a module fixture starts them all at once and the tests read their results.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import dataclasses
import hashlib
import marshal
import os
import platform
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.native_node.standins.servers import InstallerHost, ReadyEndpoint, make_certificate
from tests.node.boot.fake_imds import FakeImds
from tests.node.boot.fake_node import closed_url
from tests.node.boot.moto_server import REGION, MotoServer
from tests.node.test_boot_script import shellcheck_script
from wallarm_mirror.native_node.boot_script import (
    ARCHES,
    NativeBootSpec,
    encode_native_user_data,
    render_native_boot_script,
)
from wallarm_mirror.native_node.go_node_config import render_go_node_config
from wallarm_mirror.node.boot_script import (
    USER_DATA_LIMIT_BYTES,
    TokenFromSecretsManager,
    TokenFromSsmParameter,
    TokenInline,
    decode_user_data,
)

HERE = Path(__file__).parent
NODE_BOOT_DIR = HERE.parent / "node" / "boot"

# Shaped like real Wallarm API tokens and unique enough that finding one anywhere means it leaked.
SM_TOKEN = "bmF0aXZlLXNlY3JldHM+sm/NATIVE+5c1d0e77=="
SSM_TOKEN = "bmF0aXZlLXNzbQ+ssm/NATIVE+a4f29b03=="
INLINE_TOKEN = "bmF0aXZlLWlubGluZQ+inline/NATIVE+e83=="
SECRET_NAME = "wallarm/api-token"
PARAMETER_NAME = "/wallarm/native-node-token"

MACHINE = platform.machine()
OTHER_ARCH = next(arch for arch in ARCHES if arch != MACHINE)
GOOD, UNAVAILABLE, MISSING = "0.25.5", "0.25.6", "0.24.0"  # versions the fake host serves differently


# Default for the IMDS and AWS endpoints of runs that must not fetch a token: no run reaches AWS.
NOTHING_LISTENS, _NOTHING_LISTENS_HELD = closed_url()  # held for the whole session
SHORT = 2  # seconds: the bound of every wait that is meant to run out


def _system_python3() -> str:
    # The interpreter the script finds as python3: Debian's, like on the AMI, when this machine has it.
    for candidate in ("/usr/bin/python3", shutil.which("python3") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("no python3 to stand in for the AMI's")


PYTHON3 = _system_python3()
INSTALLER_BYTES = f"#!{PYTHON3}\n".encode() + (HERE / "standins" / "aio_native_installer.py").read_bytes()
INSTALLER_SHA256 = hashlib.sha256(INSTALLER_BYTES).hexdigest()


def _spec(**fields: Any) -> NativeBootSpec:
    base: dict[str, Any] = {
        "version": GOOD,
        "arch": MACHINE if MACHINE in ARCHES else "x86_64",
        "api_host": "api.wallarm.com",
        "node_group": "native-eu",
        "token": TokenInline(INLINE_TOKEN),
        "vni": 4242,
        "ports": (80, 8080),
        "trusted_networks": ("10.0.0.0/16",),
        "installer_sha256": INSTALLER_SHA256,
        "token_fetch_timeout_seconds": SHORT,
        "download_timeout_seconds": SHORT,
        "install_timeout_seconds": 20,
        "ready_timeout_seconds": SHORT,
    }
    return NativeBootSpec(**{**base, **fields})


# --- one run ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BootRun:
    """What one run of the boot script did."""

    spec: NativeBootSpec
    script_path: Path
    returncode: int
    output: str  # stdout and stderr together: both end up in cloud-init-output.log
    elapsed: float
    events: list[str]  # installer and systemctl calls, in order
    record: dict[str, Any] | None  # what the installer stand-in saw; None if it did not run
    ready_requests: int
    tmpdir: Path

    @property
    def failed_lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.startswith("wallarm-boot: FAILED")]


@dataclass(frozen=True)
class World:
    """The stand-ins every run talks to."""

    installer_host: InstallerHost
    cert: Path
    imds_endpoint: str
    aws_endpoint: str


def run_boot(
    world: World,
    tmp_path: Path,
    *,
    trust_certificate: bool = True,
    ready: bool = True,
    installer_exit: int = 0,
    installer_sleep: float = 0,
    **fields: Any,
) -> BootRun:
    bin_dir, script_tmp = tmp_path / "bin", tmp_path / "tmp"
    bin_dir.mkdir()
    script_tmp.mkdir()
    shutil.copy(NODE_BOOT_DIR / "systemctl", bin_dir / "systemctl")
    (bin_dir / "systemctl").chmod(0o755)
    (bin_dir / "python3").symlink_to(PYTHON3)
    spec = _spec(**fields)
    script_path = tmp_path / "part-001"
    script_path.write_text(render_native_boot_script(spec))
    events, record = tmp_path / "events", tmp_path / "record.marshal"
    events.write_text("")
    with ReadyEndpoint(lambda: ready and record.exists()) as ready_endpoint:
        env = {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "LANG": "C.UTF-8",
            "TMPDIR": str(script_tmp),
            "WALLARM_BOOT_IMDS_ENDPOINT": world.imds_endpoint,
            "AWS_ENDPOINT_URL": world.aws_endpoint,
            "WALLARM_BOOT_INSTALLER_BASE_URL": world.installer_host.base_url,
            "WALLARM_BOOT_READY_URL": f"{ready_endpoint.base_url}/ready",
            "BOOT_TEST_EVENTS": str(events),
            "BOOT_TEST_RECORD": str(record),
            "BOOT_TEST_INSTALLER_EXIT": str(installer_exit),
            "BOOT_TEST_INSTALLER_SLEEP": str(installer_sleep),
        }
        if trust_certificate:
            env["SSL_CERT_FILE"] = str(world.cert)  # OpenSSL's own variable: python -I still reads it
        started = time.monotonic()
        # Its own process group, so a hung run is stopped together with everything it started.
        process = subprocess.Popen(
            ["bash", str(script_path)],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            umask=0o022,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        elapsed = time.monotonic() - started
        ready_requests = ready_endpoint.requests["/ready"]
    return BootRun(
        spec=spec,
        script_path=script_path,
        returncode=process.returncode,
        output=stdout.decode() + stderr.decode(),
        elapsed=elapsed,
        events=events.read_text().splitlines(),
        record=marshal.loads(record.read_bytes()) if record.exists() else None,
        ready_requests=ready_requests,
        tmpdir=script_tmp,
    )


# --- all runs, started together --------------------------------------------------------------------

# The runs that read the token from moto; the others start while moto is still starting.
AWS_RUNS: dict[str, dict[str, Any]] = {
    "secrets-manager": {"token": TokenFromSecretsManager(SECRET_NAME, REGION)},
    "ssm": {"token": TokenFromSsmParameter(PARAMETER_NAME, REGION), "installer_sha256": None},
    "token-missing": {
        "token": TokenFromSecretsManager("wallarm/no-such-secret", REGION),
        "token_fetch_timeout_seconds": 1,
    },
}
# A Secrets Manager token where the script must fail before fetching it: nothing answers there.
RUNS: dict[str, dict[str, Any]] = {
    "inline": {"api_host": "us1.api.wallarm.com", "node_group": "group with spaces"},
    "checksum-mismatch": {
        "token": TokenFromSecretsManager(SECRET_NAME, REGION),
        "installer_sha256": hashlib.sha256(b"another installer").hexdigest().upper(),
    },
    "download-unavailable": {"version": UNAVAILABLE},
    "download-missing": {"version": MISSING, "download_timeout_seconds": 60},
    "untrusted-certificate": {"trust_certificate": False},
    "installer-fails": {"installer_exit": 3},
    "installer-hangs": {"installer_sleep": 30, "install_timeout_seconds": 1},
    "never-ready": {"ready": False},
    "wrong-arch": {"arch": OTHER_ARCH, "token": TokenFromSecretsManager(SECRET_NAME, REGION)},
}
Runs = dict[str, "Future[BootRun]"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Runs]:
    if MACHINE not in ARCHES:
        pytest.skip(f"the installer exists for {', '.join(ARCHES)} only, this machine is {MACHINE}")
    cert, key = make_certificate(tmp_path_factory.mktemp("tls"))
    files = {
        f"/native/aio-native-{GOOD}.{MACHINE}.sh": (200, INSTALLER_BYTES),
        f"/native/aio-native-{UNAVAILABLE}.{MACHINE}.sh": (503, b"Service Unavailable"),
    }
    with (
        InstallerHost(files, cert, key) as host,
        FakeImds(credentials={"AccessKeyId": "AKIDNATIVE", "SecretAccessKey": "not-checked", "Token": "t"}) as imds,
        ThreadPoolExecutor(max_workers=len(RUNS) + len(AWS_RUNS)) as pool,
    ):
        nothing = World(host, cert, NOTHING_LISTENS, NOTHING_LISTENS)
        futures = {name: pool.submit(run_boot, nothing, tmp_path_factory.mktemp(name), **f) for name, f in RUNS.items()}
        try:
            # The process's shared server (tests/conftest.py), asked for only now: if this module is
            # the first to use it, it starts while the runs above already run.
            moto: MotoServer = request.getfixturevalue("shared_moto")
            secrets_manager = moto.client("secretsmanager")
            # The module's fixture runs again if xdist hands this process its tests in two batches.
            with contextlib.suppress(secrets_manager.exceptions.ResourceExistsException):
                secrets_manager.create_secret(Name=SECRET_NAME, SecretString=SM_TOKEN)
            moto.client("ssm").put_parameter(Name=PARAMETER_NAME, Value=SSM_TOKEN, Type="SecureString", Overwrite=True)
            world = World(host, cert, imds.endpoint, moto.endpoint)
            for name, fields in AWS_RUNS.items():
                futures[name] = pool.submit(run_boot, world, tmp_path_factory.mktemp(name), **fields)
            yield futures
            wait(futures.values())  # before the stand-ins they talk to go away
        finally:
            wait(futures.values())


def assert_token_only_on_the_installers_command_line(run: BootRun, token: str) -> None:
    """The token is in no log line, in no argv but the installer's, in no environment and no file."""
    for secret in (token, base64.b64encode(token.encode()).decode()):
        assert secret not in run.output
    assert run.record is not None, run.output
    installer, *ancestors = run.record["processes"]
    assert token in installer["cmdline"], "Wallarm documents --token as the only way in"
    # The chain must reach the bash running the script, or this check would prove nothing.
    assert any(p["cmdline"] == ["bash", str(run.script_path)] for p in ancestors), ancestors
    assert any(p["cmdline"][:1] == ["timeout"] for p in ancestors), ancestors
    for process in ancestors:
        assert token not in " ".join(process["cmdline"]), process["cmdline"]
    for process in run.record["processes"]:
        assert token.encode() not in base64.b64decode(process["environ_b64"])
    assert not any(token in value for value in run.record["environ"].values())
    # While the installer ran, the token file was already gone from the private temp dir.
    for path, content in run.record["tmp_files"].items():
        assert token.encode() not in base64.b64decode(content), path
    assert list(run.tmpdir.iterdir()) == [], "the temp dir must be removed at exit"


def assert_installed_as_documented(run: BootRun, token: str) -> None:
    assert run.returncode == 0, run.output
    assert run.record is not None
    installer_path = run.record["argv"][0]
    config_arg = next(arg for arg in run.record["argv"] if arg.startswith("--go-node-config="))
    assert Path(installer_path).name == run.spec.installer_name
    assert run.record["argv"][1:] == [
        "--", "--batch", "--token", token,
        "--mode=tcp-capture-v2", config_arg, "--host", run.spec.api_host,
    ]  # fmt: skip
    assert run.record["labels"] == f"group={run.spec.node_group}"
    assert run.record["config"] == render_go_node_config(run.spec.go_node_config)
    assert run.record["umask"] == 0o022, "the installer gets the original umask back"
    assert run.events == ["installer"], "nothing is stopped on success"
    assert run.ready_requests >= 1
    assert "the node reports ready (HTTP 200)" in run.output
    assert run.output.rstrip().endswith("wallarm-boot: the Wallarm Native Node is installed and ready")
    assert run.failed_lines == []


# --- token deliveries ------------------------------------------------------------------------------


def test_secrets_manager_token_reaches_only_the_installer(runs: Runs) -> None:
    run = runs["secrets-manager"].result()

    assert_installed_as_documented(run, SM_TOKEN)
    assert_token_only_on_the_installers_command_line(run, SM_TOKEN)
    assert f"installer sha256 {INSTALLER_SHA256} matches the pinned value" in run.output
    # The installer is downloaded and checked before the token is fetched.
    assert run.output.index("downloading https://127.0.0.1:") < run.output.index("fetching the Wallarm token")


def test_ssm_token_reaches_only_the_installer_and_an_unpinned_installer_is_logged(runs: Runs) -> None:
    run = runs["ssm"].result()

    assert_installed_as_documented(run, SSM_TOKEN)
    assert_token_only_on_the_installers_command_line(run, SSM_TOKEN)
    assert f"installer sha256 {INSTALLER_SHA256} (not pinned, so not checked)" in run.output


def test_inline_token_reaches_only_the_installer(runs: Runs) -> None:
    run = runs["inline"].result()

    assert_installed_as_documented(run, INLINE_TOKEN)
    assert_token_only_on_the_installers_command_line(run, INLINE_TOKEN)
    assert run.record is not None and run.record["labels"] == "group=group with spaces"


# --- failures --------------------------------------------------------------------------------------


def assert_failed_before_the_installer(run: BootRun, failed: str) -> None:
    assert run.returncode != 0
    assert run.failed_lines == [f"wallarm-boot: FAILED: {failed}"], run.output
    assert run.record is None, "the installer must not run"
    assert run.events == [], "nothing was started, so nothing is stopped"
    assert run.ready_requests == 0
    assert list(run.tmpdir.iterdir()) == []


def test_checksum_mismatch_refuses_to_run_the_installer(runs: Runs) -> None:
    run = runs["checksum-mismatch"].result()

    assert_failed_before_the_installer(
        run, f"the sha256 of {run.spec.installer_name} is not the pinned one; refusing to run it"
    )
    expected = run.spec.installer_sha256
    assert expected is not None
    assert f"installer sha256 is {INSTALLER_SHA256}, expected {expected.lower()}" in run.output
    assert "fetching the Wallarm token" not in run.output, "no token is fetched for an installer we refuse"


def test_unavailable_installer_host_is_retried_until_the_deadline(runs: Runs) -> None:
    run = runs["download-unavailable"].result()

    assert_failed_before_the_installer(run, f"could not download {run.spec.installer_name} within {SHORT}s")
    assert "attempt 1 failed: HTTP 503; retrying in 1.0s" in run.output
    assert re.search(rf"giving up after [2-9] attempts in {SHORT}s: HTTP 503", run.output), run.output
    assert SHORT - 0.5 <= run.elapsed < SHORT + 3


def test_missing_installer_version_fails_at_once(runs: Runs) -> None:
    run = runs["download-missing"].result()

    assert_failed_before_the_installer(run, f"could not download {run.spec.installer_name} within 60s")
    assert "giving up at once: HTTP 404; does this version exist for this architecture?" in run.output
    assert run.elapsed < 10, "a 404 is not retried for the whole 60 s"


def test_installer_host_certificate_is_verified(runs: Runs) -> None:
    run = runs["untrusted-certificate"].result()

    assert_failed_before_the_installer(run, f"could not download {run.spec.installer_name} within {SHORT}s")
    assert "CERTIFICATE_VERIFY_FAILED" in run.output


def test_missing_token_fails_before_the_installer(runs: Runs) -> None:
    run = runs["token-missing"].result()

    assert_failed_before_the_installer(run, "could not obtain the Wallarm token; the node is not installed")
    assert "ResourceNotFoundException" in run.output


def test_wrong_architecture_fails_before_any_download(runs: Runs) -> None:
    run = runs["wrong-arch"].result()

    assert_failed_before_the_installer(
        run,
        f"this instance is {MACHINE} but {run.spec.installer_name} is for {OTHER_ARCH}; "
        f"use an instance type of that architecture or the installer for {MACHINE}",
    )
    assert "downloading" not in run.output
    assert run.elapsed < 5


def assert_failed_after_the_installer_and_stopped_the_node(run: BootRun, failed: str) -> None:
    assert run.returncode != 0
    assert run.failed_lines == [f"wallarm-boot: FAILED: {failed}"], run.output
    assert run.events == ["installer", "systemctl stop wallarm.service"], "the traffic port must end up closed"
    assert list(run.tmpdir.iterdir()) == []


def test_installer_failure_stops_the_node_and_keeps_its_status(runs: Runs) -> None:
    run = runs["installer-fails"].result()

    assert_failed_after_the_installer_and_stopped_the_node(
        run, f"{run.spec.installer_name} exited with status 3; see its output above"
    )
    assert run.returncode == 3
    assert run.ready_requests == 0
    assert_token_only_on_the_installers_command_line(run, INLINE_TOKEN)


def test_installer_that_hangs_is_stopped_at_its_bound(runs: Runs) -> None:
    run = runs["installer-hangs"].result()

    assert_failed_after_the_installer_and_stopped_the_node(run, f"{run.spec.installer_name} did not finish within 1s")
    assert run.returncode == 124
    assert run.elapsed < 10


def test_node_never_ready_fails_within_the_bound_and_is_stopped(runs: Runs) -> None:
    run = runs["never-ready"].result()

    assert_failed_after_the_installer_and_stopped_the_node(
        run,
        f"the node did not report ready within {SHORT}s; see /opt/wallarm/var/log/wallarm/go-node.log",
    )
    assert "not ready yet: HTTP 503" in run.output
    assert run.ready_requests >= 2, "polled, not asked once"
    assert SHORT - 0.5 <= run.elapsed < SHORT + 5


# --- the script text -------------------------------------------------------------------------------

SHAPES: dict[str, dict[str, Any]] = {
    "secrets-manager-pinned": {"token": TokenFromSecretsManager(SECRET_NAME, REGION)},
    "ssm-unpinned-aarch64": {
        "token": TokenFromSsmParameter(PARAMETER_NAME, REGION),
        "installer_sha256": None,
        "arch": "aarch64",
    },
    "inline-many-networks": {"trusted_networks": tuple(f"10.{i}.0.0/16" for i in range(10)), "ports": (80, 443, 8080)},
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_script_passes_shellcheck(shape: dict[str, Any]) -> None:
    if not shellcheck_script(render_native_boot_script(_spec(**shape))):
        pytest.skip("shellcheck is not installed")


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_script_starts_strict_and_never_traces(shape: dict[str, Any]) -> None:
    lines = render_native_boot_script(_spec(**shape)).splitlines()
    assert lines[0] == "#!/bin/bash"
    assert "set -euo pipefail" in lines[:10]
    assert not any(line.lstrip().startswith("set -x") or "set -o xtrace" in line for line in lines)


def test_script_downloads_from_wallarms_documented_url() -> None:
    spec = _spec(arch="aarch64", version="0.25.5")
    assert spec.installer_url == "https://meganode.wallarm.com/native/aio-native-0.25.5.aarch64.sh"
    script = render_native_boot_script(spec)
    assert " https://meganode.wallarm.com /native/aio-native-0.25.5.aarch64.sh " in script


@pytest.mark.parametrize("marker", ["WALLARM_BOOT_DOWNLOADER_PY", "WALLARM_BOOT_LAUNCHER_PY", "WALLARM_BOOT_READY_PY"])
def test_embedded_python_parses_as_python_3_7(marker: str) -> None:
    # The oldest python3 the shared token fetcher supports; Debian 12 has 3.11, Ubuntu 22.04 3.10.
    script = render_native_boot_script(_spec())
    start = script.index(f"<<'{marker}'")
    body = script[script.index("\n", start) + 1 :]
    ast.parse(body[: body.index(f"\n{marker}\n")], feature_version=(3, 7))


def test_only_the_inline_script_carries_the_token() -> None:
    inline = render_native_boot_script(_spec(token=TokenInline(INLINE_TOKEN)))
    fetched = render_native_boot_script(_spec(token=TokenFromSecretsManager(SECRET_NAME, REGION)))
    assert base64.b64encode(INLINE_TOKEN.encode()).decode() in inline
    assert INLINE_TOKEN not in inline, "kept base64-encoded so no quoting can alter it"
    assert INLINE_TOKEN not in fetched and base64.b64encode(INLINE_TOKEN.encode()).decode() not in fetched


def test_typical_script_fits_the_user_data_limit_as_plain_text() -> None:
    # A real secret ARN, two VPC ranges, a pinned installer: readable as it is in the EC2 console.
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:wallarm-mirror/production/node-token-AbCdEf"
    script = render_native_boot_script(
        _spec(token=TokenFromSecretsManager(arn, REGION), trusted_networks=("10.0.0.0/16", "10.1.0.0/16"))
    )
    assert len(script.encode()) <= USER_DATA_LIMIT_BYTES
    assert base64.b64decode(encode_native_user_data(script)).decode() == script


def test_large_script_is_gzipped_and_one_too_large_is_refused() -> None:
    many = tuple(f"10.{i // 256}.{i % 256}.0/24" for i in range(600))
    script = render_native_boot_script(_spec(trusted_networks=many))
    assert len(script.encode()) > USER_DATA_LIMIT_BYTES
    assert decode_user_data(encode_native_user_data(script)) == script
    too_many = tuple(f"2600:1f18:{i:x}:{i * 7919 % 65536:x}::/64" for i in range(3000))
    with pytest.raises(ValueError, match="give fewer trusted networks or ports"):
        encode_native_user_data(render_native_boot_script(_spec(trusted_networks=too_many)))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"version": "v0.25.5"}, "version 'v0.25.5' must look like 0.25.5"),
        ({"version": "0.25"}, "must look like 0.25.5"),
        ({"version": "0.23.9"}, "version 0.23.9 cannot receive VXLAN: tcp_stream.from_vxlan exists from 0.24.0"),
        ({"arch": "arm64"}, "arch 'arm64' is not one of x86_64, aarch64"),
        ({"api_host": "https://api.wallarm.com"}, "api_host 'https://api.wallarm.com' is not a host name"),
        ({"installer_host": "meganode.wallarm.com/evil"}, "installer_host 'meganode.wallarm.com/evil' is not"),
        ({"node_group": ""}, "node_group '' cannot be placed in WALLARM_LABELS"),
        ({"node_group": "a,b=c"}, "cannot be placed in WALLARM_LABELS"),
        ({"node_group": "eu\nx"}, "cannot be placed in WALLARM_LABELS"),
        ({"installer_sha256": "abc"}, "installer_sha256 'abc' is not a SHA-256 in hex"),
        ({"ready_timeout_seconds": 0}, "ready_timeout_seconds 0 must be a whole number of seconds"),
        ({"download_timeout_seconds": True}, "download_timeout_seconds True must be"),
        ({"trusted_networks": ()}, "trusted_networks is empty"),
        ({"vni": 2**24}, "vni 16777216 must be"),
        ({"token": TokenFromSecretsManager(SECRET_NAME, "eu-west-1; rm -rf /")}, "is not an AWS region code"),
        ({"token": "plain string"}, "token must be a TokenFromSecretsManager"),
    ],
)
def test_renderer_refuses_what_it_cannot_place(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        render_native_boot_script(_spec(**fields))
    assert message in str(raised.value)


def test_bad_inline_token_is_refused_without_quoting_it() -> None:
    with pytest.raises(ValueError, match="inline Wallarm token is empty or contains whitespace") as raised:
        render_native_boot_script(_spec(token=TokenInline("two words")))
    assert "two words" not in str(raised.value)


def test_inline_token_is_hidden_from_repr() -> None:
    spec = _spec(token=TokenInline(INLINE_TOKEN))
    assert INLINE_TOKEN not in repr(spec)
    assert INLINE_TOKEN not in repr(dataclasses.replace(spec))
