"""Wallarm node families and what differs between them on the AMI.

Wallarm moved `cloud-init.py` under /opt/wallarm in 4.10, documents the `mirror` preset only for
4.x, and moved the node's own health and metrics endpoints in 7.x. Each family therefore gets one
profile instead of one hard-coded path. Pure data: no Pulumi import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# The Wallarm AMIs are published through the shared AWS Marketplace account (it also publishes
# other vendors' images), so the owner alone does not identify Wallarm: the name pattern does.
MARKETPLACE_OWNER_ID = "679593333241"
DEFAULT_NODE_VERSION = "6.13"
MIRROR_LISTENER_PORT = 8445

LEGACY_SCRIPT = "/usr/share/wallarm-common/cloud-init.py"
ALL_IN_ONE_SCRIPT = "/opt/wallarm/usr/share/wallarm-common/cloud-init.py"


@dataclass(frozen=True)
class NodeProfile:
    """How one family of Wallarm node versions is booted and probed (no cloud resources)."""

    family: str
    first: tuple[int, int]  # first version of the family, inclusive
    last_before: tuple[int, int]  # first version of the next family, exclusive
    cloud_init_path: str
    preset: Literal["mirror", "custom"]
    node_port: int
    health_check_port: int
    health_check_path: str
    # For the custom preset our own NGINX server answers the ALB health check; on 7.x it proxies
    # the node daemon's readiness endpoint so "healthy" means "initialised", not "nginx is up".
    health_upstream: str | None
    documented: tuple[str, ...]
    inferred: tuple[str, ...]

    def covers(self, version: tuple[int, int]) -> bool:
        return self.first <= version < self.last_before

    @property
    def own_health_server(self) -> bool:
        """Whether our http snippet must add the health-check server (the mirror preset has its own)."""
        return self.preset == "custom"


PROFILES: tuple[NodeProfile, ...] = (
    NodeProfile(
        family="4.0-4.8",
        first=(4, 0),
        last_before=(4, 10),
        cloud_init_path=LEGACY_SCRIPT,
        preset="mirror",
        node_port=8445,
        health_check_port=9445,
        health_check_path="/-/healthcheck",
        health_upstream=None,
        documented=(
            f"script at {LEGACY_SCRIPT}",
            "`-p mirror` preset",
            "mirror traffic on 8445, health check HTTP :9445 /-/healthcheck (Wallarm Terraform module)",
        ),
        inferred=(),
    ),
    NodeProfile(
        family="4.10-4.x",
        first=(4, 10),
        last_before=(5, 0),
        cloud_init_path=ALL_IN_ONE_SCRIPT,
        preset="mirror",
        node_port=8445,
        health_check_port=9445,
        health_check_path="/-/healthcheck",
        health_upstream=None,
        documented=(
            f"script moved to {ALL_IN_ONE_SCRIPT} (4.10 release notes)",
            "`-p mirror` preset listed by the 4.10 help text",
        ),
        inferred=("the mirror preset still serves 8445 and the :9445 health check, as on 4.8",),
    ),
    NodeProfile(
        family="5.x-6.x",
        first=(5, 0),
        last_before=(7, 0),
        cloud_init_path=ALL_IN_ONE_SCRIPT,
        preset="custom",
        node_port=80,
        health_check_port=9447,
        health_check_path="/-/healthcheck",
        health_upstream=None,
        documented=(
            f"script at {ALL_IN_ONE_SCRIPT}",
            "`-p mirror` is gone from the 5.x+ help text, so `-p custom` with our own server snippet",
            "the node's default server listens on 80 (Wallarm's Envoy mirroring example)",
            "wallarm_force server_addr/server_port and zeroed response fields make the node "
            "analyse mirrored copies (Docker/all-in-one OOB docs)",
        ),
        inferred=(
            "our health server on :9447 answers once NGINX runs, which the boot script allows only "
            "after cloud-init.py succeeded",
        ),
    ),
    NodeProfile(
        family="7.x",
        first=(7, 0),
        last_before=(8, 0),
        cloud_init_path=ALL_IN_ONE_SCRIPT,
        preset="custom",
        node_port=80,
        health_check_port=9447,
        health_check_path="/-/healthcheck",
        health_upstream="http://127.0.0.1:9446/ready",
        documented=(
            "7.x node daemon: readiness at 127.0.0.1:9446/ready (503 until initialised), "
            "metrics at 127.0.0.1:9445, so 9445 is no longer a health port",
        ),
        inferred=(
            f"cloud-init.py still at {ALL_IN_ONE_SCRIPT}",
            "our :9447 health server proxies /ready so the ALB sees the daemon's readiness",
        ),
    ),
)


def parse_version(text: str) -> tuple[int, int]:
    """'6.13' -> (6, 13); the caller has checked the shape."""
    major, minor = text.split(".")
    return int(major), int(minor)


def profile_for(version: str) -> NodeProfile | None:
    """The profile whose family covers `version`, or None for a version we know nothing about."""
    wanted = parse_version(version)
    return next((p for p in PROFILES if p.covers(wanted)), None)


def ami_name_pattern(version: str) -> str:
    """AMI name filter: Wallarm names images wallarm-node-<major>-<minor>-..., e.g. wallarm-node-6-13-0-2026..."""
    major, minor = parse_version(version)
    return f"wallarm-node-{major}-{minor}-*"
