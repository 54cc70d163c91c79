"""The AWS CLI command that mirrors one more network interface to a stack's Native Nodes by hand."""

from __future__ import annotations

import json
import shlex

PLACEHOLDER_ENI = "<eni-id>"


def create_session_command(
    *,
    stack: str,
    region: str,
    session_number: int,
    vni: int,
    description: str,
    tags: dict[str, str],
    network_interface_id: str = PLACEHOLDER_ENI,
) -> str:
    """`aws ec2 create-traffic-mirror-session` with this stack's target, filter, VNI and session number.

    The target and filter ids are read from the deployed stack's outputs when the command runs, so
    the command is right for the real stack, not for the offline plan's stand-in ids. The session
    carries the stack's tags but not the enrolment function's managed-by tag: a session made by
    hand is never deleted by the function.
    """

    def output(name: str) -> str:
        return f'"$(pulumi stack output {name} --stack {shlex.quote(stack)})"'

    # JSON rather than the CLI's shorthand: tag values may hold commas, braces and '='.
    tag_spec = json.dumps(
        [
            {
                "ResourceType": "traffic-mirror-session",
                "Tags": [{"Key": key, "Value": value} for key, value in sorted(tags.items())],
            }
        ]
    )
    eni = network_interface_id if network_interface_id == PLACEHOLDER_ENI else shlex.quote(network_interface_id)
    lines = [
        "aws ec2 create-traffic-mirror-session",
        f"--region {shlex.quote(region)}",
        f"--network-interface-id {eni}",
        f"--traffic-mirror-target-id {output('traffic_mirror_target_id')}",
        f"--traffic-mirror-filter-id {output('traffic_mirror_filter_id')}",
        f"--session-number {session_number}",
        f"--virtual-network-id {vni}",
        f"--description {shlex.quote(description)}",
        f"--tag-specifications {shlex.quote(tag_spec)}",
    ]
    return " \\\n    ".join(lines) + "\n"
