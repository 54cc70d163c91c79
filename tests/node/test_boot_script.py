"""The first-boot script of a Wallarm node, run for real.

Each test renders the user data, runs it with bash in a temporary directory and looks at what
happened: `systemctl` and Wallarm's `cloud-init.py` are recording stand-ins, `nginx` is a stand-in
whose `-t`/`-T` the test controls, Secrets Manager and SSM are a moto server (with IAM enforcement
and SigV4 checking on), the instance metadata service is a fake that only speaks IMDSv2, and the
node's traffic and health ports are listeners the test opens or not. Everything listens on
127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import dataclasses
import functools
import hashlib
import json
import marshal
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.node.boot.fake_imds import CREDENTIALS_PATH, FakeImds
from tests.node.boot.fake_node import HEALTH_PATH, FakeNode, closed_url
from tests.node.boot.moto_server import REGION, MotoServer
from wallarm_mirror.node.boot_script import (
    USER_DATA_LIMIT_BYTES,
    BootScriptSpec,
    ServingCheck,
    TokenFromSecretsManager,
    TokenFromSsmParameter,
    TokenInline,
    TokenSource,
    decode_user_data,
    encode_user_data,
    render_boot_script,
)
from wallarm_mirror.node.profiles import profile_for
from wallarm_mirror.node.snippets import node_http_snippet, node_server_snippet

BOOT_DIR = Path(__file__).parent / "boot"

# Shaped like real Wallarm tokens (base64 alphabet, including + / =) and unique enough that finding
# one anywhere means it leaked.
SM_TOKEN = "c2VjcmV0cy1tYW5hZ2Vy+sm/TOKEN+7f3a9e21=="
SSM_TOKEN = "c3NtLXBhcmFtZXRlcg+ssm/TOKEN+0b8d4c55=="
INLINE_TOKEN = "aW5saW5lLXVzZXJkYXRh+inline/TOKEN+91e0="

SECRET_NAME = "wallarm/api-token"
PARAMETER_NAME = "/wallarm/node-token"
ACCOUNT = "123456789012"

TRICKY_TEXT = (
    'set $var "${x}";  # $(whoami) `id` \'single\' "double"\n'
    "EOF\n"
    "WALLARM_BOOT_B64\n"
    "a backslash at the end \\\n"
    "tab\there, CRLF here\r\n"
    "ünïcödé ✓ 🛡\n"
    "%s %d \\n no newline at the end"
)


# --- the world: moto, the fake IMDS, the stand-ins -----------------------------------------------


@dataclass(frozen=True)
class Aws:
    """The moto server and the identities seeded into it."""

    endpoint: str
    role_credentials: dict[str, str]
    wrong_secret_reader: dict[str, str]


# Session scope: the process's IAM-enforcing server is shared (tests/conftest.py), and what this
# creates there must not be created twice if xdist hands this process the module in two batches.
@pytest.fixture(scope="session")
def aws(shared_iam_moto: MotoServer) -> Aws:
    server = shared_iam_moto
    secrets_manager, ssm = server.client("secretsmanager"), server.client("ssm")
    iam, sts = server.client("iam"), server.client("sts")
    secrets_manager.create_secret(Name=SECRET_NAME, SecretString=SM_TOKEN)
    secrets_manager.create_secret(Name="wallarm/pasted-with-newline", SecretString=f"{SM_TOKEN}\n")
    secrets_manager.create_secret(Name="wallarm/not-a-token", SecretString="two words")
    other_secret = secrets_manager.create_secret(Name="other/app-secret", SecretString="not the token")
    ssm.put_parameter(Name=PARAMETER_NAME, Value=SSM_TOKEN, Type="SecureString")
    ssm.put_parameter(Name="/other/parameter", Value="not the token", Type="SecureString")

    trust = {
        "Version": "2012-10-17",
        # The admin too, whose AssumeRole below hands out the instance role's session: on an
        # enforcing server moto 5 checks the trust policy, and fails on a Service-only principal.
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com", "AWS": server.admin_arn},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName="wallarm-node", AssumeRolePolicyDocument=json.dumps(trust))
    # Resource "*": moto 5 checks Secrets Manager and SSM calls against the resource "*" only,
    # so a policy naming the secret's ARN would be denied there (it is allowed on AWS).
    role_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "ssm:GetParameter"], "Resource": "*"}
        ],
    }
    iam.put_role_policy(RoleName="wallarm-node", PolicyName="read-token", PolicyDocument=json.dumps(role_policy))
    # Instance role credentials are STS session credentials: key, secret and session token.
    session = sts.assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/wallarm-node", RoleSessionName="i-0123456789abcdef0"
    )["Credentials"]

    iam.create_user(UserName="reads-another-secret")
    other_only = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": other_secret["ARN"]},
            {
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/other/parameter",
            },
        ],
    }
    iam.put_user_policy(UserName="reads-another-secret", PolicyName="other-only", PolicyDocument=json.dumps(other_only))
    key = iam.create_access_key(UserName="reads-another-secret")["AccessKey"]

    return Aws(
        endpoint=server.endpoint,
        role_credentials={
            "AccessKeyId": session["AccessKeyId"],
            "SecretAccessKey": session["SecretAccessKey"],
            "Token": session["SessionToken"],
        },
        wrong_secret_reader={"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]},
    )


@pytest.fixture
def imds(aws: Aws) -> Iterator[FakeImds]:
    """IMDSv2 handing out the instance role's credentials."""
    with FakeImds(credentials=aws.role_credentials) as fake:
        yield fake


@dataclass(frozen=True)
class BootRun:
    """What one run of the boot script did."""

    script: str
    script_path: Path
    returncode: int
    output: str  # stdout and stderr together: both end up in cloud-init-output.log
    elapsed: float
    events: list[str]
    record: dict[str, Any] | None  # what the cloud-init.py stand-in saw, None if it did not run
    tmpdir: Path
    node: FakeNode

    @property
    def argv(self) -> list[str]:
        assert self.record is not None, self.output
        return self.record["argv"][1:]

    def snippet(self, flag: str) -> bytes:
        assert self.record is not None, self.output
        return base64.b64decode(self.record["snippets"][flag]["content_b64"])


