"""Host mirroring (trafficMirrorMethod auto or host): the host script delivered by AWS Systems Manager.

An SSM Command document holds the whole script, rendered from the stack config and the NLB's DNS
name: nothing is downloaded when it runs. A State Manager association runs it on every instance
carrying the source tag, also those launched later (State Manager applies an association to new
targets as they appear), and again every 30 minutes, so a reboot or a changed tc set-up is repaired
and the script's lease (host_mirror) is renewed; when the association is gone, the lease runs out
and each host takes its mirroring away by itself.

Facts relied on (AWS Systems Manager user guide, read 2026-12):
- Associations take rate expressions of 30 minutes or more ("Reference: Cron and rate expressions
  for Systems Manager", https://docs.aws.amazon.com/systems-manager/latest/userguide/reference-cron-and-rate-expressions.html).
- Association targets: `Key=tag:<key>,Values=<value>` (API_Target). Several tag filters in one
  target list were refused by Run Command ("Specifying multiple target filters is not supported
  yet", aws/aws-cli#2670); that associations behave the same is inferred: the config allows one
  source tag with host mirroring.
- A document's content must not exceed 64 KB (CreateDocument API reference, `Content`; the error
  MaxDocumentSizeExceeded: "The size limit of a document is 64 KB").
- `aws:runShellScript` runs the commands as root with `sh` on Linux; `{{ name }}` in them is
  replaced by the document parameter (SSM document syntax reference), so the script itself must
  not contain `{{`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from ..host_mirror.script import HostScriptSpec, render_host_script

SCHEDULE = "rate(30 minutes)"
# Three runs of the association: a host keeps mirroring through two missed runs, and stops by itself
# within 90 minutes of the association's deletion (destroy, or trafficMirrorMethod aws).
LEASE_SECONDS = 3 * 30 * 60
MAX_DOCUMENT_BYTES = 64 * 1024
HEREDOC = "WALLARM_MIRROR_HOST_SCRIPT"
ACTIONS = ("apply", "remove")
RUN_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class HostMirroringArgs:
    stack: str
    method: str
    source_tags: dict[str, str]
    # Inputs: a spoke sends to its hub's NLB with the hub's VNI and ports (StackReference outputs).
    vni: pulumi.Input[int]
    ports: pulumi.Input[list[int]]
    nlb_dns_name: pulumi.Input[str]
    tags: dict[str, str]
    # The NLB node's address per availability-zone ID: a host prefers its own zone's (inter-zone
    # data costs money; zone names differ between accounts, zone IDs do not). Empty: DNS only.
    zone_addresses: pulumi.Input[dict[str, str]] = dataclasses.field(default_factory=dict)


def document_name(stack: str) -> str:
    """The SSM document's name: one per stack and region (SSM names allow letters, digits, _ . -)."""
    return f"wallarm-mirror-{stack}-host-mirror"


def document_content(spec: HostScriptSpec) -> str:
    """The Command document (JSON) that writes the script to a temporary file and runs it as root."""
    script = render_host_script(spec)
    if "{{" in script:
        raise ValueError("the host script contains '{{', which SSM would read as a document parameter")
    if HEREDOC in script:
        raise ValueError(f"the host script contains {HEREDOC}, the here-document's end marker")
    run = [
        "set -eu",
        # The script is root's for one run: a private temporary file, removed however the run ends.
        "script=$(mktemp /tmp/wallarm-mirror-host.XXXXXX)",
        "trap 'rm -f \"$script\"' EXIT",
        f"cat > \"$script\" <<'{HEREDOC}'",
        *script.rstrip("\n").split("\n"),
        HEREDOC,
        # allowedValues keeps {{ action }} to these two words: nothing else reaches the shell.
        "case '{{ action }}' in",
        '  apply) sh "$script" install ;;',
        '  remove) sh "$script" uninstall ;;',
        "esac",
    ]
    document = {
        "schemaVersion": "2.2",
        "description": f"wallarm-mirror {spec.stack}: copy TCP {', '.join(map(str, spec.ports))} of this host to the "
        "Wallarm Native Nodes (tc + VXLAN); the script is fixed by the stack, nothing is downloaded",
        "parameters": {
            "action": {
                "type": "String",
                "description": "apply: install the script and mirror now; remove: take every change away",
                "default": "apply",
                "allowedValues": list(ACTIONS),
            }
        },
        "mainSteps": [
            {
                "action": "aws:runShellScript",
                "name": "hostMirror",
                "precondition": {"StringEquals": ["platformType", "Linux"]},
                "inputs": {"timeoutSeconds": str(RUN_TIMEOUT_SECONDS), "runCommand": run},
            }
        ],
    }
    content = json.dumps(document, indent=1, sort_keys=True)
    if len(content.encode()) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"the host mirroring document is {len(content.encode())} bytes; SSM takes at most 64 KB")
    return content


class HostMirroring(pulumi.ComponentResource):
    """Creates the SSM Command document holding the host script and the State Manager association
    that runs it on the instances carrying the source tag: at once, on every new one, and every 30
    minutes."""

    def __init__(self, name: str, args: HostMirroringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wallarm:mirror:HostMirroring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        [(tag_key, tag_value)] = args.source_tags.items()  # the config allows exactly one (see above)

        def content(values: list[Any]) -> str:
            dns_name, vni, ports, zones = values
            return document_content(
                HostScriptSpec(
                    stack=args.stack,
                    method=args.method,
                    vni=int(vni),
                    ports=tuple(int(port) for port in ports),
                    nlb_dns_name=dns_name,
                    lease_seconds=LEASE_SECONDS,
                    zone_addresses=tuple(sorted(dict(zones or {}).items())),
                )
            )

        self.document = aws.ssm.Document(
            f"{name}-host-mirror",
            name=document_name(args.stack),
            document_type="Command",
            document_format="JSON",
            target_type="/AWS::EC2::Instance",
            content=pulumi.Output.all(args.nlb_dns_name, args.vni, args.ports, args.zone_addresses).apply(content),
            tags=args.tags,
            opts=child,
        )
        self.association = aws.ssm.Association(
            f"{name}-host-mirror",
            association_name=f"wallarm-mirror-{args.stack}-host-mirror",
            name=self.document.name,
            # The newest version: a changed script (ports, VNI, NLB) updates the association, and
            # State Manager runs an updated association at once.
            document_version=self.document.latest_version,
            targets=[aws.ssm.AssociationTargetArgs(key=f"tag:{tag_key}", values=[tag_value])],
            parameters={"action": "apply"},
            schedule_expression=SCHEDULE,
            # Each host is independent: one host's failure must not stop the others.
            max_errors="100%",
            max_concurrency="20%",
            compliance_severity="MEDIUM",
            tags=args.tags,
            opts=child,
        )
        self.register_outputs(
            {"host_mirror_document_name": self.document.name, "host_mirror_association_id": self.association.id}
        )
