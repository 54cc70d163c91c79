"""Run the real program under Pulumi's mock engine: no AWS account, no Pulumi CLI.

The offline plan and the test suite share this: it records every registered resource with its
inputs (wire names, secrets still wrapped), every invoke, the log, and the stack outputs. Values
AWS would compute (ARNs, DNS names, the AMI found, the VPC's ranges) are stand-ins from
`OfflineFacts`, so the plan shows the shape of a deployment, not a diff against real state.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import dataclasses
import gc
import hashlib
import ipaddress
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc
from pulumi.runtime.proto import source_pb2

from ..config import NAMESPACE
from .sdk_speedups import (
    acyclic_unknowns_check,
    cheaper_output_tracking,
    memoized_config_env_keys,
    memoized_type_hints,
    quiet_mock_debug_lines,
)

SECRET_SHOWN = "[secret]"
# The region of a run whose config names none (a test's bare program run): the offline plan of a
# stack file refuses a file without aws:region, so a plan never falls back to it.
DEFAULT_REGION = "eu-west-1"
# Directions as AWS abbreviates them in availability zone ids (eu-central-1 -> euc1-az1).
_ZONE_ID_WORDS = {
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "central": "c",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "gov": "g",
}


def zone_id_prefix(region: str) -> str:
    """The prefix of a region's availability zone ids: eu-west-1 -> euw1, ap-southeast-2 -> apse2."""
    first, *words, number = region.split("-")
    return first + "".join(_ZONE_ID_WORDS.get(word, word[:1]) for word in words) + number


@dataclass(frozen=True)
class OfflineFacts:
    """Stand-ins for what AWS answers at deploy time."""

    # None: the stack's own aws:region (run_offline fills it in), so every ARN, DNS name and zone
    # of a plan is in the region the stack deploys to.
    region: str | None = None
    account: str = "111111111111"
    ami_id: str = "ami-0a1b2c3d4e5f60718"
    ami_name: str = "wallarm-node-6-13-0-20260729-094623"
    ami_root_device: str = "/dev/xvda"
    vpc_cidrs: tuple[str, ...] = ("10.0.0.0/16",)
    vpc_ipv6_cidrs: tuple[str, ...] = ()
    # "": a hosted zone id made up for the region (ZOFFLINEEUC1), since a real one (eu-west-1's
    # Z32O12XQLNTSW2 before) would look right in a Route 53 alias of another region.
    alb_zone_id: str = ""
    # What a StackReference reads: outputs by stack name ('org/project/stack'). A stack not listed
    # answers with `network_outputs`, a network stack of the common shape (vpcId, privateSubnetIds).
    stack_outputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    network_outputs: Mapping[str, Any] = field(
        default_factory=lambda: {
            "vpcId": "vpc-0f1e2d3c4b5a69788",
            "privateSubnetIds": ["subnet-0f1e2d3c4b5a69781", "subnet-0f1e2d3c4b5a69782"],
            "publicSubnetIds": ["subnet-0f1e2d3c4b5a69783", "subnet-0f1e2d3c4b5a69784"],
        }
    )

    def ami_for(self, name_pattern: str) -> tuple[str, str]:
        """The stand-in image found for a name filter: `ami_id` for the default node version, and a
        stable id of its own for any other, so a version change shows as a new image in plan diffs."""
        if not name_pattern or self.ami_name.startswith(name_pattern.rstrip("*")):
            return self.ami_id, self.ami_name
        digest = hashlib.sha256(name_pattern.encode()).hexdigest()
        return f"ami-0{digest[:16]}", name_pattern.replace("*", "0-20260729-094623")


@dataclass(frozen=True)
class Recorded:
    """One resource the program registered, as the engine received it."""

    typ: str
    name: str
    inputs: dict[str, Any]
    custom: bool
    parent: str

    @property
    def kind(self) -> str:
        """'aws:lb/loadBalancer:LoadBalancer' -> 'LoadBalancer'."""
        return self.typ.rsplit(":", 1)[-1]