def _system_python3() -> str:
    """The interpreter the script finds as python3: Debian's, like on the AMI, when this machine has it."""
    for candidate in ("/usr/bin/python3", os.path.realpath(getattr(sys, "_base_executable", sys.executable))):
        if os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("no python3 to stand in for the AMI's")


Runner = Callable[..., BootRun]
RUN_TIMEOUT = 60
# Where the linted copy of each run's script finds cloud-init.py (see the runner).
LINTED_CLOUD_INIT_PATH = "/opt/wallarm/usr/share/wallarm-common/cloud-init.py"
# How long the self-check waits for the ports and the health endpoint in these tests.
SELF_CHECK_TIMEOUT = 1


# Default for the IMDS and AWS endpoints, so no run ever reaches 169.254.169.254 or AWS.
NOTHING_LISTENS, _NOTHING_LISTENS_HELD = closed_url()  # held for the whole session


def make_runner(tmp_path: Path) -> Runner:
    """A function that runs the boot script rendered from the given spec fields against the stand-ins."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for standin in ("systemctl", "nginx"):
        shutil.copy(BOOT_DIR / standin, bin_dir / standin)
        (bin_dir / standin).chmod(0o755)
    (bin_dir / "python3").symlink_to(_system_python3())
    cloud_init = tmp_path / "opt" / "wallarm" / "cloud-init.py"
    cloud_init.parent.mkdir(parents=True)
    script_tmp = tmp_path / "tmp"
    script_tmp.mkdir()

    def run(
        *,
        token: TokenSource,
        imds_endpoint: str = NOTHING_LISTENS,
        aws_endpoint: str = NOTHING_LISTENS,
        shebang: str | None = sys.executable,
        cloud_init_exit: int = 0,
        systemctl_fails: str = "",
        nginx_t_exit: int = 0,
        nginx_t_output: str | None = None,
        cloud_init_drops: str = "",
        node: FakeNode | None = None,
        **fields: Any,
    ) -> BootRun:
        with node or FakeNode() as served:
            return _run(
                token=token,
                imds_endpoint=imds_endpoint,
                aws_endpoint=aws_endpoint,
                shebang=shebang,
                env={
                    "BOOT_TEST_CLOUD_INIT_EXIT": str(cloud_init_exit),
                    "BOOT_TEST_SYSTEMCTL_FAIL": systemctl_fails,
                    "BOOT_TEST_NGINX_T_EXIT": str(nginx_t_exit),
                    "BOOT_TEST_CLOUD_INIT_DROP": cloud_init_drops,
                    **({} if nginx_t_output is None else {"BOOT_TEST_NGINX_T_OUTPUT": nginx_t_output}),
                },
                node=served,
                fields=fields,
            )

    def _run(
        *,
        token: TokenSource,
        imds_endpoint: str,
        aws_endpoint: str,
        shebang: str | None,
        env: dict[str, str],
        node: FakeNode,
        fields: dict[str, Any],
    ) -> BootRun:
        standin = (BOOT_DIR / "cloud_init_standin.py").read_text()
        cloud_init.write_text((f"#!{shebang}\n" if shebang else "") + standin)
        cloud_init.chmod(0o755)
        serving = ServingCheck(
            node.node_port,
            node.health_port,
            HEALTH_PATH,
            listen_timeout_seconds=SELF_CHECK_TIMEOUT,
            health_timeout_seconds=SELF_CHECK_TIMEOUT,
        )
        spec = _spec(
            # Short, so a broken fetch fails the test in seconds rather than after 300 s.
            **{
                "token_fetch_timeout_seconds": 10,
                "cloud_init_path": str(cloud_init),
                "token": token,
                "serving_check": serving,
                **fields,
            }
        )
        script = render_boot_script(spec)
        shellcheck_script(linted_text(spec))
        script_path = tmp_path / "part-001"
        script_path.write_text(script)
        events, record = tmp_path / "events", tmp_path / "record.marshal"
        nginx_conf = tmp_path / "nginx-effective.conf"
        events.write_text("")
        node.listen_after_restart(events)
        record.unlink(missing_ok=True)
        nginx_conf.unlink(missing_ok=True)
        env = {
            **env,
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "LANG": "C.UTF-8",
            "TMPDIR": str(script_tmp),
            "WALLARM_BOOT_IMDS_ENDPOINT": imds_endpoint,
            "AWS_ENDPOINT_URL": aws_endpoint,
            "BOOT_TEST_EVENTS": str(events),
            "BOOT_TEST_RECORD": str(record),
            "BOOT_TEST_NGINX_CONF": str(nginx_conf),
        }
        started = time.monotonic()
        # Its own process group, so a hung run is stopped together with the fetcher it started.
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
            stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            pytest.fail(f"the boot script ran over {RUN_TIMEOUT}s:\n{(stdout + stderr).decode()}")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        elapsed = time.monotonic() - started
        return BootRun(
            script=script,
            script_path=script_path,
            returncode=process.returncode,
            output=stdout.decode() + stderr.decode(),
            elapsed=elapsed,
            events=events.read_text().splitlines(),
            record=marshal.loads(record.read_bytes()) if record.exists() else None,
            tmpdir=script_tmp,
            node=node,
        )

    return run


# The body of a heredoc of base64 (a snippet, the post script, an inline token).
_BASE64_BODY = re.compile(r"(?<=<<'WALLARM_BOOT_B64'\n)[A-Za-z0-9+/=\n]*(?=WALLARM_BOOT_B64\n)")


def _bare_word(value: str) -> bool:
    """Whether bash reads `value` as one literal word without quotes (shlex leaves it as it is)."""
    return shlex.quote(value) == value


def linted_text(spec: BootScriptSpec) -> str:
    """The text a run's script is shellchecked as: its own, with values that cannot change a finding fixed.

    Runs that differ only in such values share one shellcheck (~50 ms of CPU each, cached by text):
    - this run's temporary path and ports, which are quoted values;
    - the secret or parameter and the fetch deadline, when they are bare words (letters, digits and
      @%+=:,./-_ only: no quote, expansion, glob or tilde for shellcheck to look at), and the mode,
      always one of four such words;
    - the base64 in the heredocs that write the snippets, the post script and an inline token:
      shellcheck does not read the body of a quoted heredoc, and base64 cannot spell its end marker.
    Which parts the script has (token source, snippets, markers, post script, serving check) stays as
    rendered; `test_script_passes_shellcheck` lints whole shapes with every value as it is.
    """
    token = spec.token
    if isinstance(token, TokenFromSecretsManager) and _bare_word(token.secret_id):
        token = TokenFromSecretsManager(SECRET_NAME, token.region)
    elif isinstance(token, TokenFromSsmParameter) and _bare_word(token.name):
        token = TokenFromSsmParameter(PARAMETER_NAME, token.region)
    linted = dataclasses.replace(
        spec,
        cloud_init_path=LINTED_CLOUD_INIT_PATH,
        serving_check=spec.serving_check
        and dataclasses.replace(spec.serving_check, node_port=8445, health_check_port=9445),
        token=token,
        token_fetch_timeout_seconds=300,
        mode="monitoring",
    )
    return _BASE64_BODY.sub("AA==\n", render_boot_script(linted))


@pytest.fixture
def boot(tmp_path: Path) -> Runner:
    return make_runner(tmp_path)


# Held around the cached shellcheck: see shellcheck_script.
_SHELLCHECK_LOCK = threading.Lock()


def shellcheck_script(script: str) -> bool:
    """Assert that shellcheck (default severity, bash) is silent on `script`; False if it is not installed."""
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        if os.environ.get("CI"):
            pytest.fail("shellcheck is not installed; CI must install it (apt-get install shellcheck)")
        return False
    # One at a time: the background runs start together, often with the same text, and each would
    # miss the cache and run its own shellcheck.
    with _SHELLCHECK_LOCK:
        findings = _shellcheck_findings(shellcheck, script)
    assert findings == "", findings
    return True


@functools.cache
def _shellcheck_findings(shellcheck: str, script: str) -> str:
    """shellcheck's output for a script text, once per text and process: many tests run the same one."""
    result = subprocess.run([shellcheck, "--shell=bash", "-"], input=script.encode(), capture_output=True, timeout=60)
    # Exit 1 with findings on stdout; anything else (2-4: shellcheck itself failed) must show too.
    return result.stdout.decode() or (
        f"shellcheck exited {result.returncode}: {result.stderr.decode()}" if result.returncode else ""
    )


