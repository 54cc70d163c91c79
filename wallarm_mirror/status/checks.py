"""The checks of `status`: pure functions from AWS facts to one result line each, and `run_checks`,
which asks AWS (aws.py) for the facts of one stack.

The order is the order a user would debug in: does the group launch nodes, do the load balancer's
health checks pass, what did each node's boot script say, does mirrored traffic arrive, which
alarm fires.
"""

from __future__ import annotations

import functools
import ipaddress
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

from .aws import (
    AlarmFacts,
    Aws,
    AwsError,
    AwsRefused,
    AwsUnreachable,
    GroupFacts,
    HostMirrorFacts,
    SubnetRoutes,
    TargetFacts,
)
from .outputs import StackOutputs
from .result import CheckResult, Status

TRAFFIC_MINUTES = 15
NO_TRAFFIC = (
    "no mirrored traffic reached the analyser: check the web tier's mirror config (`mirror-config`) "
    "or the mirror sessions"
)
# What the boot scripts log last when all went well (node/boot_script.py, native_node/boot_script.py;
# tests/status checks that both scripts still end with these).
BOOT_DONE = ("the Wallarm node is configured", "the Wallarm Native Node is installed and ready")
# What they log when they give up (`FAILED: ...` in the Native Node script and the planned
# self-checks; "... stays stopped" and the ERR trap's "a command failed" in the NGINX node's).
BOOT_FAILED = ("FAILED", "stays stopped", "a command failed", "giving up")
_MAX_LINE = 300  # a console line or AWS message longer than this is cut: one line per check

T = TypeVar("T")


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_LINE else text[: _MAX_LINE - 1] + "…"


def check_group(group: GroupFacts, region: str) -> CheckResult:
    """ASG: desired/min/max, instances by lifecycle state, and failed activities since the last success."""
    if not group.found:
        return CheckResult(
            "asg",
            group.name,
            Status.FAIL,
            f"no Auto Scaling group {group.name} in {region}",
            "check the region (AWS_DEFAULT_REGION) and that the outputs are this stack's, after a finished `pulumi up`",
        )
    states = Counter(i.lifecycle_state for i in group.instances)
    in_service = states.get("InService", 0)
    by_state = ", ".join(f"{state} {count}" for state, count in sorted(states.items())) or "no instances"
    sizes = f"desired {group.desired}, min {group.minimum}, max {group.maximum}"
    evidence = f"{in_service} of {group.desired} in service ({sizes}; {by_state})"
    # Failures newer than the newest success are current; older ones were overcome.
    failed = []
    for activity in group.activities:
        if activity.status_code == "Successful":
            break
        if activity.status_code in ("Failed", "Cancelled"):
            failed.append(activity)
    if failed:
        latest = failed[0]
        message = latest.status_message or latest.description
        when = f"{latest.start_time:%Y-%m-%d %H:%M} UTC, {len(failed)} since the last success"
        evidence += f"; latest failed activity ({when}): {_cut(message)}"
    if group.desired == 0:
        return CheckResult(
            "asg", group.name, Status.FAIL, evidence, "the group wants no node: set minSize/desiredCapacity ≥ 1"
        )
    if failed:
        status = Status.FAIL if in_service == 0 else Status.WARN
        return CheckResult("asg", group.name, status, evidence, _activity_advice(failed[0].status_message))
    if in_service < group.desired:
        return CheckResult(
            "asg",
            group.name,
            Status.WARN,
            evidence,
            "nodes are still launching: run again in a few minutes (--wait 600)",
        )
    return CheckResult("asg", group.name, Status.OK, evidence)


def _activity_advice(message: str) -> str:
    lowered = message.lower()
    if "marketplace" in lowered or "subscribe" in lowered:
        return (
            "subscribe the account to the AMI's AWS Marketplace product (the link is in the message); "
            "the group retries by itself"
        )
    if "insufficient" in lowered and "capacity" in lowered:
        return "the instance type has no capacity in these zones: pick another instanceType or add subnets"
    if "kms" in lowered or "encrypted" in lowered:
        return "the group's service-linked role needs the EBS KMS key: grant it in the key policy"
    return "fix what AWS's message says; the group retries the launch by itself"


