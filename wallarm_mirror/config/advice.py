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
    if PRODUCTION_STACK.search(stack):
        where = f"stack {stack} looks like production, but"
        if config.min_size < 2:
            notes.append(
                f"{where} {NAMESPACE}:minSize is {config.min_size}: one node failing leaves the "
                "analyser blind. Use 2 or more."
            )
        if len(config.nodes_subnets) < 2:
            notes.append(
                f"{where} the nodes have one subnet (one availability zone). List two or more "
                f"in {NAMESPACE}:nodeSubnetIds."
            )
        if not config.deletion_protection:
            notes.append(f"{where} {NAMESPACE}:deletionProtection is false.")
        if not config.alarms_enabled:
            notes.append(f"{where} {NAMESPACE}:alarmsEnabled is false: nobody learns when the analyser goes blind.")
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