def assert_token_not_leaked(run: BootRun, token: str) -> None:
    """The token is in no log line and no process's argv or environment, and no file holds it."""
    secrets = [token.encode(), base64.b64encode(token.encode())]
    for secret in secrets:
        assert secret.decode() not in run.output
    assert run.record is not None, run.output
    chain = run.record["processes"]
    # The chain must reach the bash running the script, or this check would prove nothing.
    assert any(p["cmdline"] == ["bash", str(run.script_path)] for p in chain), chain
    for process in chain:
        assert token not in " ".join(process["cmdline"]), process["cmdline"]
        assert token.encode() not in base64.b64decode(process["environ_b64"])
    assert not any(token in value for value in run.record["environ"].values())
    # While cloud-init.py ran, the token file was already gone from the private temp dir.
    for path, content in run.record["tmp_files"].items():
        assert token.encode() not in base64.b64decode(content), path
    assert list(run.tmpdir.iterdir()) == [], "the temp dir must be removed at exit"


# --- token sources -----------------------------------------------------------------------------


def test_secrets_manager_token_reaches_cloud_init_and_nowhere_else(boot: Runner, aws: Aws, imds: FakeImds) -> None:
    run = boot(
        token=TokenFromSecretsManager(SECRET_NAME, REGION),
        imds_endpoint=imds.endpoint,
        aws_endpoint=aws.endpoint,
        node_group="mirror-eu",
    )

    assert run.returncode == 0, run.output
    assert run.argv == ["-t", SM_TOKEN, "-H", "api.wallarm.com", "-p", "mirror", "-m", "monitoring"]
    assert run.record is not None
    assert run.record["labels"] == "group=mirror-eu"
    assert run.events == ["systemctl stop nginx.service", "cloud-init.py", "systemctl restart nginx.service"]
    assert_token_not_leaked(run, SM_TOKEN)


def test_ssm_token_with_custom_preset_and_every_flag(boot: Runner, aws: Aws, imds: FakeImds) -> None:
    run = boot(
        token=TokenFromSsmParameter(PARAMETER_NAME, REGION),
        imds_endpoint=imds.endpoint,
        aws_endpoint=aws.endpoint,
        preset="custom",
        mode="block",
        api_host="us1.api.wallarm.com",
        libdetection=True,
        global_snippet="load_module x;\n",
        http_snippet="map $a $b { }\n",
        server_snippet="listen 8445;\n",
    )

    assert run.returncode == 0, run.output
    assert run.record is not None
    snippet_files = {flag: run.argv[run.argv.index(flag) + 1] for flag in run.record["snippets"]}
    assert run.argv == [
        "-t", SSM_TOKEN,
        "-H", "us1.api.wallarm.com",
        "-p", "custom",
        "-m", "block",
        "--libdetection",
        "--global-snippet", snippet_files["--global-snippet"],
        "--http-snippet", snippet_files["--http-snippet"],
        "--server-snippet", snippet_files["--server-snippet"],
    ]  # fmt: skip
    assert run.record["labels"] is None
    assert run.snippet("--server-snippet") == b"listen 8445;\n"
    assert run.events == ["systemctl stop nginx.service", "cloud-init.py", "systemctl restart nginx.service"]
    assert_token_not_leaked(run, SSM_TOKEN)


def test_inline_token_reaches_cloud_init_and_nowhere_else(boot: Runner) -> None:
    run = boot(token=TokenInline(INLINE_TOKEN), mode="safe_blocking")

    assert run.returncode == 0, run.output
    assert run.argv == ["-t", INLINE_TOKEN, "-H", "api.wallarm.com", "-p", "mirror", "-m", "safe_blocking"]
    assert run.events == ["systemctl stop nginx.service", "cloud-init.py", "systemctl restart nginx.service"]
    assert_token_not_leaked(run, INLINE_TOKEN)


