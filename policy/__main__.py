"""What Pulumi runs for `pulumi preview --policy-pack policy`: serves the policies of rules.py.

`PolicyPack(...)` starts the analyzer's gRPC server and blocks, so nothing may import this module;
the tests import `rules` instead.
"""

from pulumi_policy import PolicyPack
from rules import PACK_ENFORCEMENT, PACK_NAME, POLICIES

PolicyPack(
    name=PACK_NAME,
    description="Guardrails every wallarm-mirror stack keeps: internal load balancers, no open or SSH ingress, "
    "IMDSv2, encrypted volumes, no token in user data, monitoring mode, deletion protection in production, "
    "traffic mirroring of the application's TCP ports only, both ways, to the stack's own target.",
    enforcement_level=PACK_ENFORCEMENT,
    policies=list(POLICIES),
)
