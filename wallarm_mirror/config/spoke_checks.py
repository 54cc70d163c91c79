"""The rules of the nativeSpoke keys: a spoke enrols its web tier into a hub's analyser; see checks.py.

The hub is a nativeNode stack (in a security account) whose traffic mirror target is shared with the
spoke's account by AWS RAM. The spoke reads the hub's outputs, by the names `pulumi stack output
--json` prints for the hub (HUB_OUTPUTS), from `hubStack` (a StackReference, read by program.py) or
from `hubOutputs` (the same names, in the stack file). Other outputs of the hub are ignored, so the
hub's whole `pulumi stack output --json` may be pasted into hubOutputs.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationInfo

from .checks import _STACK_NAME, HOSTNAME

SPOKE = "nativeSpoke"
_TARGET_ID = re.compile(r"^tmt-([0-9a-f]{8}|[0-9a-f]{17})$")
_TARGET_ARN = re.compile(
    r"^arn:(aws|aws-cn|aws-us-gov):ec2:([a-z]{2}(-[a-z]+)+-[0-9]):([0-9]{12}):traffic-mirror-target/(tmt-[0-9a-f]+)$"
)
_ZONE_ID = re.compile(r"^[a-z]{2,4}[0-9]+-az[0-9]+$")
MAX_VNI = 16_777_215
# A filter holds 10 rules; a port takes 2 of them with IPv4 only, 4 with IPv6 (native_checks.py).
MAX_HUB_PORTS = {False: 5, True: 2}

# The hub's outputs a spoke uses: name as the hub prints it -> what it is, for the sentences.
HUB_OUTPUTS: Mapping[str, str] = {
    "traffic_mirror_target_id": "the shared traffic mirror target (tmt-...)",
    "traffic_mirror_target_arn": "its ARN, in the hub's account",
    "nlb_dns_name": "the hub NLB's DNS name (host mirroring sends to it)",
    "traffic_mirror_vni": "the VNI the hub's nodes accept",
    "traffic_mirror_ports": "the TCP ports the hub's nodes analyse",
    "mirror_source_cidrs": "the CIDRs the hub's nodes accept VXLAN from",
}
# Also part of the hub's contract, not used by the spoke yet (checked when given).
OPTIONAL_HUB_OUTPUTS: Mapping[str, str] = {
    "nlb_zone_addresses": "the NLB's private address per availability-zone ID",
}


def hub_stack(v: str | None) -> str | None:
    if v is not None and not _STACK_NAME.fullmatch(v):
        raise ValueError(f"{v!r} is not a stack reference; write org/project/stack, e.g. acme/wallarm-mirror/hub")
    return v


def _text(pattern: re.Pattern[str]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and pattern.fullmatch(value) is not None


def _is_vni(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_VNI


def _is_ports(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(type(p) is int and 1 <= p <= 65535 for p in value)


def _is_cidrs(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_network(c) is not None for c in value)


def _is_zone_addresses(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(zone, str) and _ZONE_ID.fullmatch(zone) and _ipv4(address) for zone, address in value.items()
    )


# Each hub output's shape, and what the sentence says when a value does not have it.
_SHAPES: Mapping[str, tuple[Callable[[Any], bool], str]] = {
    "traffic_mirror_target_id": (_text(_TARGET_ID), "is not a traffic mirror target id (tmt-...)"),
    "traffic_mirror_target_arn": (
        _text(_TARGET_ARN),
        "is not a traffic mirror target ARN (arn:aws:ec2:<region>:<hub account>:traffic-mirror-target/tmt-...)",
    ),
    "nlb_dns_name": (_text(HOSTNAME), "is not a DNS name"),
    "traffic_mirror_vni": (_is_vni, f"is not a VNI (an integer, 0-{MAX_VNI})"),
    "traffic_mirror_ports": (_is_ports, "is not a non-empty list of TCP ports (1-65535)"),
    "mirror_source_cidrs": (_is_cidrs, "is not a non-empty list of CIDRs"),
    "nlb_zone_addresses": (
        _is_zone_addresses,
        "is not a map of availability-zone IDs (like euw1-az1) to IPv4 addresses",
    ),
}


def _problem(name: str, value: Any) -> str | None:
    """What is wrong with one hub output's value, or None."""
    shape, what = _SHAPES[name]
    return None if shape(value) else f"{name} {value!r} {what}"


# Numbers reach a program as floats from Pulumi's engine (a StackReference's outputs, JSON config):
# 4242.0 is the VNI 4242.
_NUMERIC = frozenset({"traffic_mirror_vni", "traffic_mirror_ports"})


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_whole(item) for item in value]
    return value