def test_only_the_inline_script_carries_the_token() -> None:
    inline = render_boot_script(_spec(token=TokenInline(INLINE_TOKEN)))
    fetched = render_boot_script(_spec(token=TokenFromSecretsManager(SECRET_NAME, REGION)))
    assert base64.b64encode(INLINE_TOKEN.encode()).decode() in inline
    assert INLINE_TOKEN not in inline, "kept base64-encoded so no quoting can alter it"
    assert SM_TOKEN not in fetched and "python3" in fetched


def test_metadata_is_read_with_an_imdsv2_session_token(boot: Runner, aws: Aws, imds: FakeImds) -> None:
    run = boot(
        token=TokenFromSecretsManager(SECRET_NAME, REGION), imds_endpoint=imds.endpoint, aws_endpoint=aws.endpoint
    )

    assert run.returncode == 0, run.output
    assert imds.requests[0].method == "PUT" and imds.requests[0].path == "/latest/api/token"
    reads = [r for r in imds.requests if r.method == "GET"]
    assert [r.path for r in reads] == [CREDENTIALS_PATH, CREDENTIALS_PATH + "wallarm-node"]
    assert all(r.had_valid_session_token for r in reads)


def test_waits_for_the_instance_role_to_appear(waiting_runs: WaitingRuns) -> None:
    run = waiting_runs["late-role"].result()

    assert run.returncode == 0, run.output
    assert "attempt 1 failed: no instance role credentials in IMDS yet" in run.output
    assert run.argv[:2] == ["-t", SSM_TOKEN]


def test_whitespace_around_a_stored_token_is_dropped(boot: Runner, aws: Aws, imds: FakeImds) -> None:
    run = boot(
        token=TokenFromSecretsManager("wallarm/pasted-with-newline", REGION),
        imds_endpoint=imds.endpoint,
        aws_endpoint=aws.endpoint,
    )

    assert run.returncode == 0, run.output
    assert run.argv[:2] == ["-t", SM_TOKEN]


def test_a_stored_value_that_is_not_one_token_fails_at_once(boot: Runner, aws: Aws, imds: FakeImds) -> None:
    run = boot(
        token=TokenFromSecretsManager("wallarm/not-a-token", REGION),
        imds_endpoint=imds.endpoint,
        aws_endpoint=aws.endpoint,
        token_fetch_timeout_seconds=60,
    )

    assert run.returncode != 0
    assert run.elapsed < 5, "a wrong value is not retried"
    assert "wallarm/not-a-token is empty or not a single token; store the token alone" in run.output
    assert "two words" not in run.output
    assert run.events == ["systemctl stop nginx.service"]


# --- failures to get the token -------------------------------------------------------------------

FETCH_TIMEOUT = 1
# bash, two python start-ups and the last HTTP round trips on top of the fetch deadline
FETCH_MARGIN = 3.0

# Runs that mostly wait: the failing fetches wait out their whole deadline, the late role a retry
# delay. They start side by side in the background as soon as moto is up (see _start_waiting_runs),
# so their waiting overlaps the other tests of the module instead of adding to the suite's time.
# Each is (token source, identity in IMDS, spec fields).
WAITING: dict[str, tuple[TokenSource, str, dict[str, Any]]] = {
    "missing-secret": (
        TokenFromSecretsManager("wallarm/no-such-secret", REGION),
        "instance role",
        {"token_fetch_timeout_seconds": FETCH_TIMEOUT},
    ),
    "missing-parameter": (
        TokenFromSsmParameter("/wallarm/no-such-parameter", REGION),
        "instance role",
        {"token_fetch_timeout_seconds": FETCH_TIMEOUT},
    ),
    "denied-secret": (
        TokenFromSecretsManager(SECRET_NAME, REGION),
        "reads another secret",
        {"token_fetch_timeout_seconds": FETCH_TIMEOUT},
    ),
    "denied-parameter": (
        TokenFromSsmParameter(PARAMETER_NAME, REGION),
        "reads another secret",
        {"token_fetch_timeout_seconds": FETCH_TIMEOUT},
    ),
    # IMDS has no role credentials at the first read, as right after launch.
    "late-role": (TokenFromSsmParameter(PARAMETER_NAME, REGION), "late role", {"token_fetch_timeout_seconds": 20}),
}
WaitingRuns = dict[str, "Future[BootRun]"]


@pytest.fixture(scope="module")
def waiting_runs(aws: Aws, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WaitingRuns]:
    with (
        FakeImds(credentials=aws.role_credentials) as role_imds,
        FakeImds(credentials=aws.wrong_secret_reader) as wrong_imds,
        FakeImds(credentials=aws.role_credentials, credentials_missing_for=1) as late_imds,
        ThreadPoolExecutor(max_workers=len(WAITING)) as pool,
    ):
        endpoints = {
            "instance role": role_imds.endpoint,
            "reads another secret": wrong_imds.endpoint,
            "late role": late_imds.endpoint,
        }
        futures = {
            name: pool.submit(
                make_runner(tmp_path_factory.mktemp(name)),
                token=token,
                imds_endpoint=endpoints[identity],
                aws_endpoint=aws.endpoint,
                **fields,
            )
            for name, (token, identity, fields) in WAITING.items()
        }
        yield futures
        wait(futures.values())  # before the stand-ins they talk to go away


@pytest.fixture(autouse=True)
def _start_waiting_runs(request: pytest.FixtureRequest) -> None:
    """The first test of this module starts the self-check's waiting runs; the first that needs moto, its own."""
    request.getfixturevalue("self_check_runs")
    if "aws" in request.fixturenames:
        request.getfixturevalue("waiting_runs")


def assert_failed_before_nginx_came_back(run: BootRun) -> None:
    assert run.returncode != 0
    assert FETCH_TIMEOUT - 0.5 <= run.elapsed < FETCH_TIMEOUT + FETCH_MARGIN, "retries until the deadline, no longer"
    assert "could not obtain the Wallarm token; nginx stays stopped" in run.output
    assert run.events == ["systemctl stop nginx.service"]
    assert run.record is None
    assert list(run.tmpdir.iterdir()) == []


