"""Which config keys mean something for which analyser, and the sentence for a key set on the wrong one.

A key of the other analyser is refused rather than ignored: a user who sets `certificateArn` on a
traffic-mirroring stack believes the copy is encrypted, and it is not (mirrored packets are copied
as they are on the wire).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import NAMESPACE

# key -> what it is for, in the words of the sentence that refuses it elsewhere.
NGINX_NODE_ONLY: Mapping[str, str] = {
    "albSubnetIds": "the subnets of the mirror ALB; nativeNode puts its NLB in nodeSubnetIds",
    "mirrorSourceSecurityGroupIds": "ALB ingress from web-tier security groups; nativeNode takes mirrorSourceCidrs",
    "nodeVersion": "the Wallarm NGINX node AMI; nativeNode uses nativeNodeVersion",
    "mode": "the NGINX node's filtration mode",
    "libdetection": "an NGINX node setting",
    "globalSnippet": "NGINX text for the NGINX node",
    "httpSnippet": "NGINX text for the NGINX node",
    "serverSnippet": "NGINX text for the NGINX node",
    "postScript": "a script run after the NGINX node's cloud-init.py",
    "nodePort": "the NGINX node's HTTP port; the Native Node reads VXLAN on UDP 4789",
    "healthCheckPort": "the NGINX node's health check; the Native Node's is documented (:8080 /ready)",
    "healthCheckPath": "the NGINX node's health check; the Native Node's is documented (:8080 /ready)",
    "certificateArn": "TLS between the web tier and the ALB; traffic mirroring copies packets as they are",
    "sslPolicy": "TLS between the web tier and the ALB; traffic mirroring copies packets as they are",
    "endpointHostname": "the name the web tier mirrors to; traffic mirroring needs no web-tier change",
    "mirrorOptions": "the generated web-tier mirror configs; traffic mirroring needs no web-tier change",
    "requestsPerNodeTarget": "scaling on ALB requests per node; an NLB has no request count",
    "accessLogsBucket": "ALB access logs; an NLB logs TLS listeners only",
    "createAccessLogsBucket": "ALB access logs; an NLB logs TLS listeners only",
    "accessLogsPrefix": "ALB access logs; an NLB logs TLS listeners only",
    "accessLogsRetentionDays": "ALB access logs; an NLB logs TLS listeners only",
}
NATIVE_NODE_ONLY: Mapping[str, str] = {
    "nativeNodeVersion": "the Wallarm Native Node installer",
    "nativeNodeInstallerSha256": "the Wallarm Native Node installer",
    "trafficMirrorSourceEniIds": "AWS VPC Traffic Mirroring sessions",
    "trafficMirrorSourceTags": "AWS VPC Traffic Mirroring enrolment",
    "trafficMirrorMethod": "how the Native Node's copies are made (AWS sessions or the host script)",
    "trafficMirrorPorts": "the traffic mirror filter",
    "trafficMirrorIpv6": "the traffic mirror filter",
    "trafficMirrorVni": "AWS VPC Traffic Mirroring sessions",
    "trafficMirrorSessionNumber": "AWS VPC Traffic Mirroring sessions",
    "trafficMirrorShareWith": "sharing the Native Node hub's traffic mirror target (AWS RAM)",
    "trafficMirrorShareExternal": "sharing the Native Node hub's traffic mirror target (AWS RAM)",
}
ONLY_FOR = {"nginxNode": NATIVE_NODE_ONLY, "nativeNode": NGINX_NODE_ONLY}
OTHER = {"nginxNode": "nativeNode", "nativeNode": "nginxNode"}


def misplaced_keys(raw: Mapping[str, Any]) -> dict[str, str]:
    """The keys of `raw` that belong to the other analyser, each with its sentence."""
    analyzer = raw.get("analyzer", "nginxNode")
    if not isinstance(analyzer, str) or analyzer not in ONLY_FOR:
        return {}  # the model refuses the analyser itself
    return {
        key: (
            f"{NAMESPACE}:{key}: only applies when analyzer is {OTHER[analyzer]} ({ONLY_FOR[analyzer][key]}); "
            f"this stack's analyzer is {analyzer}. Fix: pulumi config rm {NAMESPACE}:{key}"
        )
        for key in raw
        if key in ONLY_FOR[analyzer]
    }
