"""moto in server mode, in its own process, on 127.0.0.1.

Its own process because IAM enforcement is a process-wide moto setting: switching it on here
cannot leak into tests that use moto in-process. That process runs moto's own server with some of its
lookups made direct or made once, the same answers at a constant cost (`prepared_app`).

On Linux each server is forked from one process per test session that has imported moto and
answered a first EC2 and IAM call once (`zygote`): a server started on its own spent ~0.9 s of CPU
on that, and a session starts three or more. A forked server starts with the state a new one has
after those two read-only calls, and keeps its own from then on.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import functools
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import botocore.client
import botocore.hooks
import botocore.loaders
import botocore.session

REGION = "eu-west-1"
# One loader for every client the tests make: the service models (EC2's is 2 MB of JSON) are read once
# per test process instead of once per client (~0.2 s of CPU each; the status tests alone make dozens).
LOADER = botocore.loaders.create_loader()


# botocore's own event handlers, registered once: a new session registered all ~400 of them again,
# checking each one's signature (~4 ms of CPU a session; the status tests open one per status run).
_BUILTIN_EVENTS = botocore.hooks.HierarchicalEmitter()
botocore.session.Session(event_hooks=_BUILTIN_EVENTS)  # registers them on _BUILTIN_EVENTS


def loading_session() -> botocore.session.Session:
    """A new botocore session that reads the service models through LOADER, its event handlers (botocore's
    own) copied from one registration instead of registered anew: what it registers stays its own."""
    events = copy.copy(_BUILTIN_EVENTS)
    # The copy would share the template's cache of handlers per event name (botocore's copy keeps it):
    # a session that emits must fill a cache of its own.
    events._lookup_cache = {}  # type: ignore[attr-defined]
    core = botocore.session.Session(event_hooks=events, include_builtin_handlers=False)
    core.register_component("data_loader", LOADER)
    return core


# A client class is built anew for every client (EC2's has ~830 methods: ~9 ms of CPU, and the status
# and enrolment tests make ~150 clients a run). What it is built from: the service's model (the same
# for a service and API version) and the handlers of its creating-client-class event, which may add
# to it. So it is built once per service, API version and such handlers, and shared after that.
_CLIENT_CLASSES: dict[tuple[Any, ...], type] = {}
_create_client_class = botocore.client.ClientCreator._create_client_class  # type: ignore[attr-defined]


def _client_class_once(self: Any, service_name: str, service_model: Any) -> type:
    emitter = getattr(self._event_emitter, "_emitter", self._event_emitter)  # under botocore's aliaser
    event = f"creating-client-class.{service_model.service_id.hyphenize()}"
    handlers = tuple(emitter._handlers.prefix_search(event))
    key = (service_name, service_model.api_version, handlers)
    if key not in _CLIENT_CLASSES:
        _CLIENT_CLASSES[key] = _create_client_class(self, service_name, service_model)
    return _CLIENT_CLASSES[key]


botocore.client.ClientCreator._create_client_class = _client_class_once  # type: ignore[attr-defined]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------------------------------------------
# The server process (this file run as a script): moto's own server, lookups made direct or once


def _direct_ec2_lookups() -> None:
    """Two of moto's EC2 lookups made direct; each answers exactly what moto's scan answered.

    - An EC2 resource's tags, read for every instance, session or subnet moto describes, filters or
      creates, were a scan of every tag of every resource in the Region with a regular expression per
      tag: a listing of n tagged resources cost O(n^2), and the shared server, which keeps what every
      module creates, slowed down test by test (the enrolment scale test: ~5 s of moto's CPU in tags
      alone). The scan's filter is the resource's id as an fnmatch pattern, which an id without
      wildcards matches exactly: the resource's own entry is looked up instead.
    - Every instance moto launches looked its image up with a filter on the image id, matched by
      fnmatch against each of moto's images (~10 ms an instance): same reasoning, same lookup.

    And each Region's images are moto's 44 default ones only: on top of them moto loaded ~1,250
    "latest" and ECS-optimised images per Region, each with a snapshot and a volume (~0.2 s of CPU per
    server), that no test launches or lists (the tests launch ami-12c6146b, one of the 44, and an id
    moto has none of); moto skips those lists as it does for a Region it has none for.
    """
    from moto.ec2.models import amis
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

    load_resource = amis.load_resource

    def load_resource_but_latest_images(resource: str) -> Any:
        if resource.startswith(("ec2/resources/latest_amis/", "ec2/resources/ecs/optimized_amis/")):
            raise FileNotFoundError(resource)  # what moto meets for a Region it has no list for
        return load_resource(resource)

    # moto's own classes, changed in moto's server process only.
    TaggedEC2Resource.get_tags = get_tags  # type: ignore[method-assign]
    AmiBackend.describe_images = describe_images_by_id  # type: ignore[method-assign]
    amis.load_resource = load_resource_but_latest_images


def _serializer_keys_once() -> None:
    """The attribute names moto's response serializer tries for a member, listed once instead of per value.

    For every member of every structure it answers (an EC2 instance has ~60, most of them empty), moto
    builds the names a model object might hold the value under (the member's name, its snake_case
    form, aliases from the shape and the object's class) anew: about half of the serializer's time in
    a DescribeInstances. Those names depend on the object's class, the member's shape and that
    shape's parent only, so they are listed once per (class, member, shape) and then tried exactly as
    moto tries them. Objects whose attributes the class does not decide (a `__getattr__`, a `Meta` of
    their own) and pickers with other alias providers still take moto's own path.
    """
    import xmltodict  # type: ignore[import-untyped]
    from moto.core import serialize
    from moto.core.utils import MISSING, get_value

    pick = serialize.AttributePicker.__call__
    class_decides = (object.__getattribute__, dict.__getattribute__)
    names: dict[tuple[Any, ...], tuple[tuple[str, ...], bool, Any, Any]] = {}
    matches: dict[tuple[int, int, str], tuple[str | None, Any]] = {}

    def attributes_decided_by_class(picker: Any, obj: Any) -> bool:
        """Whether the names a member's value may hold follow from the object's class: moto's default
        alias providers, and no `__getattr__` or `Meta` of the object's own to answer otherwise."""
        kind = type(obj)
        return (
            picker.alias_providers is serialize.DEFAULT_ALIAS_PROVIDERS
            and kind.__getattribute__ in class_decides
            and not hasattr(kind, "__getattr__")
            and "Meta" not in getattr(obj, "__dict__", ())
        )

    def pick_by_known_names(self: Any, context: Any) -> Any:
        obj, shape = context.obj, context.shape
        kind = type(obj)
        if not attributes_decided_by_class(self, obj):
            return pick(self, context)
        parent = getattr(shape, "parent", None)
        # Ids, not the shapes (botocore's shapes need not be hashable); the entry keeps both alive.
        key = (type(self), kind, context.key, id(shape), id(parent))
        known = names.get(key)
        if known is None:
            possible = tuple(self.get_possible_keys(context))
            # moto's get_value reads an attribute (getattr) unless the object has items or the name
            # is a dotted path: when neither, member_value reads it directly.
            direct = not hasattr(kind, "__getitem__") and not any("." in name for name in possible)
            known = names[key] = (possible, direct, shape, parent)
        return transformed(self, first_value(obj, known[0], get_value), context.key_path, context.key)

    def first_value(obj: Any, possible: tuple[str, ...], read: Callable[[Any, str, Any], Any]) -> Any:
        """The value of the first of the member's possible names the object has, or None."""
        for name in possible:
            value = read(obj, name, MISSING)
            if value is not MISSING:
                return value
        return None

    def transformed(self: Any, value: Any, parent_path: str, member: str) -> Any:
        transformers = self.response_transformers
        if not transformers:
            return value
        # The first of moto's response transformers whose path ends the member's path, as moto picks
        # it (EC2 has ~20, each compared with every member's path), remembered per path; moto adds
        # transformers as it runs (never removes one), so the count is part of the key.
        key_path = f"{parent_path}.{member}"
        match_key = (id(transformers), len(transformers), key_path)
        match = matches.get(match_key)
        if match is None:
            path = next((path for path in transformers if key_path.endswith(path)), None)
            match = matches[match_key] = (path, transformers)
        return value if match[0] is None else transformers[match[0]](value)

    # The serializer builds a picker's context (with the member's path joined anew) for every member
    # it writes; once a member's names are known, its value is read here without one, as above.
    member_value_of = serialize.ResponseSerializer.get_value

    def member_value(self: Any, obj: Any, key: str, shape: Any) -> Any:
        picker = self._value_picker
        known = names.get((type(picker), type(obj), key, id(shape), id(getattr(shape, "parent", None))))
        if (
            known is None
            or not known[1]
            or type(picker).__call__ is not pick_by_known_names
            or not attributes_decided_by_class(picker, obj)
            or "__getitem__" in getattr(obj, "__dict__", ())
        ):
            return member_value_of(self, obj, key, shape)  # through the picker, as moto does
        value = first_value(obj, known[0], getattr)
        return transformed(picker, value, ".".join(self.path), key) if picker.response_transformers else value

    serialize.AttributePicker.__call__ = pick_by_known_names  # type: ignore[method-assign]
    serialize.ResponseSerializer.get_value = member_value  # type: ignore[method-assign,assignment]

    # xmltodict checks each element's name (a scan of its characters) as it writes the XML answer of a
    # query-protocol service (EC2, Auto Scaling, ...): names are few, elements many, so each name that
    # passed is not checked again. A name that fails raises each time, as before.
    check_name = xmltodict._validate_name
    passed: set[tuple[str, str]] = set()

    def check_name_once(value: Any, kind: str) -> None:
        if isinstance(value, str) and (value, kind) in passed:
            return
        check_name(value, kind)
        if isinstance(value, str):
            passed.add((value, kind))

    xmltodict._validate_name = check_name_once


def prepared_app() -> Any:
    """The application moto's own server command serves, with lookups made direct or made once.

    The EC2 ones (`_direct_ec2_lookups`) once moto has loaded its EC2 models (on the first request of
    a service that needs them: loading them up front would cost a server that never sees EC2 0.5 s);
    the response serializer's (`_serializer_keys_once`) from the start.
    Every request listed moto's package folder (~200 stat calls) to learn whether the request's host
    names a service, and the methods of the service's response class (EC2's: ~1,000 attributes,
    0.4 ms) to learn whether the action is one: neither changes while the server runs, so each is
    listed once. And the Regions of a service, which moto's EC2 models ask a new boto3 session for
    three times as they load (each reading EC2's 2 MB model again: 0.4 s of the 0.9 s they take), come
    from one session, once per question: botocore's endpoint data answer it, the same every time.
    moto's own loader of service models is made once, too.
    """
    regions_of = boto3.session.Session.get_available_regions
    one_session = boto3.session.Session(botocore_session=loading_session())

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
    import moto.core.utils

    # moto reads each service's model and paginators through a new botocore loader, which first lists
    # botocore's and moto's data folders (~400 services, a stat each: ~15 ms a service); one loader
    # for the process lists them once (what it reads is cached by moto anyway, per service).
    moto.core.utils.create_loader = functools.cache(moto.core.utils.create_loader)

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
    _serializer_keys_once()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    # As moto's own server main() builds it.
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # type: ignore[attr-defined]
    return app


def serve(port: int) -> None:
    """moto's server on 127.0.0.1:`port` until killed (where no zygote can fork one)."""
    os.environ.setdefault("MOTO_PORT", str(port))  # as moto's main() does
    from moto.server import MotoRequestHandler
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", port, prepared_app(), threaded=True, request_handler=MotoRequestHandler)


# ---------------------------------------------------------------------------------------------------
# The zygote: one process per test session that prepares moto once and forks a server per request

# What a server answers first in nearly every test module; answered once in the zygote, so each server
# forked from it has imported the EC2 and IAM models, built their request routing and made the Region's
# EC2 backend (default VPC, subnets, images) exactly as a new server does on its first such call.
_WARM_UP = (("ec2", "Action=DescribeVpcs&Version=2016-11-15"), ("iam", "Action=ListUsers&Version=2010-05-08"))


def _warm(app: Any) -> None:
    import werkzeug.test

    client = werkzeug.test.Client(app)
    for service, body in _WARM_UP:
        scope = f"testing/20260101/{REGION}/{service}/aws4_request"
        headers = {
            "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        response = client.post("/", data=body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"moto's warm-up {service} call answered {response.status}")


def zygote_address(owner: int) -> str:
    """The zygote's socket, in Linux's abstract namespace (no file to leave behind), named after the
    test session's main process: its xdist workers share the one zygote."""
    return f"\0wallarm-mirror-moto-{owner}"


def session_owner() -> int:
    """The test session's main process: the xdist controller for a worker, else this process."""
    return os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid()


def zygote(address: str, owner: int) -> None:
    """Fork a moto server for each connection until `owner` ends. A connection sends the server's log
    path and a newline; the server answers "PID PORT" once it listens, and ends when the connection
    closes (the test process that asked is done with it, or gone)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(address)
    except OSError:
        return  # another test process of the session started one first; both use that one
    listener.listen(16)  # connections wait here while moto is prepared
    app = prepared_app()
    _warm(app)
    # Each server is reaped as it ends (waited for, not left to the kernel, so that its CPU time counts
    # in this process's children's and so in what bench/run.py measures of the suite).
    signal.signal(signal.SIGCHLD, lambda *_: _reap())
    while _running(owner):
        if not select.select([listener], [], [], 1.0)[0]:
            continue
        conn, _ = listener.accept()
        with conn:
            _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            if uid != os.getuid():
                continue  # only the session's own user may start servers (and name their logs)
            conn.settimeout(10)
            log_path = conn.makefile("rb").readline().decode().strip()
            conn.settimeout(None)
            if log_path and os.fork() == 0:
                listener.close()
                _serve_forked(app, conn, log_path)
    # The session is over: its servers end as their test processes' connections close.
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    deadline = time.monotonic() + 5
    with contextlib.suppress(ChildProcessError):  # none left
        while time.monotonic() < deadline:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.05)


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _running(pid: int) -> bool:
    """Whether process `pid` exists (one of another user's counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _serve_forked(app: Any, conn: socket.socket, log_path: str) -> None:
    """The forked server: logs to `log_path`, listens on a port the kernel picks, says which, serves."""
    status = 0
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        from moto.server import MotoRequestHandler
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
        os.environ["MOTO_PORT"] = str(server.port)  # as moto's main() does
        conn.sendall(f"{os.getpid()} {server.port}\n".encode())
        # Ends this server when the test process closes the connection or dies.
        threading.Thread(target=lambda: (conn.recv(1), os._exit(0)), daemon=True).start()
        server.serve_forever()
    except BaseException:
        status = 1
        import traceback

        traceback.print_exc()
    finally:
        os._exit(status)


def _zygote_connection(log_path: Path) -> socket.socket:
    """A connection to the session's zygote, started (in a session of its own, so that it outlives
    the test process that started it while others use it) if none answers."""
    owner = session_owner()
    address = zygote_address(owner)
    started: subprocess.Popen[bytes] | None = None
    deadline = time.monotonic() + 60
    while True:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(address)
            return conn
        except (ConnectionRefusedError, FileNotFoundError):
            conn.close()
        if started is None:
            with log_path.with_name("moto-zygote.log").open("ab") as log:
                started = subprocess.Popen(
                    [sys.executable, __file__, "--zygote", str(owner)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
        elif started.poll() not in (None, 0) or time.monotonic() > deadline:
            raise RuntimeError(f"the moto zygote did not start; see {log_path.with_name('moto-zygote.log')}")
        time.sleep(0.01)


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: if pytest itself is killed, moto must not outlive it.
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


class MotoServer:
    """moto's server in a process of its own (forked by the session's zygote on Linux, else `serve`) on
    a free loopback port, stopped on exit."""

    def __init__(self, log_path: Path) -> None:
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._forked: tuple[socket.socket, int] | None = None  # the connection to it, and its pid
        self.endpoint = ""
        self._keys = ("testing", "testing")
        self._session: Any = None
        self.admin_arn = ""

    def __enter__(self) -> MotoServer:
        if sys.platform == "linux":
            conn = _zygote_connection(self._log_path)
            try:
                conn.sendall(f"{self._log_path}\n".encode())
                conn.settimeout(60)
                reply = conn.makefile("rb").readline().decode().split()
                conn.settimeout(None)
            except BaseException:
                conn.close()
                raise
            if len(reply) != 2:
                conn.close()
                raise RuntimeError(f"moto server did not start; see {self._log_path}")
            self._forked = (conn, int(reply[0]))
            self.endpoint = f"http://127.0.0.1:{reply[1]}"
            return self
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
        if self._forked is not None:
            conn, pid = self._forked
            self._forked = None
            conn.close()  # the server ends when it sees the connection closed; killed to end it now
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            # Not a child of this process, so not waited for: gone once it no longer runs (the zygote
            # reaps its servers as they end).
            deadline = time.monotonic() + 10
            while _running(pid) and time.monotonic() < deadline:
                time.sleep(0.002)
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
            self._session = boto3.session.Session(botocore_session=loading_session())
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
    if sys.argv[1] == "--zygote":
        zygote(zygote_address(int(sys.argv[2])), int(sys.argv[2]))
    else:
        serve(int(sys.argv[1]))