_TARGET_ADVICE = {
    "Target.FailedHealthChecks": "the node answers its health check wrongly or not at all: read its boot line",
    "Target.Timeout": "the health check timed out: the node is down or its security group blocks the load balancer",
    "Target.ResponseCodeMismatch": "the node answers its health check with an unexpected status: read its boot line",
    "Target.NotRegistered": "the instance is not registered: the group attaches its instances (see the asg line)",
    "Target.NotInUse": "the target's zone is not enabled on the load balancer: add the node subnets' zones to it",
    "Target.InvalidState": "the instance is stopped or terminated: the group replaces it",
    "Elb.InitialHealthChecking": "the first health checks are running: run again in a minute (--wait 300)",
    "Target.DeregistrationInProgress": "the node is being replaced: run again in a few minutes",
}


def check_targets(targets: tuple[TargetFacts, ...], target_group: str) -> list[CheckResult]:
    """Target health: one line per registered target, with AWS's reason code and description."""
    if not targets:
        return [
            CheckResult(
                "target",
                target_group,
                Status.FAIL,
                "no target is registered in the target group",
                "the group registers its instances once they launch: see the asg line",
            )
        ]
    results = []
    for target in sorted(targets, key=lambda t: t.target_id):
        where = f" (port {target.port})" if target.port else ""
        evidence = f"{target.state}{where}"
        if target.reason:
            evidence += f": {target.reason}"
        if target.description:
            evidence += f' "{_cut(target.description)}"'
        if target.state == "healthy":
            results.append(CheckResult("target", target.target_id, Status.OK, evidence))
            continue
        status = Status.WARN if target.state in ("initial", "draining") else Status.FAIL
        advice = _TARGET_ADVICE.get(target.reason, "see AWS's description; the node's boot line says more")
        results.append(CheckResult("target", target.target_id, status, evidence, advice))
    return results


def check_boot(instance_id: str, line: str | None, target_healthy: bool) -> CheckResult:
    """The last `wallarm-boot:` console line of one node: done, failed, or still on its way."""
    if line is None:
        if target_healthy:
            return CheckResult(
                "boot", instance_id, Status.OK, "no wallarm-boot: line on the console yet; the target is healthy"
            )
        return CheckResult(
            "boot",
            instance_id,
            Status.WARN,
            "no wallarm-boot: line on the console",
            "the boot script has not run yet, or AWS has not captured the console: run again in a few minutes",
        )
    if any(marker in line for marker in BOOT_FAILED):
        return CheckResult(
            "boot",
            instance_id,
            Status.FAIL,
            _cut(line),
            "fix what the line says (token, node version, Wallarm API reachability); the group replaces the node "
            "once you terminate it",
        )
    if line.endswith(BOOT_DONE) or target_healthy:
        return CheckResult("boot", instance_id, Status.OK, _cut(line))
    return CheckResult(
        "boot", instance_id, Status.WARN, _cut(line), "the boot script is still running: run again in a few minutes"
    )


SSM_PREREQUISITE = (
    "install the SSM agent and give the instance role AmazonSSMManagedInstanceCore "
    "(docs/host-mirroring.md, prerequisites)"
)
_LISTED = 5  # instance ids named in one line


def _some(ids: list[str] | tuple[str, ...]) -> str:
    shown = ", ".join(ids[:_LISTED])
    return shown + (f" and {len(ids) - _LISTED} more" if len(ids) > _LISTED else "")


def check_sessions(target_id: str, count: int, host_mirroring: bool, to: str = "the NLB") -> CheckResult:
    """nativeNode: the AWS traffic mirror sessions that send to the stack's target (a spoke: its hub's)."""
    subject = target_id
    if count:
        return CheckResult("sources", subject, Status.OK, f"{count} AWS traffic mirror session(s) send to {to}")
    if host_mirroring:
        return CheckResult(
            "sources", subject, Status.OK, "no traffic mirror session: every source is copied by the host script"
        )
    return CheckResult(
        "sources",
        subject,
        Status.WARN,
        f"no traffic mirror session sends to {to}",
        "check trafficMirrorSourceEniIds / trafficMirrorSourceTags and the enrolment function's log",
    )


