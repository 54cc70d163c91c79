"""Warnings about settings that are valid but unwise: shown by `pulumi up` and the offline plan, never errors."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .model import NAMESPACE

if TYPE_CHECKING:
    from .model import StackConfig

# A stack named like production: prod, prod-eu, eu-prod, production ...
PRODUCTION_STACK = re.compile(r"(^|[-_.])prod(uction)?($|[-_.])")


def advice(config: StackConfig, stack: str) -> list[str]:
    """Valid but unwise settings, as warnings (never errors)."""
    notes = []
    if config.spoke:
        return spoke_advice(config, stack)
    if PRODUCTION_STACK.search(stack):
        where = f"stack {stack} looks like production, but"
        if config.min_size < 2:
            notes.append(
                f"{where} {NAMESPACE}:minSize is {config.min_size}: one node failing leaves the "
                "analyser blind. Use 2 or more."
            )
        # Subnets a network stack supplies are counted only when they resolve (the component's check).
        subnets_known = config.node_subnet_ids is not None or config.alb_subnet_ids is not None
        if subnets_known and len(config.nodes_subnets) < 2:
            notes.append(
                f"{where} the nodes have one subnet (one availability zone). List two or more "
                f"in {NAMESPACE}:nodeSubnetIds."
            )
        if not config.deletion_protection:
            notes.append(f"{where} {NAMESPACE}:deletionProtection is false.")
        if not config.alarms_enabled:
            notes.append(f"{where} {NAMESPACE}:alarmsEnabled is false: nobody learns when the analyser goes blind.")
    if config.native:
        notes += native_advice(config)
    else:
        if config.mode in ("safe_blocking", "block"):
            notes.append(
                f"{NAMESPACE}:mode is {config.mode}, but nodes only see copies of requests: "
                "out-of-band analysis can only monitor, nothing will be blocked. Use monitoring."
            )
        if config.mode == "off":
            notes.append(f"{NAMESPACE}:mode is off: the nodes will not analyse the mirrored traffic.")
        if config.tls and config.endpoint_hostname is None:
            notes.append(
                f"{NAMESPACE}:endpointHostname is not set: the web tier will mirror to the ALB's "
                "amazonaws.com name, which no ACM certificate covers, so TLS verification fails there. "
                "Point a DNS alias covered by certificateArn at the ALB and set endpointHostname."
            )
        if not config.tls:
            notes.append(
                f"{NAMESPACE}:certificateArn is not set: mirrored requests (credentials, personal "
                "data) cross the VPC in plain HTTP. Set an ACM certificate for HTTPS."
            )
    if config.token_delivery == "userData":
        notes.append(
            f"{NAMESPACE}:tokenDelivery is userData: anyone allowed "
            "ec2:DescribeLaunchTemplateVersions can read the token. Prefer secretsManager or ssm."
        )
    return notes


# AWS VPC Traffic Mirroring guide, "Traffic mirror source" limitations (read 2026-12-01; re-check):
# Nitro families that cannot be a source, and the only non-Nitro ones that can: two lists of
# opposite meaning, so the warning gives each its own sentence.
UNSUPPORTED_SOURCE_FAMILIES = "M6i, M7i, C6i, C7g, R6i, R7i, bare-metal types and others"
NON_NITRO_SOURCES = "C4, D2, G3, G3s, H1, I3, M4, P2, P3, R4, X1 and X1e (not T2)"
# Ports that usually carry TLS, which the node cannot read.
TLS_PORTS = frozenset({443, 8443})


# What becomes of the instance types AWS cannot mirror, by trafficMirrorMethod.
_OTHER_TYPES = {
    "auto": "The host script copies tagged instances of the other types instead (trafficMirrorMethod auto; "
    "docs/host-mirroring.md).",
    "aws": "Sessions on other types fail; the enrolment function logs and skips them (trafficMirrorMethod auto "
    "would copy them on the host).",
    "host": "With trafficMirrorMethod host the host script copies every tagged instance, whatever its type.",
}


def spoke_advice(config: StackConfig, stack: str) -> list[str]:
    """A spoke runs no nodes: only what concerns its sources and its enrolment alarms."""
    notes = [
        "analyzer nativeSpoke: the copies leave this VPC for the hub's NLB; the route from the mirrored "
        "subnets to the hub's NLB subnets (transit gateway or peering), the network ACLs and the hub's "
        f"{NAMESPACE}:mirrorSourceCidrs are yours to set (docs/organisation.md). `status` checks the routes.",
        "analyzer nativeSpoke: not every instance type can be a traffic mirror source (AWS's list). "
        f"Cannot be one: {UNSUPPORTED_SOURCE_FAMILIES}. {_OTHER_TYPES[config.traffic_mirror_method]}",
    ]
    if PRODUCTION_STACK.search(stack) and not config.alarms_enabled:
        notes.append(
            f"stack {stack} looks like production, but {NAMESPACE}:alarmsEnabled is false: nobody learns when "
            "this spoke's enrolment fails."
        )
    return notes


def native_advice(config: StackConfig) -> list[str]:
    """What a user of traffic mirroring must know before the first `pulumi up`."""
    notes = [
        "analyzer nativeNode: AWS copies packets as they are on the wire and the node does not decrypt "
        "TLS. Mirror the interfaces that see plain HTTP (the web tier behind the load balancer that "
        f"terminates TLS) on {NAMESPACE}:trafficMirrorPorts.",
        "analyzer nativeNode: not every instance type can be a traffic mirror source (AWS's list). "
        f"Cannot be one: {UNSUPPORTED_SOURCE_FAMILIES}. Of the older, non-Nitro types only these can: "
        f"{NON_NITRO_SOURCES}. {_OTHER_TYPES[config.traffic_mirror_method]}",
        "analyzer nativeNode: AWS bills traffic mirroring per hour per network interface with mirroring "
        "enabled (one session per mirrored interface); whether a stopped source is billed is not documented, "
        "so the enrolment function deletes the sessions of stopped instances.",
    ]
    tls = sorted(TLS_PORTS & set(config.traffic_mirror_ports))
    if tls:
        notes.append(
            f"{NAMESPACE}:trafficMirrorPorts lists {', '.join(map(str, tls))}, which usually carries TLS: the "
            "node cannot read encrypted traffic. Mirror the plain-HTTP port behind your TLS terminator."
        )
    if config.native_node_installer_sha256 is None:
        notes.append(
            f"{NAMESPACE}:nativeNodeInstallerSha256 is not set: nodes run whatever the installer host "
            "serves for this version over HTTPS. Pin its checksum (sha256sum of "
            f"aio-native-{config.native_node_version}.<arch>.sh)."
        )
    return notes
