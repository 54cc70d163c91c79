"""Shared fixtures: stack configs as the Pulumi CLI hands them over, and one offline-run fixture
that records every resource the real program registers under the mock engine."""

from __future__ import annotations

import atexit
import base64
import dataclasses
import gc
import importlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.node.boot.moto_server import MotoServer
    from wallarm_mirror.offline.engine import OfflineFacts, OfflineRun

# Full collections a tenth as often in every test process. What a session keeps (the modules it has
# imported, each stack run_stack shares, the modules' servers, clients and labs) grows test by test,
# and each full collection walked all of it again: ~35 of them in a parallel run, 50-100 ms each,
# 2.1 s of the workers' 3.8 s of collecting (timed with gc.callbacks). The garbage that lives that
# long is found a little later: the run's peak RSS grew ~11% (244 -> 272 MB), its collecting took
# 2.6 s, 0.7 s of it in 5 full collections. Young collections are as before.
_young, _middle, _ = gc.get_threshold()
gc.set_threshold(_young, _middle, 100)

# The Pulumi engine and boto3 are imported where they are used, not here: pytest-xdist's controller
# loads this file too, before it starts the workers, and never runs a test (~0.3 s of its CPU).

# pytest keeps each test module's rewritten asserts as bytecode beside it, unless writing bytecode is
# off: with PYTHONDONTWRITEBYTECODE set (as on the CI machine kind) every test process rewrote every
# test module at each start (~1.6 s of CPU per xdist worker). Like ./dev for the package, the test
# process writes the checkout's bytecode (git-ignored; Python and pytest check it against the source).
sys.dont_write_bytecode = False

TOKEN = "wlrm-test-token-5f0c2a9d7e3b41c8"
VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]
NODE_SUBNETS = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2", "subnet-0aaaaaaaaaaaaaaa3"]
SOURCE_SG = "sg-0123456789abcdef0"
CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"

# A dev-like stack: two subnets, one node, plain HTTP, defaults everywhere else.
DEV: dict[str, Any] = {
    "vpcId": VPC,
    "albSubnetIds": SUBNETS[:2],
    "mirrorSourceCidrs": ["10.0.16.0/20"],
    "token": TOKEN,
    "deletionProtection": False,
}
# A prod-like stack: TLS, three subnets for the ALB and three for nodes, 2+ nodes, both source kinds.
PROD: dict[str, Any] = {
    "vpcId": VPC,
    "albSubnetIds": SUBNETS,
    "nodeSubnetIds": NODE_SUBNETS,
    "mirrorSourceCidrs": ["10.40.0.0/19", "2600:1f18:abcd::/56"],
    "mirrorSourceSecurityGroupIds": [SOURCE_SG],
    "token": TOKEN,
    "certificateArn": CERT,
    "instanceType": "m5.xlarge",
    "minSize": 2,
    "maxSize": 6,
    "desiredCapacity": 3,
    "apiHost": "us1.api.wallarm.com",
    "tags": {"env": "prod"},
}


def as_pulumi_config(values: dict[str, Any]) -> dict[str, str]:
    """What the CLI passes: strings as they are, everything else as JSON text."""
    from wallarm_mirror.offline.engine import full_config

    return full_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()})


RunStack = Callable[..., "OfflineRun"]

# The pulumi_aws modules a stack of ours can touch; pulumi_aws loads each on first use.
AWS_MODULES = (
    "autoscaling",
    "cloudwatch",
    "ec2",
    "iam",
    "lambda_",
    "lb",
    "ram",
    "s3",
    "secretsmanager",
    "sns",
    "sqs",
    "ssm",
    "vpc",
)


@pytest.fixture(scope="session", autouse=True)
def _static_heap_frozen() -> None:
    """Load the program and every pulumi_aws module it uses, then move all of it out of the GC's sight.

    Those ~200,000 objects live for the whole session; left tracked, every full collection walks
    them again, and a run of the program under the mock engine makes enough garbage to trigger
    one every few runs (about 40% of a run's time before this).
    """
    importlib.import_module("wallarm_mirror.components.stack")
    for module in AWS_MODULES:
        # pulumi_aws registers its modules lazily: the code runs at the first attribute read.
        getattr(importlib.import_module(f"pulumi_aws.{module}"), "__all__", None)
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="session")
def shared_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto server per test process (started on first use) for every module that leaves IAM alone.

    Each start costs ~1 s of CPU (moto's imports, then each service's backend on its first call), and
    module-scoped servers started up to once per module per xdist worker. The modules share it without
    a reset because each one names or tags what it creates: the Native Node boot tests their secret
    and parameter, the enrolment tests their sources and sessions (a tag value per test), the status
    tests their stacks (a name per stack); the enrolment scale test's fleet, which would slow every
    listing of the others, lives in a Region of its own. What enforces IAM (process-wide in moto)
    keeps its own server.
    """
    from tests.node.boot.moto_server import MotoServer

    with MotoServer(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


@pytest.fixture(scope="session")
def shared_iam_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto server per test process that enforces IAM from the start, for the node boot tests and
    the status IAM tests. Its client() is an identity allowed everything, so each module sets up its
    resources and identities whenever it comes; they share no names (secrets and a role there,
    users and stacks here)."""
    from tests.node.boot.moto_server import MotoServer

    with MotoServer(tmp_path_factory.mktemp("moto-iam") / "moto.log") as server:
        server.enforce_iam_with_admin()
        yield server