@pytest.mark.parametrize(
    ("case", "aws_error"),
    [("missing-secret", "ResourceNotFoundException"), ("missing-parameter", "ParameterNotFound")],
)
def test_missing_token_fails_within_the_bound_and_nginx_stays_stopped(
    waiting_runs: WaitingRuns, case: str, aws_error: str
) -> None:
    run = waiting_runs[case].result()

    assert_failed_before_nginx_came_back(run)
    assert f"attempt 1 failed: {aws_error}" in run.output
    assert "giving up after" in run.output and aws_error in run.output.splitlines()[-2]


@pytest.mark.parametrize("case", ["denied-secret", "denied-parameter"])
def test_identity_allowed_only_another_secret_is_denied(waiting_runs: WaitingRuns, case: str) -> None:
    run = waiting_runs[case].result()

    assert_failed_before_nginx_came_back(run)
    assert "giving up after" in run.output and "AccessDenied" in run.output.splitlines()[-2]
    assert "reads-another-secret is not authorized" in run.output


def test_cloud_init_failure_keeps_nginx_stopped_and_skips_the_post_script(boot: Runner) -> None:
    run = boot(
        token=TokenInline(INLINE_TOKEN),
        cloud_init_exit=3,
        post_script='echo post-script >> "$BOOT_TEST_EVENTS"\n',
    )

    assert run.returncode == 3
    assert "cloud-init.py failed with exit status 3; nginx stays stopped" in run.output
    assert run.events == ["systemctl stop nginx.service", "cloud-init.py"]
    assert list(run.tmpdir.iterdir()) == []


def test_wrong_cloud_init_path_fails_before_waiting_for_the_token(boot: Runner, tmp_path: Path) -> None:
    run = boot(
        token=TokenFromSecretsManager(SECRET_NAME, REGION),  # nothing answers: the fetch would wait 60 s
        token_fetch_timeout_seconds=60,
        cloud_init_path=str(tmp_path / "usr/share/cloud-init.py"),
    )

    assert run.returncode != 0
    assert run.elapsed < 5
    assert "usr/share/cloud-init.py does not exist; is cloud_init_path right" in run.output
    assert "fetching" not in run.output
    assert run.events == ["systemctl stop nginx.service"]


def test_nginx_that_cannot_be_stopped_aborts_the_boot(boot: Runner) -> None:
    run = boot(token=TokenInline(INLINE_TOKEN), systemctl_fails="stop")

    assert run.returncode == 5
    assert "a command failed with exit status 5" in run.output
    assert run.events == ["systemctl stop nginx.service"]


def test_nginx_that_cannot_restart_fails_the_boot_before_the_post_script(boot: Runner) -> None:
    run = boot(
        token=TokenInline(INLINE_TOKEN),
        systemctl_fails="restart",
        post_script='echo post-script >> "$BOOT_TEST_EVENTS"\n',
    )

    assert run.returncode == 5
    assert "a command failed with exit status 5" in run.output
    assert run.events == ["systemctl stop nginx.service", "cloud-init.py", "systemctl restart nginx.service"]
    assert list(run.tmpdir.iterdir()) == []


# --- the self-check once nginx is back ------------------------------------------------------------

STOPPED_AFTER_CHECK = [
    "systemctl stop nginx.service",
    "cloud-init.py",
    "systemctl restart nginx.service",
    "systemctl stop nginx.service",
]
# bash, one python start-up and the last health request on top of the self-check's deadline
SELF_CHECK_MARGIN = 3.0


def our_snippets(node_port: int = 80, health_port: int = 9447) -> dict[str, str]:
    """The server and http snippets a 6.x stack passes to cloud-init.py (custom preset), with our markers."""
    profile = profile_for("6.13")
    assert profile is not None
    return {
        "server_snippet": node_server_snippet(profile, node_port, ["10.0.0.0/16"], ""),
        "http_snippet": node_http_snippet(profile, health_port, HEALTH_PATH, ""),
    }


def boot_lines(run: BootRun) -> list[str]:
    return [line for line in run.output.splitlines() if line.startswith("wallarm-boot:")]


def assert_self_check_failed(run: BootRun, reason: str) -> None:
    """The boot failed at the self-check: nginx stopped again, the FAILED line last, nothing left behind."""
    assert run.returncode == 1, run.output
    last = boot_lines(run)[-1]
    assert last.startswith(f"wallarm-boot: FAILED: {reason}"), run.output
    assert last.endswith("; nginx is stopped, so the load balancer keeps this node out"), last
    assert run.events == STOPPED_AFTER_CHECK
    assert "wallarm-boot: self-check passed" not in run.output
    assert "wallarm-boot: the Wallarm node is configured" not in boot_lines(run)
    assert list(run.tmpdir.iterdir()) == []


def test_passing_self_check_asks_the_health_endpoint_and_ends_with_success(boot: Runner) -> None:
    run = boot(token=TokenInline(INLINE_TOKEN), preset="custom", **our_snippets())

    assert run.returncode == 0, run.output
    assert run.node.health_requests == [HEALTH_PATH]
    assert f"ports {run.node.node_port} and {run.node.health_port} listen" in run.output
    assert boot_lines(run)[-2:] == ["wallarm-boot: self-check passed", "wallarm-boot: the Wallarm node is configured"]
    assert run.events == ["systemctl stop nginx.service", "cloud-init.py", "systemctl restart nginx.service"]


def test_self_check_runs_before_the_post_script(boot: Runner) -> None:
    run = boot(token=TokenInline(INLINE_TOKEN), nginx_t_exit=1, post_script="echo ran >&2\n")

    assert_self_check_failed(run, "nginx -t rejects the configuration (exit status 1)")
    assert "running the post script" not in run.output


def test_nginx_t_failure_names_the_file_and_line_but_no_value(boot: Runner) -> None:
    run = boot(
        token=TokenInline(INLINE_TOKEN),
        nginx_t_exit=1,
        nginx_t_output=(
            'nginx: [emerg] invalid parameter "s3cr3t-from-a-snippet" in /etc/nginx/sites-enabled/default:12\n'
            "nginx: configuration file /etc/nginx/nginx.conf test failed"
        ),
    )

    assert_self_check_failed(
        run,
        "nginx -t rejects the configuration (exit status 1, emerg at /etc/nginx/sites-enabled/default:12); "
        "run sudo nginx -t on the node",
    )
    assert "s3cr3t-from-a-snippet" not in run.output
    assert run.node.health_requests == [], "the ports are not checked after a failed nginx -t"


