"""The rules of the nativeNode keys (Wallarm Native Node, AWS VPC Traffic Mirroring); see checks.py."""

from __future__ import annotations

import re

from pydantic import ValidationInfo

from .checks import ids

# VXLAN input (tcp_stream.from_vxlan) arrived in Native Node 0.24.0 (facts, section 9).
MIN_NATIVE_NODE_VERSION = (0, 24, 0)
_ENI_ID = re.compile(r"^eni-([0-9a-f]{8}|[0-9a-f]{17})$")
# AWS allows 10 rules per traffic mirror filter (quotas page). A port takes two rules, ingress to it
# and egress from it, per address family: IPv4 only, 2 per port (5 ports); with IPv6 (dual-stack
# sources, trafficMirrorIpv6), 4 per port (2 ports, 8 rules).
FILTER_RULES = 10
MAX_MIRROR_PORTS = FILTER_RULES // 2
MAX_MIRROR_PORTS_WITH_IPV6 = FILTER_RULES // 4
# trafficMirrorEnrolmentRate: EC2 refills CreateTrafficMirrorSession's bucket (and
# DeleteTrafficMirrorSession's) 5 a second; traffic_mirror/enrolment.py says why the default is 4.
# The same figures as its DEFAULT_MUTATION_RATE and MAX_MUTATION_RATE (config imports no package
# below it; a test keeps them equal).
DEFAULT_ENROLMENT_RATE = 4.0
MAX_ENROLMENT_RATE = 5.0


def native_node_version(v: str) -> str:
    if not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", v):
        raise ValueError(f"{v!r} is not a version like 0.25.5 (major.minor.patch)")
    if tuple(int(part) for part in v.split(".")) < MIN_NATIVE_NODE_VERSION:
        raise ValueError(f"{v} is older than 0.24.0, the first Native Node that reads VXLAN (traffic mirroring)")
    return v


def sha256(v: str | None) -> str | None:
    if v is not None and not re.fullmatch(r"[0-9a-f]{64}", v):
        raise ValueError(f"{v!r} is not a SHA-256 (64 lowercase hex digits, as sha256sum prints)")
    return v


def eni_ids(v: list[str]) -> list[str]:
    return ids(v, _ENI_ID, "network interface id", "eni-0123456789abcdef0")


def source_tags(v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
    for key, value in v.items():
        if key.lower().startswith("aws:") or not 1 <= len(key) <= 128 or len(value) > 256:
            raise ValueError(
                f"{key!r}: AWS tag keys are 1-128 characters, not starting with 'aws:', values at most 256"
            )
    traffic_mirroring = info.data.get("analyzer") in ("nativeNode", "nativeSpoke")
    if not v and traffic_mirroring and info.data.get("traffic_mirror_source_eni_ids") == []:
        raise ValueError(
            "no traffic to mirror: set trafficMirrorSourceEniIds (fixed interfaces) or trafficMirrorSourceTags "
            "(instances carrying these tags, also those launched later)"
        )
    return v


def mirror_ports(v: list[int], info: ValidationInfo) -> list[int]:
    if not v:
        raise ValueError("is empty; list the TCP ports the application serves HTTP on, e.g. [80]")
    bad = [port for port in v if not 1 <= port <= 65535]
    if bad:
        raise ValueError(f"{', '.join(map(str, bad))} is not a TCP port (1-65535)")
    if len(set(v)) != len(v):
        raise ValueError("lists a port more than once; list each once")
    # A trafficMirrorIpv6 that failed its own check is reported there; count as with its default.
    if info.data.get("traffic_mirror_ipv6", True):
        if len(v) > MAX_MIRROR_PORTS_WITH_IPV6:
            raise ValueError(
                f"lists {len(v)} ports; a traffic mirror filter holds {FILTER_RULES} rules and with "
                "trafficMirrorIpv6 (the default) each port takes four (TCP to and from it, IPv4 and IPv6), so "
                f"at most {MAX_MIRROR_PORTS_WITH_IPV6}; list fewer ports, or set trafficMirrorIpv6 to false to "
                f"mirror IPv4 only (two rules per port, at most {MAX_MIRROR_PORTS})"
            )
    elif len(v) > MAX_MIRROR_PORTS:
        raise ValueError(
            f"lists {len(v)} ports; a traffic mirror filter holds {FILTER_RULES} rules and with IPv4 only each "
            f"port takes two (TCP to and from it), so at most {MAX_MIRROR_PORTS}"
        )
    return v


def traffic_mirror_method(v: str, info: ValidationInfo) -> str:
    """What host mirroring needs of the other source keys (see components/host_mirroring.py)."""
    if info.data.get("analyzer") not in ("nativeNode", "nativeSpoke") or v == "aws":
        return v
    tags = info.data.get("traffic_mirror_source_tags")
    enis = info.data.get("traffic_mirror_source_eni_ids")
    if v == "host" and enis:
        raise ValueError(
            "host copies the instances found by trafficMirrorSourceTags, and trafficMirrorSourceEniIds always get "
            "AWS sessions: list those instances by tag instead, or use auto or aws"
        )
    # host with no tags and no interfaces is refused by source_tags already: "no traffic to mirror".
    if tags is not None and len(tags) > 1:
        raise ValueError(
            f"{v} reaches hosts through one State Manager association, which selects instances by one tag, and "
            f"trafficMirrorSourceTags has {len(tags)}: keep one tag, or use aws (sessions only)"
        )
    return v


def enrolment_rate(v: float) -> float:
    if not 0 < v <= MAX_ENROLMENT_RATE:  # NaN fails this too
        raise ValueError(
            f"{v:g} calls a second is outside (0, {MAX_ENROLMENT_RATE:g}]: EC2 refills its bucket for "
            f"CreateTrafficMirrorSession {MAX_ENROLMENT_RATE:g} a second per account and Region, and a faster "
            f"function would only be throttled; use e.g. {DEFAULT_ENROLMENT_RATE:g}"
        )
    return v