def _network(text: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not isinstance(text, str):
        return None
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        return None


def _within(
    net: ipaddress.IPv4Network | ipaddress.IPv6Network, outer: ipaddress.IPv4Network | ipaddress.IPv6Network
) -> bool:
    if isinstance(net, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return net.subnet_of(outer)
    if isinstance(net, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return net.subnet_of(outer)
    return False


def _ipv4(text: Any) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def hub_outputs(v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
    """Exactly one of hubStack and hubOutputs on a spoke; every output the spoke uses, well formed."""
    if info.data.get("analyzer") != SPOKE:
        return v  # analyzers.py refuses the key itself on the other analysers
    stack = info.data.get("hub_stack", "")  # "": hubStack failed its own check (reported there)
    if v and stack:
        raise ValueError(
            "and hubStack are both set; a spoke reads its hub from one: keep hubStack (the hub's stack, read at "
            "deploy) or hubOutputs (its outputs written here)"
        )
    if not v:
        if stack is None:
            raise ValueError(
                "is not set and neither is hubStack: a spoke enrols into a hub's analyser; set hubStack to the "
                "hub's stack (org/project/stack) or hubOutputs to its outputs (pulumi stack output --json)"
            )
        return v
    v = {name: _whole(value) if name in _NUMERIC else value for name, value in v.items()}
    missing = [name for name in HUB_OUTPUTS if name not in v]
    if missing:
        raise ValueError(
            f"has no {', '.join(missing)} ({'; '.join(HUB_OUTPUTS[m] for m in missing)}); give every output of the "
            f"hub a spoke uses ({', '.join(HUB_OUTPUTS)}), as `pulumi stack output --json` of the hub prints them"
        )
    problems = [
        p for p in (_problem(name, v[name]) for name in [*HUB_OUTPUTS, *OPTIONAL_HUB_OUTPUTS] if name in v) if p
    ]
    if problems:
        raise ValueError("; ".join(problems))
    arn = _TARGET_ARN.fullmatch(v["traffic_mirror_target_arn"])
    assert arn is not None  # checked above
    if arn.group(5) != v["traffic_mirror_target_id"]:
        raise ValueError(
            f"traffic_mirror_target_arn names {arn.group(5)} but traffic_mirror_target_id is "
            f"{v['traffic_mirror_target_id']}: give both outputs of the same hub"
        )
    return v


def hub(info: ValidationInfo) -> Mapping[str, Any] | None:
    """The hub's checked outputs when this is a spoke whose hub is known at validation, else None."""
    if info.data.get("analyzer") != SPOKE:
        return None
    return info.data.get("hub_outputs") or None


def inside_hub(v: list[str], info: ValidationInfo) -> list[str]:
    """A spoke's mirrorSourceCidrs must each lie inside one of the hub's: its nodes drop other VXLAN."""
    found = hub(info)
    if found is None:
        return v
    accepted = [n for n in (_network(c) for c in found["mirror_source_cidrs"]) if n is not None]
    outside = []
    for text in v:
        net = _network(text)
        if net is not None and not any(_within(net, a) for a in accepted):
            outside.append(text)
    if outside:
        raise ValueError(
            f"{', '.join(outside)} {'lies' if len(outside) == 1 else 'lie'} outside the hub's mirror_source_cidrs "
            f"({', '.join(found['mirror_source_cidrs'])}): the hub's nodes accept VXLAN only from those. Add this "
            "spoke's subnets to the hub stack's mirrorSourceCidrs first (and deploy it), or list the subnets "
            "this spoke really mirrors"
        )
    return v


def ipv6_with_hub_ports(v: bool, info: ValidationInfo) -> bool:
    """The spoke's filter holds the hub's ports: 10 rules, 4 per port with IPv6, 2 without."""
    found = hub(info)
    if found is None:
        return v
    ports = found["traffic_mirror_ports"]
    if len(ports) > MAX_HUB_PORTS[v]:
        if v:
            raise ValueError(
                f"is true (the default) and the hub analyses {len(ports)} ports ({', '.join(map(str, ports))}); "
                "a traffic mirror filter holds 10 rules and with IPv6 each port takes four, so at most 2: set "
                "trafficMirrorIpv6 to false to mirror IPv4 only (at most 5 ports)"
            )
        raise ValueError(
            f"the hub analyses {len(ports)} ports; a traffic mirror filter holds 10 rules, two per port with IPv4 "
            "only, so at most 5: the hub must list fewer trafficMirrorPorts"
        )
    return v