def check_host_mirroring(facts: HostMirrorFacts) -> list[CheckResult]:
    """nativeNode, trafficMirrorMethod auto or host: SSM reaches the tagged hosts, and the script's last
    run on each (its failure text when it failed)."""
    subject = facts.association_id
    if not facts.found:
        return [
            CheckResult(
                "sources",
                subject,
                Status.FAIL,
                f"no SSM association {facts.association_id} in this region",
                "check the region and that the outputs are this stack's, after a finished `pulumi up`",
            )
        ]
    results: list[CheckResult] = []
    unmanaged = sorted(set(facts.tagged) - set(facts.managed))
    if facts.tag is not None and unmanaged:
        key, value = facts.tag
        results.append(
            CheckResult(
                "ssm",
                f"{key}={value}",
                Status.FAIL,
                f"{len(unmanaged)} of {len(facts.tagged)} running tagged instances are not reachable by SSM: "
                f"{_some(unmanaged)}",
                SSM_PREREQUISITE,
            )
        )
    elif facts.tag is not None:
        key, value = facts.tag
        results.append(
            CheckResult(
                "ssm", f"{key}={value}", Status.OK, f"SSM reaches all {len(facts.tagged)} running tagged instances"
            )
        )
    succeeded = [run for run in facts.runs if run.status == "Success"]
    failed = [run for run in facts.runs if run.status not in ("Success", "Pending", "InProgress")]
    if not facts.runs:
        results.append(
            CheckResult(
                "sources",
                subject,
                Status.WARN,
                "the association has not run on any instance yet",
                "run again in a few minutes; State Manager runs a new association at once",
            )
        )
    elif not failed:
        results.append(
            CheckResult(
                "sources",
                subject,
                Status.OK,
                f"the host script's last run succeeded on {len(succeeded)} of {len(facts.runs)} instance(s) "
                "(each mirrors, or in auto leaves a type AWS can mirror to its session)",
            )
        )
    for run in failed:
        results.append(
            CheckResult(
                "sources",
                run.instance_id,
                Status.FAIL,
                _cut(f"the host script {run.status} ({run.detail}): {run.error or 'no error text'}"),
                "fix what the line says; the association runs again within 30 minutes",
            )
        )
    return results


def check_traffic(outputs: StackOutputs, sums: dict[str, float], minutes: int = TRAFFIC_MINUTES) -> CheckResult:
    """Traffic into the load balancer over the last `minutes`, as a rate; none at all fails."""
    seconds = minutes * 60
    subject = outputs.load_balancer_dimension
    if outputs.analyser == "nginxNode":
        requests = sums.get("RequestCount", 0.0)
        evidence = f"{requests:,.0f} mirrored requests in {minutes} min ({requests / minutes:,.1f}/min)"
        if requests <= 0:
            return CheckResult("traffic", subject, Status.FAIL, f"0 requests in {minutes} min", NO_TRAFFIC)
        return CheckResult("traffic", subject, Status.OK, evidence)
    packets, octets = sums.get("ProcessedPackets", 0.0), sums.get("ProcessedBytes", 0.0)
    evidence = (
        f"{_bytes(octets)} in {packets:,.0f} packets in {minutes} min "
        f"({_bytes(octets / seconds)}/s, {packets / seconds:,.1f} packets/s)"
    )
    if packets <= 0 and octets <= 0:
        sessions = ", ".join(outputs.session_ids) or "none in the outputs (tag-enrolled instances)"
        return CheckResult(
            "traffic",
            subject,
            Status.FAIL,
            f"0 bytes in {minutes} min",
            f"{NO_TRAFFIC} (the stack's: {sessions}; `mirror-config --server aws-cli` mirrors one more interface)",
        )
    return CheckResult("traffic", subject, Status.OK, evidence)


def _bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def check_alarms(outputs: StackOutputs, named: int, alarms: tuple[AlarmFacts, ...]) -> CheckResult:
    """The stack's alarms in ALARM, with their description and CloudWatch's reason."""
    subject = alarm_subject(outputs)
    if alarms:
        listed = "; ".join(f"{a.name}: {a.description or a.reason}" for a in alarms)
        return CheckResult(
            "alarms",
            subject,
            Status.FAIL,
            _cut(f"{len(alarms)} in ALARM: {listed}"),
            "the lines above say which part fails; CloudWatch's reason is in the alarm's history",
        )
    if outputs.alarm_prefix and named == 0 and outputs.alarm_topic_arn:
        return CheckResult(
            "alarms",
            subject,
            Status.WARN,
            f"no alarm is named {outputs.alarm_prefix}*, though the stack has an alarm topic",
            "is --stack the name of this stack (the name `pulumi up` ran under)?",
        )
    if outputs.alarm_prefix:
        return CheckResult("alarms", subject, Status.OK, f"none of the stack's {named} alarms is in ALARM")
    return CheckResult(
        "alarms",
        subject,
        Status.OK,
        "no alarm on the stack's load balancer, target group or group is in ALARM (--stack NAME also matches by name)",
    )


