"""EC2's API throttling in front of moto, and a clock that skips waits: the enrolment function at
fleet scale without AWS and without hours of wall time. Used by the suite and by
bench/enrolment_scale.py.

- `ThrottlingProxy`: an HTTP proxy on 127.0.0.1 in front of moto server. Per EC2 API it keeps the
  token bucket AWS documents ("Request throttling for the Amazon EC2 API": mutating actions 50,
  refilled 5 a second; non-mutating 100/20; DescribeInstances and DescribeNetworkInterfaces without
  a filter or pagination 50/10) and answers `RequestLimitExceeded` (HTTP 503, EC2's XML error body)
  when the bucket is empty, as EC2 does. It counts calls and throttled calls per API.
- `SimClock`: wall time plus the waits it was asked to skip. Time that really passes (moto's work,
  botocore's backoff between retries) counts; a wait for a token only moves the clock. The proxy's
  buckets and the function's pace, deadline and idempotency hour all read it.
- `FakeContext`: Lambda's context with `get_remaining_time_in_millis` on that clock.
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import io
import math
import socket
import threading
import time
import types
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import botocore.endpoint
from botocore.config import Config

from tests.node.boot.moto_server import loading_session
from wallarm_mirror.traffic_mirror.enrolment import CLIENT_CONFIG

REGION = "eu-west-1"

# (bucket maximum capacity, refill a second), from the EC2 throttling page (read 2026-12-07).
MUTATING = (50.0, 5.0)
NON_MUTATING = (100.0, 20.0)
UNFILTERED = (50.0, 10.0)
UNFILTERED_APIS = frozenset({"DescribeInstances", "DescribeNetworkInterfaces"})
# Uncategorized actions the tests' own setup uses (RunInstances' request bucket is 5/2; setup goes
# to moto directly, so these only matter if something sends them through the proxy).
OWN_BUCKETS = {"RunInstances": (5.0, 2.0), "TerminateInstances": (100.0, 5.0), "CreateTags": (100.0, 10.0)}
NON_MUTATING_PREFIXES = ("Describe", "List", "Search", "Get")
# What one call costs on the simulated clock, in seconds: EC2's latency, assumed (not measured here):
# a page of up to 200 instances or sessions 1 s, a create or delete 0.2 s.
LATENCY = {"describe": 1.0, "mutate": 0.2}
# moto pages DescribeInstances by reservation (200 reservations a page, however many instances they
# hold) and answers DescribeTrafficMirrorSessions in one page. An answer with more items than EC2
# puts in a page of 200 is counted (calls, tokens, latency) as the pages EC2 would have needed.
EC2_PAGE = 200
ITEM_MARKERS = {"DescribeInstances": b"<instanceType>", "DescribeTrafficMirrorSessions": b"<trafficMirrorSessionId>"}

ERROR_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
    "</Error></Errors><RequestID>{request}</RequestID></Response>"
)


class SimClock:
    """Simulated time (thread-safe): it starts at the wall time and moves only by `sleep`, so waits
    are skipped and moto's own speed (slow, and slower on a loaded machine) does not count; the
    proxy charges each call a modelled EC2 latency instead (`LATENCY`)."""

    def __init__(self) -> None:
        self._start = time.time()
        self._skipped = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._start + self._skipped

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._skipped += max(0.0, seconds)


@contextlib.contextmanager
def skipped_backoff(clock: SimClock) -> Iterator[None]:
    """botocore's waits between retries move the simulated clock instead of passing in real time.

    botocore's endpoint is its only caller of time.sleep (the retry backoff); the attempts, their
    count and their backoff amounts stay botocore's own.
    """
    endpoint: Any = botocore.endpoint  # its `time` is not in the stubs
    saved = endpoint.time
    endpoint.time = types.SimpleNamespace(sleep=clock.sleep)
    try:
        yield
    finally:
        endpoint.time = saved


@dataclass
class FakeContext:
    """The one method of Lambda's context the function reads, on the simulated clock."""

    clock: SimClock
    deadline: float

    @classmethod
    def starting_now(cls, clock: SimClock, timeout_s: float) -> FakeContext:
        return cls(clock, clock() + timeout_s)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock()) * 1000))


def bucket_of(action: str, params: dict[str, list[str]]) -> tuple[str, tuple[float, float]]:
    """The name and (capacity, refill) of the EC2 bucket a request draws from."""
    if action in OWN_BUCKETS:
        return action, OWN_BUCKETS[action]
    if action.startswith(NON_MUTATING_PREFIXES):
        filtered = any(key.startswith(("Filter.", "MaxResults", "NextToken")) for key in params)
        if action in UNFILTERED_APIS and not filtered:
            return f"{action} (unfiltered)", UNFILTERED
        return action, NON_MUTATING
    return action, MUTATING


