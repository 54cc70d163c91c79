"""moto in server mode, in its own process, on 127.0.0.1.

Its own process because IAM enforcement is a process-wide moto setting: switching it on here
cannot leak into tests that use moto in-process. That process runs this file (`serve`): moto's own
server with five of its lookups made direct or made once, the same answers at a constant cost.
"""

from __future__ import annotations

import ctypes
import functools
import json
import signal
import socket
import subprocess
import sys
import threading
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


def _loading_session() -> botocore.session.Session:
    """A botocore session that reads the service models through LOADER."""
    core = botocore.session.Session()
    core.register_component("data_loader", LOADER)
    return core


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------------------------------------------
# The server process (this file run as a script): moto's own server, five lookups made direct or once


def _direct_ec2_lookups() -> None:
    """Two of moto's EC2 lookups made direct; each answers exactly what moto's scan answered.

    - An EC2 resource's tags, read for every instance, session or subnet moto describes, filters or
      creates, were a scan of every tag of every resource in the Region with a regular expression per
      tag: a listing of n tagged resources cost O(n^2), and the shared server, which keeps what every
      module creates, slowed down test by test (the enrolment scale test: ~5 s of moto's CPU in tags
      alone). The scan's filter is the resource's id as an fnmatch pattern, which an id without
      wildcards matches exactly: the resource's own entry is looked up instead.
    - Every instance moto launches looked its image up with a filter on the image id, matched by
      fnmatch against each of moto's ~1,300 images (~10 ms an instance): same reasoning, same lookup.
    """
    from moto.ec2.models.amis import AmiBackend
    from moto.ec2.models.core import TaggedEC2Resource
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    def get_tags(self: Any) -> list[dict[str, str]]:
        if not self.id:
            return []
        kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(self.id), "")
        own = self.ec2_backend.tags.get(self.id, {})  # not [...]: a defaultdict, which would grow
        return [{"resource_id": self.id, "key": k, "value": v, "resource_type": kind} for k, v in own.items()]

    describe_images = AmiBackend.describe_images

    def describe_images_by_id(
        self: Any, ami_ids: Any = None, filters: Any = None, exec_users: Any = None, owners: Any = None
    ) -> Any:
        wanted = (filters or {}).get("image-id")
        exact = isinstance(wanted, str) and not any(wildcard in wanted for wildcard in "*?[")
        if exact and len(filters) == 1 and not (ami_ids or exec_users or owners):
            return [self.amis[wanted]] if wanted in self.amis else []
        return describe_images(self, ami_ids, filters, exec_users, owners)

    # moto's own classes, changed in moto's server process only.
    TaggedEC2Resource.get_tags = get_tags  # type: ignore[method-assign]
    AmiBackend.describe_images = describe_images_by_id  # type: ignore[method-assign]


def serve(port: int) -> None:
    """moto's server on 127.0.0.1:`port` until killed, with five lookups made direct or made once.

    The EC2 ones (`_direct_ec2_lookups`) once moto has loaded its EC2 models (on the first request of
    a service that needs them: loading them up front would cost a server that never sees EC2 0.7 s).
    Every request listed moto's package folder (~200 stat calls) to learn whether the request's host
    names a service, and the methods of the service's response class (EC2's: ~1,000 attributes,
    0.4 ms) to learn whether the action is one: neither changes while the server runs, so each is
    listed once. And the Regions of a service, which moto's EC2 models ask a new boto3 session for
    three times as they load (each reading EC2's 2 MB model again: 0.4 s of the 0.9 s they take), come
    from one session, once per question: botocore's endpoint data answer it, the same every time.
    """
    regions_of = boto3.session.Session.get_available_regions
    one_session = boto3.session.Session(botocore_session=_loading_session())

    loading = threading.Lock()  # one botocore session, and moto's server answers in threads

    @functools.cache
    def regions(service_name: str, partition_name: str, allow_non_regional: bool) -> tuple[str, ...]:
        with loading:
            return tuple(regions_of(one_session, service_name, partition_name, allow_non_regional))

    def available_regions(
        self: Any, service_name: str, partition_name: str = "aws", allow_non_regional: bool = False
    ) -> list[str]:
        return list(regions(service_name, partition_name, allow_non_regional))

    boto3.session.Session.get_available_regions = available_regions  # type: ignore[method-assign]

    import moto.backends
    import moto.core.responses

    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules
    method_names = functools.cache(moto.core.responses.method_names_from_class)
    moto.core.responses.method_names_from_class = method_names
    import_backend = moto.backends._import_backend

    def import_backend_then_patch(module_name: str, backends_name: str) -> Any:
        backends: Any = import_backend(module_name, backends_name)
        # Every service that holds EC2 resources (autoscaling, elbv2, ...) imports EC2's models with its own.
        if "moto.ec2.models" in sys.modules and moto.backends._import_backend is import_backend_then_patch:
            _direct_ec2_lookups()
            moto.backends._import_backend = import_backend  # once is enough
        return backends

    moto.backends._import_backend = import_backend_then_patch
    from moto.server import main

    main(["-H", "127.0.0.1", "-p", str(port)])


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: if pytest itself is killed, moto must not outlive it.
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


class MotoServer:
    """moto's server (`serve`, in a process of its own) on a free loopback port, stopped on exit."""

    def __init__(self, log_path: Path) -> None:
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self.endpoint = ""
        self._keys = ("testing", "testing")
        self._session: Any = None
        self.admin_arn = ""

    def __enter__(self) -> MotoServer:
        # The port is picked before moto binds it, so another process can win the race: try again.
        for _ in range(3):
            port = _free_port()
            with self._log_path.open("ab") as log:
                self._process = subprocess.Popen(
                    [sys.executable, __file__, str(port)],
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

    def client(self, service: str, region: str = REGION) -> Any:
        """A boto3 client for `service` in `region` (moto keeps each Region's resources apart):
        throw-away credentials, or the admin's once there is one."""
        # One session for all of them (~10 ms of CPU each, and the status tests make ~100 clients): a
        # client takes a copy of the session's event hooks, so what a test hooks on its client stays
        # there. The stubs type client() per literal service name; tests pass it as a string.
        if self._session is None:
            self._session = boto3.session.Session(botocore_session=_loading_session())
        return self._session.client(
            service,
            region_name=region,
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


if __name__ == "__main__":
    serve(int(sys.argv[1]))