# Route targets that reach another VPC of the Region (docs/organisation.md): a transit gateway, a
# peering connection; "local" is the spoke's own VPC (a hub in the same VPC).
_REACHES_HUB = ("tgw-", "pcx-", "local")


def check_routes(subnets: tuple[SubnetRoutes, ...], outputs: StackOutputs) -> list[CheckResult]:
    """nativeSpoke: whether each mirrored subnet's route table sends the hub NLB's addresses somewhere that
    can reach the hub (longest prefix first), as far as the route tables tell: not the far side."""
    cidrs = ", ".join(outputs.source_cidrs)
    if not outputs.hub_addresses:
        return [
            CheckResult(
                "route",
                cidrs,
                Status.WARN,
                "the spoke's outputs have no hub_nlb_zone_addresses (a hub without nlb_zone_addresses)",
                "update and deploy the hub, then this spoke, to check the routes to the hub's NLB",
            )
        ]
    if not subnets:
        return [
            CheckResult(
                "route",
                cidrs,
                Status.WARN,
                f"no subnet of this account and Region lies in mirrorSourceCidrs ({cidrs})",
                "check mirrorSourceCidrs against the mirrored instances' subnets",
            )
        ]
    results = []
    for subnet in subnets:
        for zone, address in outputs.hub_addresses:
            results.append(_route_to(subnet, zone, address))
    return results


def _route_to(subnet: SubnetRoutes, zone: str, address: str) -> CheckResult:
    subject = f"{subnet.subnet_id}->{address}"  # one word: the report's subject column
    ip = ipaddress.ip_address(address)
    matching = [
        (net, route)
        for route in subnet.routes
        for net in [ipaddress.ip_network(route.destination, strict=False)]
        if net.version == ip.version and ip in net
    ]
    table = subnet.route_table_id or "no route table"
    step = (
        f"add a route for the hub's NLB subnets in {table} to your transit gateway or VPC peering connection "
        "(docs/organisation.md: what you own)"
    )
    if not matching:
        return CheckResult(
            "route", subject, Status.FAIL, f"no route in {table} covers the hub NLB's address in {zone}", step
        )
    _, route = max(matching, key=lambda found: found[0].prefixlen)
    via = f"{route.target} ({route.destination} in {table})"
    if route.state != "active":
        return CheckResult(
            "route", subject, Status.FAIL, f"hub NLB in {zone}: the route via {via} is {route.state}", step
        )
    if not route.target.startswith(_REACHES_HUB):
        message = f"hub NLB in {zone}: goes via {via}, which does not reach another VPC"
        return CheckResult("route", subject, Status.FAIL, message, step)
    return CheckResult("route", subject, Status.OK, f"hub NLB in {zone} via {via}")


def alarm_subject(outputs: StackOutputs) -> str:
    return outputs.alarm_prefix + "*" if outputs.alarm_prefix else "alarms on the stack's resources"


def _refused(check: str, subject: str, refusal: AwsRefused) -> CheckResult:
    if isinstance(refusal, AwsUnreachable):
        step = "check the route to AWS from here (network, proxy, VPN, DNS), then run again"
        return CheckResult(check, subject, Status.FAIL, refusal.message, step, unreachable=True)
    step = (
        f"allow {refusal.action} (docs/operations.md: the IAM policy of status)"
        if refusal.action
        else "sign in to AWS, then run again"
    )
    return CheckResult(check, subject, Status.FAIL, refusal.message, step, refusal.action or "credentials")


def _failed_call(check: str, subject: str, error: AwsError) -> CheckResult:
    return CheckResult(
        check,
        subject,
        Status.FAIL,
        _cut(f"{error.action} answered {error.code}: {error.message}"),
        "check that the outputs are this stack's and in this region",
    )


class _Unanswered:
    """The AWS call failed; its line is already in the results."""


UNANSWERED = _Unanswered()


def _ask(results: list[CheckResult], check: str, subject: str, call: Callable[[], T]) -> T | _Unanswered:
    """One AWS question; a refusal or an error becomes the check's line instead of stopping the run."""
    try:
        return call()
    except AwsRefused as refusal:
        results.append(_refused(check, subject, refusal))
    except AwsError as error:
        results.append(_failed_call(check, subject, error))
    return UNANSWERED


