"""The stack outputs `status` reads: from a file `pulumi stack output --json` wrote, or from the CLI.

Only standard library here: a bad outputs file is reported (exit 2) before boto3 is imported.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Analyser = Literal["nginxNode", "nativeNode", "nativeSpoke"]

# arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/wallarm-mirror-alb/0123456789abcdef
_ELB_ARN = re.compile(
    r"arn:aws[a-z-]*:elasticloadbalancing:(?P<region>[a-z0-9-]+):[0-9]{12}:"
    r"(?P<resource>(?P<kind>loadbalancer/(?P<lb_type>app|net)|targetgroup)/[A-Za-z0-9-]+/[0-9a-f]+)"
)
# The keys each analyser's stack exports (components/stack.py, components/native_analyser.py).
_LOAD_BALANCER_KEY: dict[Analyser, str] = {"nginxNode": "alb_arn", "nativeNode": "nlb_arn"}
_LOAD_BALANCER_TYPE: dict[Analyser, str] = {"nginxNode": "app", "nativeNode": "net"}
_KIND_NAMES = {
    "loadbalancer/app": "an application load balancer",
    "loadbalancer/net": "a network load balancer",
    "targetgroup": "a target group",
}
_PULUMI_TIMEOUT = 120  # seconds: the CLI reads the state backend (a network call for the Pulumi Cloud)


class OutputsError(Exception):
    """The outputs cannot be read or are not a wallarm-mirror stack's: bad input, exit 2."""


@dataclass(frozen=True)
class StackOutputs:
    """What `status` needs of a stack's outputs, validated: which analyser, and where its parts are."""

    analyser: Analyser
    load_balancer_arn: str
    target_group_arn: str
    asg_name: str
    region: str  # from the ARNs
    stack: str | None = None  # known with --stack: the alarms' names carry it
    session_ids: tuple[str, ...] = ()
    enrolment_function: str | None = None
    alarm_topic_arn: str | None = None
    mirror_target_id: str | None = None  # nativeNode: the traffic mirror target (the NLB); a spoke: its hub's
    host_mirror_association: str | None = None  # nativeNode, trafficMirrorMethod auto or host
    # nativeSpoke: its mirrored subnets' CIDRs, and the hub NLB's address per zone ID (to check the routes).
    source_cidrs: tuple[str, ...] = ()
    hub_addresses: tuple[tuple[str, str], ...] = ()

    @property
    def load_balancer_dimension(self) -> str:
        """CloudWatch's LoadBalancer dimension: the ARN after `loadbalancer/` (app/NAME/ID)."""
        return self.load_balancer_arn.split(":loadbalancer/", 1)[1]

    @property
    def target_group_dimension(self) -> str:
        """CloudWatch's TargetGroup dimension: the ARN's resource part (targetgroup/NAME/ID)."""
        return self.target_group_arn.rsplit(":", 1)[1]

    @property
    def alarm_prefix(self) -> str | None:
        """Every alarm of the stack is named `wallarm-mirror-<stack>-<suffix>` (components/alarms.py)."""
        return f"wallarm-mirror-{self.stack}-" if self.stack else None


def stack_short_name(stack: str) -> str:
    """`org/project/dev` -> `dev`: the name the program sees (pulumi.get_stack()) and puts in alarm names."""
    return stack.rsplit("/", 1)[-1]