@pytest.mark.parametrize(("flag", "marker"), [("--server-snippet", "server"), ("--http-snippet", "http")])
def test_custom_preset_snippet_missing_from_nginx_T_fails(boot: Runner, flag: str, marker: str) -> None:
    run = boot(token=TokenInline(INLINE_TOKEN), preset="custom", cloud_init_drops=flag, **our_snippets())

    assert_self_check_failed(
        run,
        f"our {flag} is not in the configuration nginx runs (nginx -T lacks '# wallarm-mirror-snippet: {marker}'); "
        "cloud-init.py did not apply it",
    )


def test_mirror_preset_does_not_look_for_markers(boot: Runner) -> None:
    # Only the custom preset is documented as "use only the snippets you pass"; see docs/nginx-node.md.
    run = boot(token=TokenInline(INLINE_TOKEN), cloud_init_drops="--server-snippet", **our_snippets())

    assert run.returncode == 0, run.output
    assert "nginx -T" not in run.script


# Runs that wait out the self-check's deadline, side by side in the background (see waiting_runs).
SELF_CHECK_WAITING: dict[str, FakeNode] = {
    "node-port-closed": FakeNode(node_listens=False),
    "health-port-closed": FakeNode(health_listens=False),
    "health-503": FakeNode(health_status=503),
    "health-silent": FakeNode(health_status=None),
    # Not a failure: the node port starts listening partway through the wait, which must see it.
    "node-port-late": FakeNode(node_listens_after=0.5),
}


@pytest.fixture(scope="module")
def self_check_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WaitingRuns]:
    with ThreadPoolExecutor(max_workers=len(SELF_CHECK_WAITING)) as pool:
        yield {
            name: pool.submit(make_runner(tmp_path_factory.mktemp(name)), token=TokenInline(INLINE_TOKEN), node=node)
            for name, node in SELF_CHECK_WAITING.items()
        }


def assert_waited_out_the_deadline(run: BootRun) -> None:
    assert SELF_CHECK_TIMEOUT - 0.2 <= run.elapsed < SELF_CHECK_TIMEOUT + SELF_CHECK_MARGIN, run.elapsed


def test_node_port_not_listening_fails(self_check_runs: WaitingRuns) -> None:
    run = self_check_runs["node-port-closed"].result()

    assert_self_check_failed(
        run,
        f"nothing listens on TCP port {run.node.node_port} "
        f"(the node port, where the load balancer sends mirrored traffic) after {SELF_CHECK_TIMEOUT}s",
    )
    assert_waited_out_the_deadline(run)


def test_health_port_not_listening_fails(self_check_runs: WaitingRuns) -> None:
    run = self_check_runs["health-port-closed"].result()

    assert_self_check_failed(
        run, f"nothing listens on TCP port {run.node.health_port} (the health check port) after {SELF_CHECK_TIMEOUT}s"
    )
    assert_waited_out_the_deadline(run)


def test_a_node_port_that_starts_listening_during_the_wait_passes(self_check_runs: WaitingRuns) -> None:
    """The wait asks the socket tables again until the deadline: a port that starts listening 0.5 s
    after nginx's restart, inside the 1 s wait, is found, and the self-check goes on to the health
    endpoint."""
    run = self_check_runs["node-port-late"].result()

    assert run.returncode == 0, run.output
    assert f"ports {run.node.node_port} and {run.node.health_port} listen;" in run.output
    assert run.node.health_requests == [HEALTH_PATH]
    assert "FAILED" not in run.output and run.elapsed >= 0.5, run.output


def test_health_endpoint_not_answering_200_fails(self_check_runs: WaitingRuns) -> None:
    run = self_check_runs["health-503"].result()

    url = f"http://127.0.0.1:{run.node.health_port}{HEALTH_PATH}"
    assert_self_check_failed(run, f"the health check {url} gave HTTP 503, not HTTP 200, for {SELF_CHECK_TIMEOUT}s")
    assert_waited_out_the_deadline(run)
    assert len(run.node.health_requests) >= 2, "asked again until the deadline"


def test_silent_health_endpoint_fails_within_the_bound(self_check_runs: WaitingRuns) -> None:
    run = self_check_runs["health-silent"].result()

    url = f"http://127.0.0.1:{run.node.health_port}{HEALTH_PATH}"
    assert_self_check_failed(run, f"the health check {url} gave no answer (")
    assert_waited_out_the_deadline(run)


# --- how cloud-init.py is started ----------------------------------------------------------------


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str | None], BootRun]:
    """The inline-token run with nothing else set, under a given cloud-init.py shebang, once per module.

    The tests below only read what cloud-init.py saw, so those that need the same run share it.
    """
    runs: dict[str | None, BootRun] = {}

    def run(shebang: str | None) -> BootRun:
        if shebang not in runs:
            runner = make_runner(tmp_path_factory.mktemp("plain"))
            runs[shebang] = runner(token=TokenInline(INLINE_TOKEN), shebang=shebang)
        return runs[shebang]

    return run


@pytest.mark.parametrize(
    ("shebang", "interpreter"),
    [
        (sys.executable, sys.executable),
        ("/usr/bin/env python3", "bin/python3"),
        (None, "bin/python3"),
    ],
    ids=["absolute", "env", "none"],
)
def test_cloud_init_runs_as_main_under_its_shebang_interpreter(
    plain_run: Callable[[str | None], BootRun], shebang: str | None, interpreter: str
) -> None:
    run = plain_run(shebang)
    root = run.tmpdir.parent  # the runner's directory: bin/, opt/wallarm/, tmp/

    assert run.returncode == 0, run.output
    assert run.record is not None
    assert run.record["name"] == "__main__"
    expected = str(root / interpreter) if interpreter.startswith("bin/") else interpreter
    assert run.record["executable"] == expected
    assert run.record["path0"] == str(root / "opt" / "wallarm"), "its own directory comes first on sys.path"
    assert run.record["argv"][0] == str(root / "opt" / "wallarm" / "cloud-init.py")
    assert ("no python shebang" in run.output) == (shebang is None)


