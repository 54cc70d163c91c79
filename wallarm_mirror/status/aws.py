"""The read-only AWS calls of `status`, each returning plain facts (checks.py judges them).

boto3 is imported here and nowhere on the Pulumi program's or the plan's import path: `status` is
the only command that talks to AWS, and loading boto3 costs the plan ~0.3 s it must not pay.
Every call maps one IAM action (docs/operations.md, "The IAM policy of status"); a refused call raises
AwsRefused naming it, so the user learns which statement to add.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import boto3
import botocore.config
import botocore.exceptions

# The prefix the boot scripts log with (node/boot_script.py LOG_PREFIX; a test keeps them equal).
# Not imported: status stands apart from the generators, and the line is all it needs of them.
BOOT_LOG_PREFIX = "wallarm-boot:"

# Error codes meaning "these credentials may not do that" (or are not credentials at all).
_REFUSALS = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",  # EC2
    "AuthFailure",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "OptInRequired",
}
# boto3 service name -> IAM service prefix, for naming the refused action.
_IAM_PREFIX = {"elbv2": "elasticloadbalancing"}
# Bounded: a status run (and each --wait round) ends in seconds even when an endpoint hangs.
_CLIENT_CONFIG = botocore.config.Config(
    connect_timeout=5, read_timeout=20, retries={"mode": "standard", "max_attempts": 3}
)
_RECENT_ACTIVITIES = 20

T = TypeVar("T")
BOTOCORE_ERRORS = (botocore.exceptions.BotoCoreError,)


class AwsRefused(Exception):
    """AWS refused a call (credentials, or a missing IAM action): exit 3."""

    def __init__(self, action: str | None, message: str) -> None:
        super().__init__(message)
        self.action = action  # e.g. "cloudwatch:GetMetricData"; None when no call got through at all
        self.message = message


class AwsUnreachable(AwsRefused):
    """No answer from AWS at all (no route, DNS, proxy, timeout): exit 3, but nothing was refused."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


class AwsError(Exception):
    """AWS answered a call with an error that is not a refusal (e.g. the target group is gone)."""

    def __init__(self, action: str, code: str, message: str) -> None:
        super().__init__(f"{action}: {code}: {message}")
        self.action, self.code, self.message = action, code, message


@dataclass(frozen=True)
class Instance:
    """An instance of the Auto Scaling group."""

    instance_id: str
    lifecycle_state: str  # InService, Pending, Terminating, ...
    health_status: str  # Healthy / Unhealthy, as the group sees it


@dataclass(frozen=True)
class Activity:
    """A scaling activity; status_message is AWS's text, shown verbatim."""

    start_time: datetime
    status_code: str  # Successful, Failed, Cancelled, InProgress, ...
    description: str
    status_message: str


@dataclass(frozen=True)
class GroupFacts:
    """The Auto Scaling group, or found=False when it does not exist (in this region)."""

    name: str
    found: bool
    desired: int = 0
    minimum: int = 0
    maximum: int = 0
    instances: tuple[Instance, ...] = ()
    activities: tuple[Activity, ...] = ()  # newest first


@dataclass(frozen=True)
class TargetFacts:
    """One registered target of the target group, with AWS's reason and description."""

    target_id: str
    port: int | None
    state: str  # healthy, initial, unhealthy, unused, draining, unavailable
    reason: str = ""
    description: str = ""


@dataclass(frozen=True)
class AlarmFacts:
    """A CloudWatch alarm that belongs to the stack."""

    name: str
    state: str
    reason: str
    description: str
    since: datetime | None


@dataclass(frozen=True)
class HostRun:
    """The host mirroring association's last run on one instance (DescribeAssociationExecutionTargets)."""

    instance_id: str
    status: str  # Success, Failed, Pending, InProgress, TimedOut, ...
    detail: str  # AWS's DetailedStatus
    error: str = ""  # the run's last stderr line, for a run that did not succeed