def parse_outputs(text: str, source: str, stack: str | None = None) -> StackOutputs:
    """Validate `pulumi stack output --json` text; every problem found is named in one OutputsError."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise OutputsError(
            f"{source} is not JSON ({error.msg} at line {error.lineno}): write it with `pulumi stack output --json`"
        ) from None
    if not isinstance(document, dict):
        raise OutputsError(f"{source} holds a JSON {type(document).__name__}, not the object of a stack's outputs")
    if "hub_traffic_mirror_target_id" in document:
        return _spoke_outputs(document, source, stack)
    if "alb_arn" in document:
        analyser: Analyser = "nginxNode"
    elif "nlb_arn" in document:
        analyser = "nativeNode"
    else:
        keys = ", ".join(sorted(document)) or "none"
        raise OutputsError(
            f"{source} has neither alb_arn (nginxNode) nor nlb_arn (nativeNode) (its keys: {keys}): "
            "is it the `pulumi stack output --json` of a wallarm-mirror stack, and did `pulumi up` finish?"
        )
    lb_key = _LOAD_BALANCER_KEY[analyser]
    problems: list[str] = []

    def text_value(key: str) -> str:
        value = document.get(key)
        if value is None:
            problems.append(f"{key} is missing")
        elif not isinstance(value, str) or not value or value == "[secret]":
            problems.append(f"{key} is {json.dumps(value)}, not a name or an ARN")
        else:
            return value
        return ""

    lb_arn, tg_arn, asg = text_value(lb_key), text_value("target_group_arn"), text_value("asg_name")
    regions = set()
    for key, arn, kind in (
        (lb_key, lb_arn, f"loadbalancer/{_LOAD_BALANCER_TYPE[analyser]}"),
        ("target_group_arn", tg_arn, "targetgroup"),
    ):
        found = _ELB_ARN.fullmatch(arn) if arn else None
        if arn and (found is None or found["kind"] != kind):
            problems.append(f"{key} {arn!r} is not the ARN of {_KIND_NAMES[kind]} (…:{kind}/NAME/ID)")
        elif found is not None:
            regions.add(found["region"])
    if len(regions) > 1:
        problems.append(f"{lb_key} and target_group_arn name different regions ({', '.join(sorted(regions))})")
    sessions = document.get("traffic_mirror_session_ids", [])
    if not isinstance(sessions, list) or not all(isinstance(s, str) for s in sessions):
        problems.append(f"traffic_mirror_session_ids is {json.dumps(sessions)}, not a list of ids")
        sessions = []
    if problems:
        raise OutputsError(f"{source} ({analyser} outputs): " + "; ".join(problems))
    function = document.get("enrolment_function_name")
    topic = document.get("alarm_topic_arn")
    target = document.get("traffic_mirror_target_id")
    association = document.get("host_mirror_association_id")
    return StackOutputs(
        analyser=analyser,
        load_balancer_arn=lb_arn,
        target_group_arn=tg_arn,
        asg_name=asg,
        region=regions.pop(),
        stack=stack_short_name(stack) if stack else None,
        session_ids=tuple(sessions),
        enrolment_function=function if isinstance(function, str) else None,
        alarm_topic_arn=topic if isinstance(topic, str) else None,
        mirror_target_id=target if isinstance(target, str) and target else None,
        host_mirror_association=association if isinstance(association, str) and association else None,
    )


_TARGET_ARN = re.compile(r"arn:aws[a-z-]*:ec2:(?P<region>[a-z0-9-]+):[0-9]{12}:traffic-mirror-target/[A-Za-z0-9-]+")


def _spoke_outputs(document: dict[str, object], source: str, stack: str | None) -> StackOutputs:
    """A spoke's outputs (analyzer nativeSpoke): no load balancer or nodes, its hub's target and addresses."""
    problems: list[str] = []
    target = document.get("hub_traffic_mirror_target_id")
    if not isinstance(target, str) or not target:
        problems.append(f"hub_traffic_mirror_target_id is {json.dumps(target)}, not a traffic mirror target id")
    arn = document.get("hub_traffic_mirror_target_arn")
    found = _TARGET_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if found is None:
        problems.append(f"hub_traffic_mirror_target_arn is {json.dumps(arn)}, not a traffic mirror target's ARN")
    cidrs = document.get("mirror_source_cidrs")
    if not isinstance(cidrs, list) or not cidrs or not all(isinstance(c, str) for c in cidrs):
        problems.append(f"mirror_source_cidrs is {json.dumps(cidrs)}, not a list of CIDRs")
        cidrs = []
    addresses = document.get("hub_nlb_zone_addresses") or {}
    if not isinstance(addresses, dict) or not all(isinstance(v, str) for v in addresses.values()):
        problems.append(f"hub_nlb_zone_addresses is {json.dumps(addresses)}, not a map of zone IDs to addresses")
        addresses = {}
    sessions = document.get("traffic_mirror_session_ids", [])
    if not isinstance(sessions, list) or not all(isinstance(s, str) for s in sessions):
        problems.append(f"traffic_mirror_session_ids is {json.dumps(sessions)}, not a list of ids")
        sessions = []
    if problems or found is None or not isinstance(target, str):
        raise OutputsError(f"{source} (nativeSpoke outputs): " + "; ".join(problems))
    function = document.get("enrolment_function_name")
    topic = document.get("alarm_topic_arn")
    association = document.get("host_mirror_association_id")
    return StackOutputs(
        analyser="nativeSpoke",
        load_balancer_arn="",
        target_group_arn="",
        asg_name="",
        region=found["region"],  # a spoke is in its hub's Region
        stack=stack_short_name(stack) if stack else None,
        session_ids=tuple(sessions),
        enrolment_function=function if isinstance(function, str) else None,
        alarm_topic_arn=topic if isinstance(topic, str) else None,
        mirror_target_id=target,
        host_mirror_association=association if isinstance(association, str) and association else None,
        source_cidrs=tuple(cidrs),
        hub_addresses=tuple(sorted(addresses.items())),
    )


def read_outputs_file(path: Path, stack: str | None = None) -> StackOutputs:
    """The outputs saved by `pulumi stack output --json > FILE`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise OutputsError(f"cannot read the outputs file {path}: {reason}") from None
    return parse_outputs(text, f"the outputs file {path}", stack)


def pulumi_stack_outputs(stack: str) -> StackOutputs:
    """Run `pulumi stack output --json --stack NAME` (secrets stay hidden: status needs none)."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise OutputsError(
            f"--stack {stack} needs the Pulumi CLI, and `pulumi` is not on PATH: install it "
            "(https://www.pulumi.com/docs/install/) or pass --outputs FILE, written where the CLI runs by "
            f"`pulumi stack output --json --stack {stack} > FILE`"
        )
    command = [pulumi, "stack", "output", "--json", "--stack", stack]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=_PULUMI_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise OutputsError(f"`{' '.join(command[1:])}` did not answer in {_PULUMI_TIMEOUT} s") from None
    except OSError as error:
        raise OutputsError(f"cannot run {pulumi}: {error.strerror}") from None
    if run.returncode != 0:
        said = " ".join(run.stderr.split())[-400:] or f"exit status {run.returncode}"
        raise OutputsError(f"`pulumi {' '.join(command[1:])}` failed: {said}")
    return parse_outputs(run.stdout, f"the outputs of stack {stack}", stack)