class _Bucket:
    def __init__(self, capacity: float, refill: float, clock: SimClock) -> None:
        self.capacity, self.refill, self.clock = capacity, refill, clock
        self.tokens = capacity
        self.stamp = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.stamp) * self.refill)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class ThrottlingProxy:
    """EC2's per-API token buckets in front of moto server (127.0.0.1 only); a context manager."""

    def __init__(
        self, upstream: str, clock: SimClock, others: dict[str, float] | None = None, region: str = REGION
    ) -> None:
        """`others`: calls a second other callers in the account make to an API (they use its refill);
        `region`: the Region of `client()` (moto keeps each Region's resources apart)."""
        self.upstream = urllib.parse.urlsplit(upstream)
        self.region = region
        self.clock = clock
        self.others = others or {}
        self.calls: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="throttling-proxy", daemon=True)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ThrottlingProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()
            self.throttled.clear()

    def client(self) -> Any:
        """An EC2 client through the proxy, configured as the deployed function's is, except for the
        read timeout: moto takes seconds of real time for a page that EC2 answers in one (the
        simulated clock charges LATENCY instead), and a timeout would be moto's, not EC2's."""
        config = {**copy.deepcopy(CLIENT_CONFIG), "read_timeout": 300}  # botocore rewrites retries
        # EC2's model read once per process, not per client.
        session: Any = boto3.session.Session(botocore_session=loading_session())
        return session.client(
            "ec2",
            region_name=self.region,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(**config),
        )

    def admit(self, action: str, params: dict[str, list[str]]) -> bool:
        name, (capacity, refill) = bucket_of(action, params)
        with self._lock:
            self.calls[action] += 1
            bucket = self._buckets.get(name)
            if bucket is None:
                refill = max(0.0, refill - self.others.get(action, 0.0))
                bucket = self._buckets[name] = _Bucket(capacity, refill, self.clock)
            if bucket.take():
                return True
            self.throttled[action] += 1
            return False

    def more_pages(self, action: str, params: dict[str, list[str]], extra: int) -> None:
        """Charge `extra` further pages of one answer as EC2 would have: calls, tokens and latency."""
        if extra <= 0:
            return
        name, _ = bucket_of(action, params)
        with self._lock:
            self.calls[action] += extra
            self._buckets[name].tokens -= extra
        self.clock.sleep(LATENCY["describe"] * extra)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:  # quiet
                pass

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes: without this, Nagle's algorithm and the
                # client's delayed ACK add ~40 ms to every call.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                params = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
                action = (params.get("Action") or ["?"])[0]
                describe = action.startswith(NON_MUTATING_PREFIXES)
                proxy.clock.sleep(LATENCY["describe" if describe else "mutate"])
                if not proxy.admit(action, params):
                    self._answer(503, ERROR_BODY.format(request=uuid.uuid4()).encode(), "text/xml")
                    return
                upstream = http.client.HTTPConnection(proxy.upstream.hostname or "127.0.0.1", proxy.upstream.port)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                    upstream.request("POST", self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    payload = response.read()
                    marker = ITEM_MARKERS.get(action)
                    if marker and response.status == 200:
                        proxy.more_pages(action, params, math.ceil(payload.count(marker) / EC2_PAGE) - 1)
                    self._answer(response.status, payload, response.getheader("Content-Type") or "text/xml")
                finally:
                    upstream.close()

            def _answer(self, status: int, payload: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


# ---------------------------------------------------------------------------------------------------
# A fleet and the scheduled reconcile until it converges

SCHEDULE = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
NLB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/wallarm/0123456789abcdef"
IMAGE_ID = "ami-0123456789abcdef0"


@dataclass
class RunResult:
    """One invocation of the function as the simulation saw it."""

    seconds: float  # simulated: from the invocation's start to its return
    timeout: float
    calls: Counter[str]
    throttled: Counter[str]
    created: int
    deleted: int
    deferred: int
    reasons: Counter[str]  # deferred entries by reason
    pending: int | None
    raised: str | None  # the exception the invocation ended with, if any
    metric_line: str  # what it printed for the metric filters

    @property
    def deadline_held(self) -> bool:
        return self.seconds <= self.timeout


def estate(ec2: Any, run_id: str) -> Any:
    """A subnet, target and filter in moto; the function's settings for them (a fresh tag value)."""
    from wallarm_mirror.traffic_mirror.enrolment import Settings

    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/17")["Subnet"]["SubnetId"]
    target = ec2.create_traffic_mirror_target(NetworkLoadBalancerArn=NLB_ARN)["TrafficMirrorTarget"]
    mirror_filter = ec2.create_traffic_mirror_filter(Description="wallarm")["TrafficMirrorFilter"]
    settings = Settings(
        target_id=target["TrafficMirrorTargetId"],
        filter_id=mirror_filter["TrafficMirrorFilterId"],
        vni=4242,
        session_number=1,
        source_tags={"app": f"web-{run_id}", "mirror": "wallarm"},
        stack=f"scale-{run_id}",
        managed_tag_key="wallarm-mirror:managed-by",
        managed_tag_value=f"wallarm-mirror/scale-{run_id}",
        description=f"Wallarm mirror of stack scale-{run_id}",
    )
    return subnet, settings


def launch(ec2: Any, subnet: str, tags: dict[str, str], count: int, chunk: int = 500) -> list[str]:
    """`count` tagged m5.large instances, straight to moto (not through the proxy); their ids."""
    return [instance["InstanceId"] for instance in launch_instances(ec2, subnet, tags, count, chunk)]


def launch_instances(ec2: Any, subnet: str, tags: dict[str, str], count: int, chunk: int = 500) -> list[dict[str, Any]]:
    """`launch`, returning what RunInstances answered for each instance (its network interfaces too)."""
    instances: list[dict[str, Any]] = []
    while len(instances) < count:
        n = min(chunk, count - len(instances))
        reservation = ec2.run_instances(
            ImageId=IMAGE_ID,
            MinCount=n,
            MaxCount=n,
            InstanceType="m5.large",
            SubnetId=subnet,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
        )
        instances += reservation["Instances"]
    return instances


def invoke(event: dict[str, Any], settings: Any, proxy: ThrottlingProxy, client: Any, timeout: float) -> RunResult:
    """One invocation of the deployed handler code through the proxy, with a deadline `timeout` away."""
    from wallarm_mirror.traffic_mirror.enrolment import EnrolmentFailed, lambda_remaining, run

    clock = proxy.clock
    proxy.reset_counts()
    context = FakeContext.starting_now(clock, timeout)
    start = clock()
    raised: str | None = None
    printed = io.StringIO()  # the function's metric line, kept rather than printed
    try:
        with contextlib.redirect_stdout(printed):
            summary = run(event, settings, client, clock=clock, sleep=clock.sleep, remaining=lambda_remaining(context))
    except EnrolmentFailed as error:
        summary, raised = error.summary, f"EnrolmentFailed: {error}"
    except Exception as error:  # a simulation reports what a real run would have raised
        summary, raised = {}, f"{type(error).__name__}: {error}"
    return RunResult(
        seconds=clock() - start,
        timeout=timeout,
        calls=Counter(proxy.calls),
        throttled=Counter(proxy.throttled),
        created=len(summary.get("created", [])),
        deleted=len(summary.get("deleted", [])),
        deferred=len(summary.get("deferred", [])),
        reasons=Counter(entry["reason"] for entry in summary.get("deferred", [])),
        pending=summary.get("pending"),
        raised=raised,
        metric_line=printed.getvalue().strip(),
    )


def converge(
    settings: Any,
    proxy: ThrottlingProxy,
    timeout: float,
    every: float = 300.0,
    most: int = 40,
    each: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Scheduled reconciles (one each `every` simulated seconds) until one leaves nothing pending;
    `each` sees every run as it ends."""
    client = proxy.client()
    runs: list[RunResult] = []
    while len(runs) < most:
        result = invoke(SCHEDULE, settings, proxy, client, timeout)
        runs.append(result)
        if each is not None:
            each(result)
        if result.raised is None and result.pending == 0 and result.deferred == 0:
            break
        proxy.clock.sleep(max(0.0, every - result.seconds))
    return runs


def sessions_per_eni(ec2: Any, settings: Any) -> Counter[str]:
    """How many sessions of this stack each ENI carries (read from moto directly)."""
    per_eni: Counter[str] = Counter()
    for session in ec2.describe_traffic_mirror_sessions()["TrafficMirrorSessions"]:
        tags = {t["Key"]: t["Value"] for t in session.get("Tags", [])}
        if tags.get(settings.managed_tag_key) == settings.managed_tag_value:
            per_eni[session["NetworkInterfaceId"]] += 1
    return per_eni


def duplicates(ec2: Any, settings: Any) -> dict[str, int]:
    """ENIs with more than one session of this stack (read from moto directly)."""
    return {eni: n for eni, n in sessions_per_eni(ec2, settings).items() if n > 1}


def sessions_of(ec2: Any, settings: Any) -> set[str]:
    """The ENIs that carry a session of this stack."""
    return set(sessions_per_eni(ec2, settings))