def test_cloud_init_gets_the_original_umask_back(plain_run: Callable[[str | None], BootRun]) -> None:
    run = plain_run(sys.executable)  # the runner's default shebang

    assert run.record is not None
    assert run.record["umask"] == 0o022


# --- snippets and the post script ----------------------------------------------------------------


def test_snippets_reach_their_files_byte_for_byte(boot: Runner) -> None:
    global_snippet = TRICKY_TEXT
    http_snippet = "ends with two newlines\n\n"
    server_snippet = "\n"
    run = boot(
        token=TokenInline(INLINE_TOKEN),
        preset="custom",
        global_snippet=global_snippet,
        http_snippet=http_snippet,
        server_snippet=server_snippet,
    )

    assert run.returncode == 0, run.output
    assert run.snippet("--global-snippet") == global_snippet.encode()
    assert run.snippet("--http-snippet") == http_snippet.encode()
    assert run.snippet("--server-snippet") == server_snippet.encode()
    assert run.record is not None
    for seen in run.record["snippets"].values():
        assert seen["mode"] == 0o600 and seen["dir_mode"] == 0o700
    assert "whoami" not in run.output, "snippet text is not echoed into the log"


def test_post_script_runs_byte_for_byte_after_nginx_restart(boot: Runner) -> None:
    post_script = (
        '# EOF $HOME `id` "quotes" \\\n'
        'printf "post-script %s\\n" "$(sha256sum < "$0" | cut -d" " -f1)" >> "$BOOT_TEST_EVENTS"'
    )
    run = boot(token=TokenInline(INLINE_TOKEN), post_script=post_script)

    assert run.returncode == 0, run.output
    digest = hashlib.sha256(post_script.encode()).hexdigest()
    assert run.events == [
        "systemctl stop nginx.service",
        "cloud-init.py",
        "systemctl restart nginx.service",
        f"post-script {digest}",
    ]


def test_failing_post_script_fails_the_boot_after_nginx_is_up(boot: Runner) -> None:
    run = boot(
        token=TokenInline(INLINE_TOKEN),
        post_script='echo post-script >> "$BOOT_TEST_EVENTS"\nexit 7\n',
    )

    assert run.returncode == 7
    assert "the post script failed with exit status 7 (nginx is already running)" in run.output
    assert run.events == [
        "systemctl stop nginx.service",
        "cloud-init.py",
        "systemctl restart nginx.service",
        "post-script",
    ]
    assert list(run.tmpdir.iterdir()) == []


# --- the script text -----------------------------------------------------------------------------

SHAPES: dict[str, dict[str, Any]] = {
    "secrets-manager-mirror": {"token": TokenFromSecretsManager(SECRET_NAME, REGION), "node_group": "g"},
    "ssm-custom-all-snippets": {
        "token": TokenFromSsmParameter(PARAMETER_NAME, REGION),
        "preset": "custom",
        "mode": "block",
        "libdetection": True,
        "global_snippet": TRICKY_TEXT,
        "http_snippet": "x",
        "server_snippet": "y\n",
    },
    "inline-with-post-script": {"token": TokenInline(INLINE_TOKEN), "post_script": TRICKY_TEXT, "mode": "off"},
    "inline-bare": {"token": TokenInline(INLINE_TOKEN)},
    # What a 6.x stack renders: our snippets (markers), the serving check, the longest secret ARN.
    "custom-self-check": {
        "token": TokenFromSecretsManager("arn:aws-us-gov:secretsmanager:us-gov-west-1:1:secret:" + "x" * 200, REGION),
        "preset": "custom",
        "node_group": "g" * 64,
        "serving_check": ServingCheck(80, 9447, HEALTH_PATH),
        **our_snippets(),
    },
    "mirror-self-check": {
        "token": TokenFromSsmParameter(PARAMETER_NAME, REGION),
        "serving_check": ServingCheck(8445, 9445, HEALTH_PATH),
        "server_snippet": our_snippets()["server_snippet"],
    },
}


def _spec(**fields: Any) -> BootScriptSpec:
    base: dict[str, Any] = {
        "cloud_init_path": "/opt/wallarm/usr/share/wallarm-common/cloud-init.py",
        "preset": "mirror",
        "mode": "monitoring",
        "api_host": "api.wallarm.com",
        "libdetection": False,
        "global_snippet": "",
        "http_snippet": "",
        "server_snippet": "",
        "post_script": "",
        "token": TokenInline(INLINE_TOKEN),
    }
    return BootScriptSpec(**{**base, **fields})


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_script_passes_shellcheck(shape: dict[str, Any]) -> None:
    # Every script the runner executes is shellchecked too; these shapes need no run.
    if not shellcheck_script(render_boot_script(_spec(**shape))):
        pytest.skip("shellcheck is not installed")


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_script_starts_strict_and_never_traces(shape: dict[str, Any]) -> None:
    script = render_boot_script(_spec(**shape))
    lines = script.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert "set -euo pipefail" in lines[:10]
    assert not any(line.lstrip().startswith("set -x") or "set -o xtrace" in line for line in lines)
    assert lines.index("systemctl stop nginx.service") < lines.index("systemctl restart nginx.service")


# --- what the renderer refuses -------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_script_stays_plain_text_under_the_user_data_limit(shape: dict[str, Any]) -> None:
    # Over the limit it would still be sent gzipped, but plans and the console would show base64.
    assert len(render_boot_script(_spec(**shape)).encode()) <= USER_DATA_LIMIT_BYTES