_RUNS: dict[str, OfflineRun] = {}
# Every run_stack/fresh_run stack deploys here (its aws:region).
RUN_REGION = "eu-west-1"


@pytest.fixture
def run_stack() -> RunStack:
    """Run the real program offline: run_stack(DEV, mode="off", facts=OfflineFacts(...)).

    Keyword overrides replace keys; a value of None removes the key. The token is a secret key.
    A run is read-only once done, so the same config is run once per session and shared: many
    tests read the same dev and prod stacks.
    """

    def run(
        base: dict[str, Any],
        *,
        facts: OfflineFacts | None = None,
        stack: str = "test",
        secret_keys: tuple[str, ...] = ("token",),
        **overrides: Any,
    ) -> OfflineRun:
        # Keyed on what the run is given, so one stack asked for two ways is run once:
        # run_stack({**DEV, "mode": "off"}) is run_stack(DEV, mode="off"), and facts=None or
        # OfflineFacts(region=RUN_REGION) are the facts run_offline uses for either.
        from wallarm_mirror.offline.engine import OfflineFacts

        given = dataclasses.replace(facts or OfflineFacts(), region=(facts and facts.region) or RUN_REGION)
        key = json.dumps([run_values(base, overrides), repr(given), stack, secret_keys], sort_keys=True, default=str)
        if key not in _RUNS:
            _RUNS[key] = fresh_run(base, facts=facts, stack=stack, secret_keys=secret_keys, **overrides)
        return _RUNS[key]

    return run


@pytest.fixture
def fresh_run_stack() -> RunStack:
    """Like run_stack, but always runs the program again (for tests that watch the run itself)."""
    return fresh_run


def run_values(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The stack config of a run: `base` with `overrides` applied, a None removing its key."""
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


def fresh_run(
    base: dict[str, Any],
    *,
    facts: OfflineFacts | None = None,
    stack: str = "test",
    secret_keys: tuple[str, ...] = ("token",),
    **overrides: Any,
) -> OfflineRun:
    from wallarm_mirror.offline.engine import run_offline

    values = run_values(base, overrides)
    return run_offline({**as_pulumi_config(values), "aws:region": RUN_REGION}, secret_keys, stack=stack, facts=facts)


def script_and_files(script: str) -> str:
    """The script plus every heredoc it writes, base64 ones decoded: what the node will receive."""
    texts = [script]
    for _, body in re.findall(r"<<'(\w+)'\n(.*?)\n\1$", script, flags=re.MULTILINE | re.DOTALL):
        try:
            texts.append(base64.b64decode("".join(body.split()), validate=True).decode())
        except ValueError:
            texts.append(body)
    return "\n".join(texts)


# An xdist worker whose session has ended leaves without Python's own teardown, which freed the session's
# millions of objects one by one (~0.3 s at the end of every parallel run, with the controller waiting
# for the worker to exit). By then the worker has sent everything through execnet; a worker ends with
# status 0 whatever its tests did (their results went to the controller). Not under coverage, whose
# own exit handler must still run.
_SESSION_DONE: list[bool] = []


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        _SESSION_DONE.append(True)


def _leave_at_once() -> None:
    if _SESSION_DONE and "coverage" not in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


atexit.register(_leave_at_once)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what the property test recorded: examples run over all its shards, outcomes and seed.

    Through the reports, not stdout: under pytest-xdist a worker's output never reaches the terminal.
    """
    shards = [
        value
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        for name, value in getattr(report, "user_properties", ())
        if name == "config_properties"
    ]
    if not shards:
        return
    total = {key: sum(shard[key] for shard in shards) for key in ("examples", "planned", "refused", "failed")}
    seed = shards[0]["seed"]
    terminalreporter.write_line(
        f"config properties: {total['examples']} examples run in {len(shards)} shards ({total['planned']} planned, "
        f"{total['refused']} refused, {total['failed']} failed), {sum(s['seconds'] for s in shards):.1f} s in all; "
        f"seed {seed} (replay: HYPOTHESIS_SEED={seed})"
    )


# The modules that take longest, longest first: pytest-xdist hands tests out in collection order, so
# starting these first lets the short ones fill the gaps and both workers finish together.
SLOW_FIRST = (
    "tests/config/test_properties.py",
    "tests/host_mirror/test_kernel.py",
    "tests/status/test_status_moto.py",
    "tests/node/test_boot_script.py",
    "tests/traffic_mirror/test_enrolment_scale.py",
    "tests/test_imports.py",
    "tests/mirror/test_envoy_traffic.py",
    "tests/native_node/test_boot_script.py",
    "tests/traffic_mirror/test_enrolment.py",
    "tests/packaging/test_wheel.py",
    "tests/typing/test_public_api_types.py",
    "tests/offline/test_plan_cli.py",
    "tests/config/test_native_properties.py",
    "tests/mirror/test_nginx_runs.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: index for index, path in enumerate(SLOW_FIRST)}

    def order(item: pytest.Item) -> int:
        return rank.get(item.nodeid.split("::", 1)[0], len(SLOW_FIRST))

    items.sort(key=order)  # stable: the order inside a module and among the rest stays as collected
