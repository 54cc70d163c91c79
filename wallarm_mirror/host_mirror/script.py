"""The host mirroring script: a pure function of the stack's settings.

`render_host_script(spec)` fills the POSIX sh template `host-mirror.sh` (package data beside this
module) with the stack's values. The script copies the application's TCP traffic from the host's
interface to the stack's NLB as VXLAN with tc (clsact, u32, mirred) and a vxlan device; see
docs/host-mirroring.md for what it does and why.

The instance-type rule is the enrolment function's (`mirror_method`): the script carries the same
tables, rendered from `UNSUPPORTED_FAMILIES` and `XEN_FAMILIES_UNSUPPORTED`, never a copy of them.
Importing this module loads the standard library and the enrolment module only (no Pulumi).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from ..traffic_mirror.enrolment import UNSUPPORTED_FAMILIES, XEN_FAMILIES_UNSUPPORTED

TEMPLATE = Path(__file__).resolve().with_name("host-mirror.sh")

METHODS = ("auto", "host")
MAX_VNI = 16_777_215
MAX_PORTS = 5
VXLAN_PORT = 4789
MIN_LEASE_SECONDS = 60
MAX_LEASE_SECONDS = 7 * 24 * 3600
# Linux interface names hold at most 15 characters (IFNAMSIZ 16 with the NUL).
IFNAME_MAX = 15
# tc gives filters added without a priority 49152 and counts down from there; Cilium's legacy tc
# programs sit at 1. Each stack takes four neighbouring priorities in 20000-29999.
PRIORITY_BASE = 20_000
PRIORITY_SLOTS = 2_500
INSTALL_DIR = "/usr/local/sbin"

_STACK = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_DNS_NAME = re.compile(r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")
# Availability zone IDs: euw1-az1, use1-az6, and Local Zones' usw2-lax1-az1 (RAM user guide, AZ IDs).
_ZONE_ID = re.compile(r"[a-z]{2,}[0-9]+(-[a-z0-9]+)*-az[0-9]+")
# name-id.elb.REGION.amazonaws.com (.cn in the China regions): the form AWS gives NLB DNS names.
_NLB_REGION = re.compile(r"\.elb\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(\.cn)?$")


@dataclass(frozen=True)
class HostScriptSpec:
    """What the host mirroring script of one stack is made from."""

    stack: str  # Pulumi stack name (letters, digits, -, _, .): in the names of what the script creates
    method: str  # "auto" or "host" ("aws" never renders a script)
    vni: int  # 0..16777215, stamped on every VXLAN packet
    ports: tuple[int, ...]  # TCP ports of the application, 1-5 of them; both directions are mirrored
    nlb_dns_name: str | None  # the NLB's regional DNS name; None when printed offline (apply needs --remote)
    lease_seconds: int = 5400  # apply/install renew the lease; guard stops everything once it passed
    # (availability zone ID, the NLB node's IPv4 address in it): a hub's nlb_zone_addresses. Preferred
    # over DNS: a zone ID names the same physical zone in every account, a zone name does not.
    zone_addresses: tuple[tuple[str, str], ...] = ()


def _digest(stack: str) -> int:
    return int(hashlib.sha256(stack.encode()).hexdigest()[:8], 16)


def device_name(stack: str) -> str:
    """The vxlan device: `wm-<stack>`, or a shortened stack name and a hash when that is too long."""
    name = f"wm-{stack}"
    if len(name) <= IFNAME_MAX:
        return name
    return f"wm-{stack[:6]}-{_digest(stack):08x}"[:IFNAME_MAX]


def priorities(stack: str) -> tuple[int, int, int, int]:
    """The tc priorities of the stack's filters: ingress IPv4, ingress IPv6, egress IPv4, egress IPv6.

    A stack's own and stable across renders. One per direction because u32 shares its tables among
    the filters of one qdisc and lists every table of a priority under both directions of clsact.
    """
    first = PRIORITY_BASE + 4 * (_digest(stack) % PRIORITY_SLOTS)
    return first, first + 1, first + 2, first + 3


def install_path(stack: str) -> str:
    return f"{INSTALL_DIR}/wallarm-host-mirror-{stack}"


def control_name(nlb_dns_name: str) -> str:
    """A name that resolves whenever the region's resolver works (the SSM endpoint, which the SSM agent
    that delivers the script needs anyway): tells "the NLB is gone" from "DNS does not answer"."""
    match = _NLB_REGION.search(nlb_dns_name)
    if match is None:  # validated before
        raise ValueError(f"{nlb_dns_name} is not an NLB DNS name")
    return f"ssm.{match.group(1)}.amazonaws.com{match.group(2) or ''}"


def _problem(spec: HostScriptSpec) -> str | None:
    """The first thing wrong with the spec, as one sentence; None when it can be rendered."""
    if not isinstance(spec.stack, str) or not _STACK.fullmatch(spec.stack):
        return f"stack {spec.stack!r} must be 1-100 letters, digits, '-', '_' or '.'"
    if spec.method == "aws":
        return "method 'aws' never renders a host script: AWS Traffic Mirroring copies every source then"
    if spec.method not in METHODS:
        return f"method {spec.method!r} is not one of auto, host"
    if isinstance(spec.vni, bool) or not isinstance(spec.vni, int) or not 0 <= spec.vni <= MAX_VNI:
        return f"vni {spec.vni!r} must be an integer from 0 to {MAX_VNI}"
    ports = spec.ports
    if not isinstance(ports, tuple) or not 1 <= len(ports) <= MAX_PORTS:
        return f"ports {ports!r} must be a tuple of 1 to {MAX_PORTS} TCP ports"
    for port in ports:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            return f"port {port!r} must be an integer from 1 to 65535"
    if len(set(ports)) != len(ports):
        return f"ports {ports!r} name a port twice"
    if spec.nlb_dns_name is not None:
        name = spec.nlb_dns_name
        if not isinstance(name, str) or not _DNS_NAME.fullmatch(name) or not _NLB_REGION.search(name):
            return f"nlb_dns_name {name!r} must be an NLB's DNS name (name-id.elb.REGION.amazonaws.com), or None"
    zones = spec.zone_addresses
    if not isinstance(zones, tuple):
        return f"zone_addresses {zones!r} must be a tuple of (zone ID, IPv4 address) pairs"
    for pair in zones:
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(part, str) for part in pair)):
            return f"zone_addresses item {pair!r} must be a (zone ID, IPv4 address) pair"
        zone, address = pair
        if not _ZONE_ID.fullmatch(zone):
            return (
                f"zone_addresses zone {zone!r} must be an availability zone ID like euw1-az1 "
                "(not a name like eu-west-1a)"
            )
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            return f"zone_addresses address {address!r} of {zone} must be an IPv4 address"
    if len({zone for zone, _ in zones}) != len(zones):
        return f"zone_addresses {zones!r} name a zone twice"
    lease = spec.lease_seconds
    if isinstance(lease, bool) or not isinstance(lease, int) or not MIN_LEASE_SECONDS <= lease <= MAX_LEASE_SECONDS:
        return f"lease_seconds {lease!r} must be an integer from {MIN_LEASE_SECONDS} to {MAX_LEASE_SECONDS}"
    return None


def render_host_script(spec: HostScriptSpec) -> str:
    """The POSIX sh script that mirrors this stack's ports on a host; ValueError for a bad spec."""
    problem = _problem(spec)
    if problem is not None:
        raise ValueError(f"cannot render the host mirroring script: {problem}.")
    in4, in6, out4, out6 = priorities(spec.stack)
    values = {
        "STACK": spec.stack,
        "METHOD": spec.method,
        "VNI": str(spec.vni),
        "PORTS": " ".join(str(port) for port in spec.ports),
        "NLB_DNS_NAME": spec.nlb_dns_name or "",
        "ZONE_ADDRESSES": " ".join(f"{zone}={address}" for zone, address in spec.zone_addresses),
        "CONTROL_NAME": control_name(spec.nlb_dns_name) if spec.nlb_dns_name else "",
        "LEASE": str(spec.lease_seconds),
        "DEV": device_name(spec.stack),
        "IN4": str(in4),
        "IN6": str(in6),
        "OUT4": str(out4),
        "OUT6": str(out6),
        "UNSUPPORTED_FAMILIES": " ".join(sorted(UNSUPPORTED_FAMILIES)),
        "XEN_FAMILIES": " ".join(sorted(XEN_FAMILIES_UNSUPPORTED)),
        "INSTALL_PATH": install_path(spec.stack),
    }
    text = re.sub(r"@@([A-Z0-9_]+)@@", lambda match: values[match.group(1)], TEMPLATE.read_text())
    return text