def test_self_check_cites_its_source_and_checks_markers_on_custom_only() -> None:
    custom = render_boot_script(_spec(**SHAPES["custom-self-check"]))
    mirror = render_boot_script(_spec(**SHAPES["mirror-self-check"]))
    assert "(ours: our target group and our health server (snippets.py))" in custom
    assert "(documented: Wallarm's Terraform module, traffic 8445, HTTP 200 on :9445)" in mirror
    assert "in_config --server-snippet '# wallarm-mirror-snippet: server'" in custom
    assert "in_config --http-snippet '# wallarm-mirror-snippet: http'" in custom
    assert "nginx -T" not in mirror
    for script in (custom, mirror):
        assert "timeout 60 nginx -t " in script
    assert "WALLARM_BOOT_SERVING_PY" not in render_boot_script(_spec(serving_check=None))


def test_only_our_marker_lines_are_looked_for() -> None:
    script = render_boot_script(
        _spec(preset="custom", server_snippet="# wallarm-mirror-snippet: $(reboot)\n# wallarm-mirror-snippet: ok-1\n")
    )
    assert "in_config --server-snippet '# wallarm-mirror-snippet: ok-1'" in script
    assert "reboot" not in script.split("nginx -T", 1)[1]


def _heredoc(script: str, marker: str) -> str:
    start = script.index(f"<<'{marker}'")
    body = script[script.index("\n", start) + 1 :]
    return body[: body.index(f"\n{marker}\n")]


@pytest.mark.parametrize("marker", ["WALLARM_BOOT_FETCHER_PY", "WALLARM_BOOT_LAUNCHER_PY", "WALLARM_BOOT_SERVING_PY"])
def test_embedded_python_parses_as_python_3_7(marker: str) -> None:
    # 3.7 is Debian 10's python3, on the oldest (4.x) Wallarm images.
    script = render_boot_script(_spec(**SHAPES["mirror-self-check"]))
    ast.parse(_heredoc(script, marker), feature_version=(3, 7))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cloud_init_path": "opt/wallarm/cloud-init.py"}, "cloud_init_path 'opt/wallarm/cloud-init.py' must be"),
        ({"cloud_init_path": "/opt/x\n/cloud-init.py"}, "must be an absolute path without control characters"),
        ({"preset": "proxy"}, "preset 'proxy' is not one of mirror, custom"),
        ({"mode": "blocking"}, "mode 'blocking' is not one of off, monitoring, safe_blocking, block"),
        ({"api_host": "https://api.wallarm.com"}, "api_host 'https://api.wallarm.com' is not a host name"),
        ({"api_host": "-H evil"}, "is not a host name"),
        ({"api_host": "api.wallarm.com:444"}, "without scheme, port or path"),
        ({"node_group": "a,b=c"}, "node_group 'a,b=c' cannot be placed in WALLARM_LABELS"),
        ({"node_group": ""}, "cannot be placed in WALLARM_LABELS"),
        ({"node_group": "eu\nx"}, "cannot be placed in WALLARM_LABELS"),
        ({"token_fetch_timeout_seconds": 0}, "token_fetch_timeout_seconds 0 must be a whole number"),
        ({"token_fetch_timeout_seconds": True}, "must be a whole number"),
        ({"serving_check": ServingCheck(0, 9447, HEALTH_PATH)}, "serving_check.node_port 0 must be a TCP port"),
        ({"serving_check": ServingCheck(80, 65536, HEALTH_PATH)}, "serving_check.health_check_port 65536 must be"),
        ({"serving_check": ServingCheck(80, 9447, "-/healthcheck")}, "must start with / and contain no spaces"),
        ({"serving_check": ServingCheck(80, 9447, "/a b")}, "serving_check.health_check_path '/a b' must start"),
        (
            {"serving_check": ServingCheck(80, 9447, HEALTH_PATH, health_timeout_seconds=0)},
            "serving_check.health_timeout_seconds 0 must be a whole number",
        ),
        ({"http_snippet": "bad \udc80 surrogate"}, "http_snippet is not valid Unicode text"),
        ({"token": TokenFromSecretsManager(SECRET_NAME, "eu-west-1; rm -rf /")}, "is not an AWS region code"),
        ({"token": TokenFromSecretsManager("", REGION)}, "secret_id '' must be non-empty"),
        ({"token": TokenFromSsmParameter("/a\nb", REGION)}, "SSM parameter name '/a\\nb' must be non-empty"),
        ({"token": "plain string"}, "token must be a TokenFromSecretsManager"),
    ],
)
def test_renderer_refuses_what_it_cannot_place(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=None) as raised:
        render_boot_script(_spec(**fields))
    assert message in str(raised.value)


def test_user_data_is_plain_text_while_it_fits() -> None:
    script = render_boot_script(_spec())
    user_data = encode_user_data(script)
    assert base64.b64decode(user_data).decode() == script
    assert decode_user_data(user_data) == script


def test_user_data_over_the_limit_is_gzipped_deterministically() -> None:
    # Repetitive text: over the limit as written, far under it compressed.
    script = render_boot_script(_spec(post_script="echo tuned\n" * 1500))
    assert len(script.encode()) > USER_DATA_LIMIT_BYTES
    user_data = encode_user_data(script)
    raw = base64.b64decode(user_data)
    assert raw[:2] == b"\x1f\x8b" and len(raw) <= USER_DATA_LIMIT_BYTES
    assert decode_user_data(user_data) == script
    assert encode_user_data(script) == user_data


def test_user_data_that_does_not_fit_even_gzipped_is_refused() -> None:
    # Random bytes do not compress: base64 of 20 KB of them stays far over 16 KB.
    script = render_boot_script(_spec(post_script=base64.b64encode(os.urandom(20000)).decode()))
    with pytest.raises(ValueError, match="over EC2's 16384-byte user data limit"):
        encode_user_data(script)


@pytest.mark.parametrize("bad_token", ["", "two words", "tab\there", "line\nbreak"])
def test_bad_inline_token_is_refused_without_quoting_it(bad_token: str) -> None:
    with pytest.raises(ValueError, match="inline Wallarm token is empty or contains whitespace") as raised:
        render_boot_script(_spec(token=TokenInline(bad_token)))
    if bad_token:
        assert bad_token not in str(raised.value)


def test_inline_token_is_hidden_from_repr() -> None:
    spec = _spec(token=TokenInline(INLINE_TOKEN))
    assert INLINE_TOKEN not in repr(spec)
    assert INLINE_TOKEN not in repr(dataclasses.replace(spec))