@dataclass(frozen=True)
class HostMirrorFacts:
    """The host mirroring association, its last run per instance, and which tagged instances SSM manages."""

    association_id: str
    found: bool
    tag: tuple[str, str] | None = None  # the association's target tag (key, value)
    runs: tuple[HostRun, ...] = ()
    tagged: tuple[str, ...] = ()  # running instances carrying the tag (ec2:DescribeInstances)
    managed: tuple[str, ...] = ()  # those of them SSM reaches: agent online (ssm:DescribeInstanceInformation)


@dataclass(frozen=True)
class Route:
    """One route of a route table: where it sends what, and whether it works."""

    destination: str  # a CIDR (IPv4 or IPv6); prefix lists are left out
    target: str  # "local", tgw-..., pcx-..., igw-..., nat-..., eni-... (what AWS names)
    state: str  # active or blackhole


@dataclass(frozen=True)
class SubnetRoutes:
    """A mirrored subnet of a spoke and the routes of its route table (its own, or its VPC's main one)."""

    subnet_id: str
    cidr: str
    route_table_id: str | None
    routes: tuple[Route, ...] = ()


_ROUTE_TARGETS = (
    "GatewayId",
    "TransitGatewayId",
    "VpcPeeringConnectionId",
    "NatGatewayId",
    "NetworkInterfaceId",
    "InstanceId",
    "LocalGatewayId",
    "CarrierGatewayId",
    "CoreNetworkArn",
    "EgressOnlyInternetGatewayId",
)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def within(net: Network, outer: Network) -> bool:
    """Whether `net` lies inside `outer` (of the same address family)."""
    if isinstance(net, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return net.subnet_of(outer)
    if isinstance(net, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return net.subnet_of(outer)
    return False


def _route(route: dict[str, Any]) -> Route | None:
    destination = route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock")
    if not destination:
        return None  # a prefix list: its CIDRs are not read here
    target = next((str(route[key]) for key in _ROUTE_TARGETS if route.get(key)), "unknown")
    return Route(destination, target, str(route.get("State", "active")))


# Failed runs whose stderr is fetched (one GetCommandInvocation each): enough to see the pattern.
_FAILED_RUNS_READ = 5


def iam_action(service: str, operation: str) -> str:
    return f"{_IAM_PREFIX.get(service, service)}:{operation}"


def new_session() -> boto3.session.Session:
    """The standard chain (environment, profile, instance role); tests swap it for a hooked session."""
    return boto3.session.Session()


class Aws:
    """boto3 clients of one region; each method is one read-only question."""

    def __init__(self, session: boto3.session.Session, region: str) -> None:
        self.region = region
        self._session = session
        self._clients: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            config = _CLIENT_CONFIG
            client = self._session.client(service, region_name=self.region, config=config)  # type: ignore[call-overload]  # the stubs know literal service names; this one comes at run time
            self._clients[service] = client
        return self._clients[service]

    def _call(self, service: str, operation: str, call: Callable[[], T]) -> T:
        """Run one call, turning botocore's errors into AwsRefused or AwsError (never a traceback)."""
        action = iam_action(service, operation)
        try:
            return call()
        except botocore.exceptions.ClientError as error:
            details = error.response.get("Error", {})
            code = str(details.get("Code", "")) or "Unknown"
            message = " ".join(str(details.get("Message", "")).split())
            # An error body botocore could not parse (a proxy's page, another protocol's XML) leaves
            # the HTTP status as the code and the raw body as the message: keep the body's own.
            inner = re.search(r"<Code>([^<]+)</Code>.*?<Message>([^<]*)</Message>", message)
            if inner:
                code, message = inner.group(1), inner.group(2)
            message = message[:300]
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _REFUSALS or status == 403:
                raise AwsRefused(action, f"AWS refused {action} ({code}): {message}") from None
            raise AwsError(action, code, message) from None
        except botocore.exceptions.NoCredentialsError:
            raise AwsRefused(
                None, "no AWS credentials found (environment, ~/.aws profile or instance role): sign in first"
            ) from None
        except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as error:
            # No route, no DNS, a proxy or a timeout: the credentials were never put to AWS.
            raise AwsUnreachable(f"could not reach AWS to call {action}: {error}") from None
        except botocore.exceptions.BotoCoreError as error:
            # An SSO session expired, a broken profile: no credentials AWS could be asked with.
            raise AwsRefused(None, f"could not call {action}: {error}") from None

    def group(self, name: str) -> GroupFacts:
        """autoscaling:DescribeAutoScalingGroups and DescribeScalingActivities."""
        client = self._client("autoscaling")
        groups = self._call(
            "autoscaling",
            "DescribeAutoScalingGroups",
            lambda: client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"],
        )
        if not groups:
            return GroupFacts(name=name, found=False)
        group = groups[0]
        activities = self._call(
            "autoscaling",
            "DescribeScalingActivities",
            lambda: client.describe_scaling_activities(AutoScalingGroupName=name, MaxRecords=_RECENT_ACTIVITIES)[
                "Activities"
            ],
        )
        return GroupFacts(
            name=name,
            found=True,
            desired=int(group["DesiredCapacity"]),
            minimum=int(group["MinSize"]),
            maximum=int(group["MaxSize"]),
            instances=tuple(
                Instance(i["InstanceId"], str(i.get("LifecycleState", "")), str(i.get("HealthStatus", "")))
                for i in group.get("Instances", [])
            ),
            activities=tuple(
                sorted(
                    (
                        Activity(
                            start_time=a["StartTime"],
                            status_code=str(a.get("StatusCode", "")),
                            description=str(a.get("Description", "")),
                            status_message=str(a.get("StatusMessage", "")),
                        )
                        for a in activities
                    ),
                    key=lambda a: a.start_time,
                    reverse=True,
                )
            ),
        )

    def targets(self, target_group_arn: str) -> tuple[TargetFacts, ...]:
        """elasticloadbalancing:DescribeTargetHealth."""
        client = self._client("elbv2")
        descriptions = self._call(
            "elbv2",
            "DescribeTargetHealth",
            lambda: client.describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"],
        )
        return tuple(
            TargetFacts(
                target_id=d["Target"]["Id"],
                port=d["Target"].get("Port"),
                state=str(d.get("TargetHealth", {}).get("State", "")),
                reason=str(d.get("TargetHealth", {}).get("Reason", "")),
                description=str(d.get("TargetHealth", {}).get("Description", "")),
            )
            for d in descriptions
        )

    def boot_line(self, instance_id: str) -> str | None:
        """ec2:GetConsoleOutput: the last `wallarm-boot:` line of the instance's console, or None."""
        client = self._client("ec2")
        try:
            # Latest: the live buffer instead of the copy AWS takes at boot; Nitro instances only.
            answer = self._call(
                "ec2", "GetConsoleOutput", lambda: client.get_console_output(InstanceId=instance_id, Latest=True)
            )
        except AwsError as error:
            if error.code != "UnsupportedOperation":
                raise
            answer = self._call("ec2", "GetConsoleOutput", lambda: client.get_console_output(InstanceId=instance_id))
        return last_boot_line(str(answer.get("Output") or ""))

    def traffic(self, namespace: str, metrics: tuple[str, ...], load_balancer: str, minutes: int) -> dict[str, float]:
        """cloudwatch:GetMetricData: each metric's sum over the last `minutes` for the load balancer."""
        client = self._client("cloudwatch")
        end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        queries = [
            {
                "Id": f"m{index}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": metric,
                        "Dimensions": [{"Name": "LoadBalancer", "Value": load_balancer}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": True,
            }
            for index, metric in enumerate(metrics)
        ]
        answer = self._call(
            "cloudwatch",
            "GetMetricData",
            lambda: client.get_metric_data(
                MetricDataQueries=queries, StartTime=end - timedelta(minutes=minutes), EndTime=end
            ),
        )
        sums = {metric: 0.0 for metric in metrics}
        for result in answer.get("MetricDataResults", []):
            sums[metrics[int(result["Id"][1:])]] += float(sum(result.get("Values", [])))
        return sums

    def mirror_sessions(self, target_id: str) -> int:
        """ec2:DescribeTrafficMirrorSessions: how many sessions send to the stack's traffic mirror target."""
        client = self._client("ec2")

        filters = [{"Name": "traffic-mirror-target-id", "Values": [target_id]}]
        sessions = functools.partial(
            _paged, client, "describe_traffic_mirror_sessions", "TrafficMirrorSessions", Filters=filters
        )
        return self._call("ec2", "DescribeTrafficMirrorSessions", lambda: sum(1 for _ in sessions()))

    def source_routes(self, cidrs: tuple[str, ...]) -> tuple[SubnetRoutes, ...]:
        """ec2:DescribeSubnets and ec2:DescribeRouteTables: the subnets inside `cidrs`, each with the routes
        of its route table (an explicit association, else its VPC's main table)."""
        client = self._client("ec2")
        wanted = [ipaddress.ip_network(c, strict=False) for c in cidrs]

        def inside(cidr: str) -> bool:
            return any(within(ipaddress.ip_network(cidr, strict=False), w) for w in wanted)

        def subnets() -> list[dict[str, Any]]:
            return [sub for sub in _paged(client, "describe_subnets", "Subnets") if inside(sub["CidrBlock"])]

        found = self._call("ec2", "DescribeSubnets", subnets)
        if not found:
            return ()

        def tables() -> list[dict[str, Any]]:
            vpcs = sorted({sub["VpcId"] for sub in found})
            return list(
                _paged(client, "describe_route_tables", "RouteTables", Filters=[{"Name": "vpc-id", "Values": vpcs}])
            )

        all_tables = self._call("ec2", "DescribeRouteTables", tables)
        by_subnet: dict[str, dict[str, Any]] = {}
        main: dict[str, dict[str, Any]] = {}
        for table in all_tables:
            for association in table.get("Associations", []):
                if association.get("SubnetId"):
                    by_subnet[association["SubnetId"]] = table
                if association.get("Main"):
                    main[table["VpcId"]] = table
        result = []
        for sub in sorted(found, key=lambda s: s["SubnetId"]):
            own = by_subnet.get(sub["SubnetId"]) or main.get(sub["VpcId"])  # None: no table found at all
            routes = tuple(r for r in (_route(x) for x in (own or {}).get("Routes", [])) if r is not None)
            result.append(SubnetRoutes(sub["SubnetId"], sub["CidrBlock"], own["RouteTableId"] if own else None, routes))
        return tuple(result)

    def host_mirroring(self, association_id: str) -> HostMirrorFacts:
        """ssm:DescribeAssociation, DescribeAssociationExecutions, DescribeAssociationExecutionTargets,
        GetCommandInvocation (failed runs' stderr), DescribeInstanceInformation, and ec2:DescribeInstances."""
        ssm = self._client("ssm")
        try:
            association = self._call(
                "ssm",
                "DescribeAssociation",
                lambda: ssm.describe_association(AssociationId=association_id)["AssociationDescription"],
            )
        except AwsError as error:
            if error.code == "AssociationDoesNotExist":
                return HostMirrorFacts(association_id, found=False)
            raise
        tags = [t for t in association.get("Targets", []) if str(t.get("Key", "")).startswith("tag:")]
        tag = (tags[0]["Key"].removeprefix("tag:"), str(tags[0]["Values"][0])) if tags else None
        executions = self._call(
            "ssm",
            "DescribeAssociationExecutions",
            lambda: ssm.describe_association_executions(AssociationId=association_id).get("AssociationExecutions", []),
        )
        runs: list[HostRun] = []
        if executions:
            newest = max(executions, key=lambda e: e.get("CreatedTime") or datetime.min.replace(tzinfo=UTC))
            targets = self._call(
                "ssm",
                "DescribeAssociationExecutionTargets",
                lambda: list(
                    _paged(
                        ssm,
                        "describe_association_execution_targets",
                        "AssociationExecutionTargets",
                        AssociationId=association_id,
                        ExecutionId=newest["ExecutionId"],
                    )
                ),
            )
            failed_read = 0
            for target in sorted(targets, key=lambda t: str(t.get("ResourceId"))):
                status = str(target.get("Status", ""))
                said = ""
                command = (target.get("OutputSource") or {}).get("OutputSourceId")
                if status != "Success" and command and failed_read < _FAILED_RUNS_READ:
                    failed_read += 1
                    said = self._run_error(str(command), str(target["ResourceId"]))
                runs.append(HostRun(str(target["ResourceId"]), status, str(target.get("DetailedStatus", "")), said))
        tagged: tuple[str, ...] = ()
        managed: tuple[str, ...] = ()
        if tag is not None:
            tagged, managed = self._tagged_and_managed(*tag)
        return HostMirrorFacts(association_id, True, tag, tuple(runs), tagged, managed)

    def _run_error(self, command_id: str, instance_id: str) -> str:
        ssm = self._client("ssm")
        invocation = self._call(
            "ssm",
            "GetCommandInvocation",
            lambda: ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id),
        )
        lines = [line for line in str(invocation.get("StandardErrorContent", "")).splitlines() if line.strip()]
        return lines[-1].strip() if lines else str(invocation.get("StatusDetails", ""))

    def _tagged_and_managed(self, key: str, value: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        ec2, ssm = self._client("ec2"), self._client("ssm")
        tagged = self._call(
            "ec2",
            "DescribeInstances",
            lambda: sorted(
                instance["InstanceId"]
                for reservation in _paged(
                    ec2,
                    "describe_instances",
                    "Reservations",
                    Filters=[
                        {"Name": f"tag:{key}", "Values": [value]},
                        {"Name": "instance-state-name", "Values": ["running"]},
                    ],
                )
                for instance in reservation.get("Instances", [])
            ),
        )
        managed = self._call(
            "ssm",
            "DescribeInstanceInformation",
            lambda: sorted(
                info["InstanceId"]
                for info in _paged(
                    ssm,
                    "describe_instance_information",
                    "InstanceInformationList",
                    Filters=[{"Key": f"tag:{key}", "Values": [value]}],
                )
                if info.get("PingStatus") == "Online"
            ),
        )
        return tuple(tagged), tuple(managed)

    def alarms(self, prefix: str | None, dimension_values: set[str]) -> tuple[int, tuple[AlarmFacts, ...]]:
        """cloudwatch:DescribeAlarms: how many alarms carry the stack's name prefix, and the stack's
        alarms in ALARM (by that prefix, or watching one of its load balancer, group or function)."""
        client = self._client("cloudwatch")
        named: list[dict[str, Any]] = []
        if prefix:
            named = self._call(
                "cloudwatch", "DescribeAlarms", lambda: list(_alarm_pages(client, AlarmNamePrefix=prefix))
            )
        firing = self._call("cloudwatch", "DescribeAlarms", lambda: list(_alarm_pages(client, StateValue="ALARM")))
        ours: dict[str, AlarmFacts] = {}
        for alarm in [*named, *firing]:
            watched = {str(d.get("Value")) for d in alarm.get("Dimensions", [])}
            belongs = (prefix is not None and alarm["AlarmName"].startswith(prefix)) or bool(watched & dimension_values)
            if belongs and alarm.get("StateValue") == "ALARM":
                ours[alarm["AlarmName"]] = AlarmFacts(
                    name=alarm["AlarmName"],
                    state="ALARM",
                    reason=" ".join(str(alarm.get("StateReason", "")).split()),
                    description=str(alarm.get("AlarmDescription", "")),
                    since=alarm.get("StateUpdatedTimestamp"),
                )
        return len(named), tuple(sorted(ours.values(), key=lambda a: a.name))


def _paged(client: Any, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item under `key` of every page of a paginated read."""
    for page in client.get_paginator(operation).paginate(**params):
        yield from page.get(key, [])


def _alarm_pages(client: Any, **filters: str) -> Iterator[dict[str, Any]]:
    return _paged(client, "describe_alarms", "MetricAlarms", AlarmTypes=["MetricAlarm"], **filters)


def last_boot_line(console_output: str) -> str | None:
    """The last line holding the boot log prefix, from the prefix on (cloud-init and the kernel put
    timestamps and unit names before it). GetConsoleOutput answers base64; plain text passes too."""
    try:
        text = base64.b64decode(console_output, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        text = console_output
    found = None
    for line in text.splitlines():
        at = line.find(BOOT_LOG_PREFIX)
        if at >= 0:
            found = line[at:].strip()
    return found


def session_region(session: boto3.session.Session) -> str | None:
    """The region the standard chain gives (AWS_REGION, AWS_DEFAULT_REGION, the profile), if any."""
    return session.region_name