class RecordingMocks(pulumi.runtime.Mocks):
    """Records resources and invokes; answers invokes and computed outputs from OfflineFacts."""

    def __init__(self, facts: OfflineFacts | None = None) -> None:
        facts = facts or OfflineFacts()
        self.facts = facts if facts.region else dataclasses.replace(facts, region=DEFAULT_REGION)
        self.resources: list[Recorded] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.parents: dict[tuple[str, str], str] = {}
        self.ids: dict[tuple[str, str], str] = {}
        self.states: dict[tuple[str, str], dict[str, Any]] = {}
        # Resource options by (type, name), noted by the monitor: new_resource sees the inputs only.
        self.options: dict[tuple[str, str], dict[str, Any]] = {}
        # The aliases each resource asked for, by (type, name), as the engine received them.
        self.aliases: dict[tuple[str, str], list[dict[str, Any]]] = {}
        # new_resource runs on worker threads.
        self._lock = threading.Lock()

    def _subnet(self, subnet_id: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str, str]:
        """A stand-in subnet's range (a /24 of the VPC's first range, stable per id), zone name and zone ID.

        The zone is the id's last hex digit modulo 3 (...1 -> a/az1, ...2 -> b/az2, ...3 -> c/az3), so
        subnets numbered in order sit in different zones, as an NLB's subnets must.
        """
        network = ipaddress.ip_network(self.facts.vpc_cidrs[0])
        index = int(hashlib.sha256(subnet_id.encode()).hexdigest(), 16) % 2 ** (24 - network.prefixlen)
        cidr = list(network.subnets(new_prefix=24))[index]
        last = int(subnet_id[-1], 16) if subnet_id[-1:] in "0123456789abcdef" and subnet_id else 0
        zone = (last - 1) % 3
        region = str(self.facts.region)
        return cidr, f"{region}{'abc'[zone]}", f"{zone_id_prefix(region)}-az{zone + 1}"

    def _arn(self, service: str, resource: str, region: bool = True) -> str:
        where = self.facts.region if region else ""
        return f"arn:aws:{service}:{where}:{self.facts.account}:{resource}"

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        parent = self.parents.get((args.typ, args.name), "")
        with self._lock:
            self.resources.append(Recorded(args.typ, args.name, dict(args.inputs), bool(args.custom), parent))
        outputs = dict(args.inputs)
        name = args.inputs.get("name") or args.name
        resource_id = f"{args.name}-id"
        typ = args.typ
        if typ == "aws:lb/loadBalancer:LoadBalancer":
            kind = "net" if args.inputs.get("loadBalancerType") == "network" else "app"
            # Shaped as AWS names each type (ELB API reference, DNSName examples): an ALB's region comes
            # before "elb", an NLB's after it; the host mirroring script reads the region from it.
            if kind == "net":
                outputs["dnsName"] = f"{args.name}-0123456789abcdef.elb.{self.facts.region}.amazonaws.com"
            else:
                outputs["dnsName"] = f"internal-{args.name}-1234567890.{self.facts.region}.elb.amazonaws.com"
            outputs["zoneId"] = self.facts.alb_zone_id or f"ZOFFLINE{zone_id_prefix(str(self.facts.region)).upper()}"
            outputs["arnSuffix"] = f"{kind}/{args.name}/0123456789abcdef"
            outputs["arn"] = self._arn("elasticloadbalancing", f"loadbalancer/{outputs['arnSuffix']}")
        elif typ == "aws:lb/targetGroup:TargetGroup":
            outputs["arnSuffix"] = f"targetgroup/{args.name}/0123456789abcdef"
            outputs["arn"] = self._arn("elasticloadbalancing", outputs["arnSuffix"])
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            resource_id = "lt-0123456789abcdef0"
            outputs["latestVersion"] = 1
        elif typ == "aws:ec2/securityGroup:SecurityGroup":
            resource_id = "sg-" + hashlib.sha256(args.name.encode()).hexdigest()[:17]
        elif typ in ("aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/networkInterface:NetworkInterface"):
            # A program that builds its network (examples/new-vpc-python) passes these ids on.
            prefix = {"Vpc": "vpc", "Subnet": "subnet", "NetworkInterface": "eni"}[typ.rsplit(":", 1)[1]]
            resource_id = f"{prefix}-" + hashlib.sha256(args.name.encode()).hexdigest()[:17]
        elif typ == "aws:secretsmanager/secret:Secret":
            resource_id = self._arn("secretsmanager", f"secret:{args.name}-AbCdEf")
            outputs["arn"] = resource_id
        elif typ == "aws:ssm/parameter:Parameter":
            outputs["arn"] = self._arn("ssm", f"parameter{name}")
        elif typ == "aws:s3/bucket:Bucket":
            resource_id = f"{args.name}-0123456789"
            outputs["bucket"] = resource_id
            outputs["arn"] = f"arn:aws:s3:::{resource_id}"
        elif typ.startswith("aws:ec2/trafficMirror"):
            prefix = {"Target": "tmt", "Filter": "tmf", "Session": "tms", "FilterRule": "tmfr"}[
                typ.rsplit("Mirror", 1)[1]
            ]
            resource_id = f"{prefix}-" + hashlib.sha256(args.name.encode()).hexdigest()[:17]
            # As AWS names them (Service Authorization Reference, Amazon EC2 resource types):
            # arn:aws:ec2:<region>:<account>:traffic-mirror-target/tmt-...
            kind = {"tmt": "target", "tmf": "filter", "tms": "session", "tmfr": "filter-rule"}[prefix]
            outputs["arn"] = self._arn("ec2", f"traffic-mirror-{kind}/{resource_id}")
        elif typ == "aws:lambda/function:Function":
            outputs["arn"] = self._arn("lambda", f"function:{name}")
            outputs["name"] = name
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            outputs["arn"] = self._arn("logs", f"log-group:{name}")
        elif typ == "aws:sqs/queue:Queue":
            outputs["arn"] = self._arn("sqs", args.name)
        elif typ == "aws:cloudwatch/eventRule:EventRule":
            outputs["arn"] = self._arn("events", f"rule/{name}")
            outputs["name"] = name
        elif typ == "aws:sns/topic:Topic":
            outputs["arn"] = self._arn("sns", args.name)
        elif typ == "aws:kms/key:Key":
            # A user's program may create the key that encrypts the token: its ARN is shaped as AWS's.
            digest = hashlib.sha256(args.name.encode()).hexdigest()
            resource_id = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
            outputs["arn"] = self._arn("kms", f"key/{resource_id}")
            outputs["keyId"] = resource_id
        elif typ == "aws:ram/resourceShare:ResourceShare":
            # RAM names a share by a UUID (RAM API reference, ResourceShare.resourceShareArn).
            digest = hashlib.sha256(args.name.encode()).hexdigest()
            uuid = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
            resource_id = self._arn("ram", f"resource-share/{uuid}")
            outputs["arn"] = resource_id
        elif typ == "aws:cloudwatch/dashboard:Dashboard":
            outputs["dashboardArn"] = self._arn("cloudwatch", f"dashboard/{args.inputs['dashboardName']}", region=False)
        elif typ == "pulumi:pulumi:StackReference":
            # The engine answers a StackReference with the other stack's outputs; its id is the stack's name.
            resource_id = args.inputs["name"]
            stack_outputs = self.facts.stack_outputs.get(resource_id, self.facts.network_outputs)
            outputs["outputs"] = dict(stack_outputs)
            outputs["secretOutputNames"] = []
        elif typ.startswith("aws:iam/"):
            outputs["arn"] = self._arn("iam", f"{typ.rsplit(':', 1)[-1].lower()}/{name}", region=False)
            outputs["name"] = name
        else:
            outputs.setdefault("arn", self._arn(typ.split(":")[1].split("/")[0], f"{args.name}"))
        if typ == "aws:autoscaling/group:Group":
            outputs["name"] = name
        with self._lock:
            self.ids[(typ, args.name)] = resource_id
            self.states[(typ, args.name)] = outputs
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        """The invoke's result, and no check failures (the shape pulumi.runtime.Mocks declares).

        An empty list, not None: Pulumi 3.272's MockMonitor iterates the failures of a tuple (None
        would crash every invoke), although its type allows None.
        """
        with self._lock:
            self.calls.append((args.token, dict(args.args)))
        return self._answer(args), []

    def _answer(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        facts = self.facts
        if args.token == "aws:ec2/getAmi:getAmi":
            filters = {f.get("name"): f["values"][0] for f in args.args.get("filters", [])}
            ami, name = facts.ami_for(filters.get("name", ""))
            ami = filters.get("image-id", ami)
            return {
                "id": ami,
                "imageId": ami,
                "name": name,
                "architecture": filters.get("architecture", "x86_64"),
                "rootDeviceName": facts.ami_root_device,
            }
        if args.token == "aws:ec2/getVpc:getVpc":
            vpc_id = args.args["id"]
            return {
                "id": vpc_id,
                "arn": self._arn("ec2", f"vpc/{vpc_id}"),
                "cidrBlock": facts.vpc_cidrs[0],
                "cidrBlockAssociations": [
                    {"associationId": f"vpc-cidr-assoc-{i}", "cidrBlock": c, "state": "associated"}
                    for i, c in enumerate(facts.vpc_cidrs)
                ],
                "ipv6CidrBlockAssociations": [
                    {
                        "associationId": f"vpc-cidr-assoc-v6-{i}",
                        "ipv6CidrBlock": c,
                        "ipSource": "amazon",
                        "ipv6AddressAttribute": "public",
                        "ipv6Pool": "Amazon",
                        "networkBorderGroup": facts.region,
                        "state": "associated",
                    }
                    for i, c in enumerate(facts.vpc_ipv6_cidrs)
                ],
            }
        if args.token == "aws:ec2/getSubnet:getSubnet":
            subnet_id = args.args["id"]
            cidr, zone, zone_id = self._subnet(subnet_id)
            return {
                "id": subnet_id,
                "cidrBlock": str(cidr),
                "vpcId": "vpc-offline",
                "arn": self._arn("ec2", f"subnet/{subnet_id}"),
                "availabilityZone": zone,
                "availabilityZoneId": zone_id,
            }
        if args.token == "aws:ec2/getNetworkInterface:getNetworkInterface":
            # The NLB node's interface in one subnet (components/network_load_balancer.py asks by its
            # description and subnet): an address of that subnet, stable per load balancer and subnet.
            filters = {f.get("name"): f["values"][0] for f in args.args.get("filters", [])}
            subnet_id = filters.get("subnet-id")
            description = filters.get("description", "")
            if subnet_id is None:
                raise NotImplementedError("no offline answer for getNetworkInterface without a subnet-id filter")
            cidr, zone, _ = self._subnet(subnet_id)
            digest = int(hashlib.sha256(f"{description} {subnet_id}".encode()).hexdigest(), 16)
            # AWS reserves the first four addresses of a subnet and the last one.
            address = cidr.network_address + 4 + digest % (cidr.num_addresses - 5)
            eni = "eni-" + hashlib.sha256(f"{description} {subnet_id}".encode()).hexdigest()[:17]
            return {
                "id": eni,
                "arn": self._arn("ec2", f"network-interface/{eni}"),
                "description": description,
                "interfaceType": "network_load_balancer",
                "privateIp": str(address),
                "privateIps": [str(address)],
                "availabilityZone": zone,
                "subnetId": subnet_id,
                "vpcId": "vpc-offline",
                "ownerId": facts.account,
            }
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            # The deploying identity's account: the stand-in account, like every ARN of the plan.
            return {
                "id": facts.account,
                "accountId": facts.account,
                "arn": f"arn:aws:iam::{facts.account}:user/offline",
                "userId": "AIDAOFFLINEOFFLINE0000",
            }
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            # A program that builds its own subnets (examples/new-vpc-python) spreads them over these.
            names = [f"{facts.region}{letter}" for letter in "abc"]
            return {
                "id": facts.region,
                "names": names,
                "zoneIds": [f"{zone_id_prefix(str(facts.region))}-az{i}" for i in (1, 2, 3)],
            }
        if args.token == "aws:index/getRegion:getRegion":
            return {
                "id": facts.region,
                "region": facts.region,
                "name": facts.region,
                "description": str(facts.region),
                "endpoint": f"ec2.{facts.region}.amazonaws.com",
            }
        # An invoke without a stand-in must fail loudly, not answer with nothing.
        raise NotImplementedError(f"no offline answer for invoke {args.token}")


# The mock engine gives the main thread and each worker thread an event loop and never closes
# them; worker threads outlive a run, so their loops must stay open until the process ends. Left
# to interpreter shutdown, a half-finalized loop prints "Exception ignored in BaseEventLoop.__del__".
_EVENT_LOOPS: set[asyncio.AbstractEventLoop] = set()


def _keep_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Note a loop the engine runs on, and give it the handler that drops a failed run's leftovers
    and the executor that makes the mock monitor's calls where they are asked for."""
    if loop not in _EVENT_LOOPS:
        _EVENT_LOOPS.add(loop)
        if loop.get_exception_handler() is None:
            loop.set_exception_handler(_drop_unretrieved_failures)
        loop.set_default_executor(_InlineExecutor(loop))


class _InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs what the SDK hands the loop's default executor at once, in the loop's thread.

    The SDK sends each monitor call (register a resource, an invoke, its outputs) through
    run_in_executor, built for a gRPC call to the engine that blocks. Under the mock engine the
    monitor is a plain Python object answering at once: a thread hand-off per call cost more than
    the call (~10% of a plan's CPU: 67 -> 61 ms for the prod stack). Plans are byte-identical.

    Called by its own running loop, it answers with that loop's future, which run_in_executor
    passes on as it is (asyncio.wrap_future). A thread's future would be chained to one: a
    threading.Condition, three closures, and a wake-up written to the loop's self-pipe and read
    back, a system call each way, to hand over an answer already in this thread. The answer is
    still set at the loop's next turn, as the chained one's was, so tasks run in the same order.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        result: Any = None
        failure: BaseException | None = None
        try:
            result = fn(*args, **kwargs)
        except BaseException as error:  # the caller's await raises it, as from a thread
            failure = error
        if not self._called_by_its_loop():  # a thread's future, done, as before
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()
            _settle(future, result, failure)
            return future
        answer = self._loop.create_future()
        self._loop.call_soon(_settle, answer, result, failure)
        return answer  # type: ignore[return-value]  # wrap_future passes an asyncio future on

    def _called_by_its_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:  # no loop running in this thread
            return False


def _settle(
    future: asyncio.Future[Any] | concurrent.futures.Future[Any], result: Any, failure: BaseException | None
) -> None:
    """Set an executor call's answer, unless the caller gave up waiting (as asyncio's chaining does)."""
    if future.cancelled():
        return
    if failure is None:
        future.set_result(result)
    else:
        future.set_exception(failure)


def _drop_unretrieved_failures(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Leave out asyncio's "Future exception was never retrieved"; anything else as asyncio reports it.

    A run that fails leaves every output downstream of the failure holding the same error (about
    1,000 futures when a component refuses an Output's value): run_offline has raised that error to
    its caller, and nobody awaits the rest. Once the garbage collector frees them, asyncio would log
    each one with its formatted traceback: ~0.8 s of a collection per failed run under pytest's log
    capture, for lines nobody reads (the one-shot CLI never collects them).
    """
    if str(context.get("message", "")).endswith("exception was never retrieved"):
        return
    loop.default_exception_handler(context)


@atexit.register
def _close_event_loops() -> None:
    for loop in _EVENT_LOOPS:
        if not loop.is_running() and not loop.is_closed():
            loop.close()
    _EVENT_LOOPS.clear()


class _ParentRecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also noting each resource's parent (the component that groups it)."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self._recording = mocks

    def _note_loop(self) -> None:
        with contextlib.suppress(RuntimeError):
            _keep_loop(asyncio.get_event_loop())

    def Invoke(self, request: Any) -> Any:
        try:
            return super().Invoke(request)
        finally:
            self._note_loop()

    def ReadResource(self, request: Any) -> Any:
        try:
            return super().ReadResource(request)
        finally:
            self._note_loop()

    def RegisterResource(self, request: Any) -> Any:
        parent = ""
        if request.parent:  # urn:pulumi:<stack>::<project>::<parent types joined by $>::<name>
            *_, types, name = request.parent.split("::")
            parent = f"{types.rsplit('$', 1)[-1]}::{name}"
        self._recording.parents[(request.type, request.name)] = parent
        self._recording.options[(request.type, request.name)] = {
            "ignoreChanges": list(request.ignoreChanges),  # engine names: desiredCapacity
            "protect": request.protect,
            "deleteBeforeReplace": request.deleteBeforeReplace,
            "retainOnDelete": request.retainOnDelete,
            "replaceOnChanges": list(request.replaceOnChanges),
        }
        # Alias specs ({"type": ..., "name": ..., "parentUrn": ...}, only the fields set) or URNs.
        self._recording.aliases[(request.type, request.name)] = [
            json_format.MessageToDict(alias.spec) if alias.HasField("spec") else {"urn": alias.urn}
            for alias in request.aliases
        ]
        try:
            return super().RegisterResource(request)
        finally:
            self._note_loop()


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


@contextlib.contextmanager
def _without_source_positions() -> Iterator[None]:
    """Skip the call-stack walk Pulumi makes at every resource it registers.

    The walk (traceback.extract_stack, a file URI per frame) only feeds the source positions a real
    engine shows in the Pulumi Cloud console; the mock engine drops them. Its cost grows with the
    stack's depth: under pytest and Hypothesis it was most of an offline run's time. An empty
    StackTrace is what Pulumi itself sends when it finds no user frame.
    """
    original = getattr(pulumi_resource, "_get_stack_trace", None)
    if original is None:  # a Pulumi release without it: nothing to skip
        yield
        return
    pulumi_resource._get_stack_trace = _no_stack_trace
    try:
        yield
    finally:
        pulumi_resource._get_stack_trace = original


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelname.lower(), record.getMessage()))


_RUN_LOGGER = logging.getLogger("wallarm_mirror.offline.run")
_RUN_LOGGER.propagate = False
# Pulumi logs a debug line per registration and per output; nobody reads them, and at DEBUG each
# one would be a LogRecord made and dropped.
_RUN_LOGGER.setLevel(logging.INFO)


@dataclass
class OfflineRun:
    """What one offline run of the program produced."""

    mocks: RecordingMocks
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    log: list[tuple[str, str]] = field(default_factory=list)

    @property
    def resources(self) -> list[Recorded]:
        return self.mocks.resources

    @property
    def warnings(self) -> list[str]:
        return [message for level, message in self.log if level == "warning"]

    def only(self, kind: str) -> Recorded:
        """The one resource of a kind ('LoadBalancer'); fails when there are none or several."""
        found = self.all(kind)
        if len(found) != 1:
            raise AssertionError(f"expected one {kind}, found {[r.name for r in found]}")
        return found[0]

    def id_of(self, kind: str, name: str) -> str:
        """The id the engine gave the cloud resource `name` of a kind ('SecurityGroup')."""
        return self.mocks.ids[(self.only_named(kind, name).typ, name)]

    def state_of(self, kind: str, name: str) -> dict[str, Any]:
        """The outputs the engine gave the cloud resource `name` (ARNs, DNS names ...)."""
        return self.mocks.states[(self.only_named(kind, name).typ, name)]

    def options_of(self, kind: str, name: str) -> dict[str, Any]:
        """The resource options of `name` as the engine received them (ignoreChanges, protect ...)."""
        return self.mocks.options[(self.only_named(kind, name).typ, name)]

    def only_named(self, kind: str, name: str) -> Recorded:
        found = [r for r in self.all(kind) if r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one {kind} named {name}, found {len(found)}")
        return found[0]

    def all(self, kind: str) -> list[Recorded]:
        """Cloud resources of a kind ('SecurityGroup'), or anything of a full type token, by name."""
        if ":" in kind:
            return sorted((r for r in self.resources if r.typ == kind), key=lambda r: r.name)
        return sorted((r for r in self.resources if r.custom and r.kind == kind), key=lambda r: r.name)


def full_config(raw: Mapping[str, str], namespace: str = NAMESPACE) -> dict[str, str]:
    """Bare keys get the project namespace, as the Pulumi CLI does for a stack file."""
    return {key if ":" in key else f"{namespace}:{key}": value for key, value in raw.items()}


def run_offline(
    config: Mapping[str, str],
    secret_keys: list[str] | tuple[str, ...] = (),
    *,
    stack: str = "dev",
    project: str = NAMESPACE,
    facts: OfflineFacts | None = None,
    program: Callable[[], object] | None = None,
    preview: bool = False,
) -> OfflineRun:
    """Run `program` (default: ours) with this config under the mock engine.

    `config` keys are full ('wallarm-mirror:vpcId', 'aws:region') and values are strings, as the
    CLI passes them. A program error (e.g. pulumi.RunError for bad config) propagates.
    """
    if program is None:
        from ..program import main

        program = main
    chosen: Callable[[], object] = program  # the closure below keeps this type, not the narrowing

    pulumi.runtime.set_all_config(dict(config), [k if ":" in k else f"{project}:{k}" for k in secret_keys])
    region = (facts.region if facts else None) or config.get("aws:region") or DEFAULT_REGION
    mocks = RecordingMocks(dataclasses.replace(facts or OfflineFacts(), region=region))
    handler = _ListHandler()
    # One logger for every run: each new logger would stay in logging's registry for good, and
    # setLevel clears a cache across all of them (runs grew slower the more had run).
    _RUN_LOGGER.addHandler(handler)
    run = OfflineRun(mocks)

    @pulumi.runtime.test
    def execute() -> Any:
        chosen()
        root = pulumi.runtime.settings.get_root_resource()
        # The root is the engine's Stack, which holds what the program exported.
        exported = root.outputs if isinstance(root, pulumi.runtime.stack.Stack) else {}

        async def collect() -> None:
            for key, value in exported.items():
                output = pulumi.Output.from_input(value)
                run.outputs[key] = await output.future()
                if await output.is_secret():
                    run.secret_outputs.add(key)

        return asyncio.ensure_future(collect())

    collecting = gc.isenabled()
    try:
        gc.disable()  # see _collect_run_garbage
        with (
            _without_source_positions(),
            memoized_type_hints(),
            memoized_config_env_keys(),
            acyclic_unknowns_check(),
            cheaper_output_tracking(),
            quiet_mock_debug_lines(),
        ):
            pulumi.runtime.settings.ROOT.set(None)  # a fresh Stack per run, or exports pile up across runs
            monitor = _ParentRecordingMonitor(mocks)
            pulumi.runtime.set_mocks(
                mocks, project=project, stack=stack, preview=preview, logger=_RUN_LOGGER, monitor=monitor
            )
            _keep_loop(asyncio.get_event_loop())  # the loop execute() runs on
            execute()
    finally:
        _keep_loop(asyncio.get_event_loop())
        run.log = handler.records
        _RUN_LOGGER.removeHandler(handler)
        if collecting:
            _collect_run_garbage()
    return run


def _collect_run_garbage() -> None:
    """Collect what a run left, once, instead of during the run.

    A run allocates a few hundred thousand objects (Pulumi's futures, tasks and outputs) and keeps
    tens of thousands of them until it ends, many in reference cycles. With the collector on, each
    of its ~30 young collections per run walked the survivors again and promoted them, and the
    older collections that followed walked everything kept since (~15-20% of a run's time). Off
    during the run, one young collection at the end frees its cycles. The one-shot CLI runs with
    the collector off throughout and never gets here.
    """
    gc.enable()
    gc.collect(0)


def _asset(value: pulumi.Asset | pulumi.Archive) -> Any:
    """An asset or archive as plan data: each file's size and SHA-256, so a code change shows in a diff."""
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {name: _asset(item) for name, item in sorted(value.assets.items())}}
    if isinstance(value, pulumi.FileAsset | pulumi.StringAsset):
        data = Path(value.path).read_bytes() if isinstance(value, pulumi.FileAsset) else value.text.encode()
        return {"asset": {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}}
    return {"asset": type(value).__name__}  # remote assets and folders: named, not read


def redact(value: Any) -> Any:
    """Inputs for people and plan files: secrets become "[secret]", whole floats become ints."""
    if rpc.is_rpc_secret(value):
        return SECRET_SHOWN
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return _asset(value)
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def unwrap(value: Any) -> Any:
    """Inputs with secrets opened (tests only: they check what the secret holds)."""
    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value