def run_spoke_checks(aws: Aws, outputs: StackOutputs) -> list[CheckResult]:
    """A spoke's checks: its own enrolment (sessions to the hub's target, the host association), the routes
    from its mirrored subnets to the hub's NLB, its alarms. The hub's nodes and traffic: `status` on the hub."""
    results: list[CheckResult] = []
    target_id = outputs.mirror_target_id or ""
    count = _ask(results, "sources", target_id, lambda: aws.mirror_sessions(target_id))
    if isinstance(count, int):
        hosts = outputs.host_mirror_association is not None
        results.append(check_sessions(target_id, count, hosts, "the hub's target"))
    if outputs.host_mirror_association:
        association = outputs.host_mirror_association
        facts = _ask(results, "sources", association, lambda: aws.host_mirroring(association))
        if isinstance(facts, HostMirrorFacts):
            results.extend(check_host_mirroring(facts))
    subnets = _ask(results, "route", ", ".join(outputs.source_cidrs), lambda: aws.source_routes(outputs.source_cidrs))
    if isinstance(subnets, tuple):
        results.extend(check_routes(subnets, outputs))
    watched = {outputs.enrolment_function} if outputs.enrolment_function else set()
    alarms = _ask(
        results, "alarms", outputs.alarm_prefix or "alarms", lambda: aws.alarms(outputs.alarm_prefix, watched)
    )
    if isinstance(alarms, tuple):
        results.append(check_alarms(outputs, *alarms))
    return results


def run_checks(aws: Aws, outputs: StackOutputs) -> list[CheckResult]:
    """Every check of the stack, in order; a call AWS refuses fails its own line and the rest still run."""
    if outputs.analyser == "nativeSpoke":
        return run_spoke_checks(aws, outputs)
    results: list[CheckResult] = []
    group = _ask(results, "asg", outputs.asg_name, lambda: aws.group(outputs.asg_name))
    if isinstance(group, GroupFacts):
        results.append(check_group(group, aws.region))
    answer = _ask(results, "target", outputs.target_group_dimension, lambda: aws.targets(outputs.target_group_arn))
    targets = answer if isinstance(answer, tuple) else ()
    if isinstance(answer, tuple):
        results.extend(check_targets(targets, outputs.target_group_dimension))

    # Boot lines of the group's live instances and of any other instance target.
    healthy = {t.target_id for t in targets if t.state == "healthy"}
    members = group.instances if isinstance(group, GroupFacts) else ()
    instances = {i.instance_id for i in members if i.lifecycle_state != "Terminated"}
    instances |= {t.target_id for t in targets if t.target_id.startswith("i-")}
    for instance_id in sorted(instances):
        line = _ask(results, "boot", instance_id, functools.partial(aws.boot_line, instance_id))
        if not isinstance(line, _Unanswered):
            results.append(check_boot(instance_id, line, instance_id in healthy))

    if outputs.mirror_target_id:
        target_id = outputs.mirror_target_id
        count = _ask(results, "sources", target_id, lambda: aws.mirror_sessions(target_id))
        if isinstance(count, int):
            results.append(check_sessions(target_id, count, outputs.host_mirror_association is not None))
    if outputs.host_mirror_association:
        association = outputs.host_mirror_association
        facts = _ask(results, "sources", association, lambda: aws.host_mirroring(association))
        if isinstance(facts, HostMirrorFacts):
            results.extend(check_host_mirroring(facts))

    metrics: tuple[str, ...]
    if outputs.analyser == "nginxNode":
        namespace, metrics = "AWS/ApplicationELB", ("RequestCount",)
    else:
        namespace, metrics = "AWS/NetworkELB", ("ProcessedBytes", "ProcessedPackets")
    sums = _ask(
        results,
        "traffic",
        outputs.load_balancer_dimension,
        lambda: aws.traffic(namespace, metrics, outputs.load_balancer_dimension, TRAFFIC_MINUTES),
    )
    if isinstance(sums, dict):
        results.append(check_traffic(outputs, sums))

    watched = {outputs.load_balancer_dimension, outputs.target_group_dimension, outputs.asg_name}
    if outputs.enrolment_function:
        watched.add(outputs.enrolment_function)
    alarms = _ask(
        results, "alarms", outputs.alarm_prefix or "alarms", lambda: aws.alarms(outputs.alarm_prefix, watched)
    )
    if isinstance(alarms, tuple):
        results.append(check_alarms(outputs, *alarms))
    return results
