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
    "trafficMirrorEnrolmentRate": "AWS VPC Traffic Mirroring enrolment",
    "trafficMirrorShareWith": "sharing the Native Node hub's traffic mirror target (AWS RAM)",
    "trafficMirrorShareExternal": "sharing the Native Node hub's traffic mirror target (AWS RAM)",
}
# Keys of the analysers that run nodes; a spoke (nativeSpoke) runs none: it only enrols its web tier
# into a hub's analyser.
NODE_KEYS: Mapping[str, str] = {
    "networkStack": "the network of the NLB or ALB and the nodes; a spoke builds none",
    "networkOutputs": "the network of the NLB or ALB and the nodes; a spoke builds none",
    "vpcId": "the VPC of the NLB or ALB and the nodes; a spoke builds none",
    "nodeSubnetIds": "the subnets of the nodes and their NLB; a spoke runs none",
    "nodeEgressCidrs": "the nodes' HTTPS egress; a spoke runs no nodes",
    "token": "the nodes' Wallarm token; a spoke runs no nodes, the hub holds the token",
    "tokenDelivery": "how nodes get the token; a spoke runs no nodes",
    "tokenKmsKeyArn": "the stored token's key; a spoke stores no token",
    "nodeGroup": "the nodes' Wallarm group; a spoke runs no nodes",
    "apiHost": "the Wallarm Cloud the nodes report to; a spoke runs no nodes",
    "amiId": "the nodes' image; a spoke runs no nodes",
    "instanceType": "the nodes' instance type; a spoke runs no nodes",
    "rootVolumeSize": "the nodes' disk; a spoke runs no nodes",
    "minSize": "the node group's size; a spoke runs no nodes",
    "maxSize": "the node group's size; a spoke runs no nodes",
    "desiredCapacity": "the node group's size; a spoke runs no nodes",
    "cpuTarget": "the node group's scaling; a spoke runs no nodes",
    "deletionProtection": "the load balancer's deletion protection; a spoke has no load balancer",
    "dashboardEnabled": "the dashboard of the load balancer and nodes; a spoke has neither (the hub's shows them)",
    "extraPolicyArns": "the node role's policies; a spoke runs no nodes",
}
# A spoke's own keys.
SPOKE_ONLY: Mapping[str, str] = {
    "hubStack": "the hub a spoke enrols into",
    "hubOutputs": "the hub a spoke enrols into",
}
# nativeNode keys whose value a spoke takes from its hub, each with the reason.
FROM_HUB: Mapping[str, str] = {
    "trafficMirrorVni": "the hub's nodes accept only the hub's VNI (its traffic_mirror_vni output)",
    "trafficMirrorPorts": "the hub's nodes analyse only the hub's ports (its traffic_mirror_ports output)",
}
# The nativeNode keys a spoke has too (its own sources, sessions and enrolment); the others (the
# installer, the hub's RAM share, the VNI and ports) stay the hub's.
_SPOKE_TAKES = frozenset(
    {
        "trafficMirrorSourceEniIds",
        "trafficMirrorSourceTags",
        "trafficMirrorMethod",
        "trafficMirrorIpv6",
        "trafficMirrorSessionNumber",
        "trafficMirrorEnrolmentRate",
    }
)

ANALYZERS = ("nginxNode", "nativeNode", "nativeSpoke")


def _where(key: str) -> tuple[tuple[str, ...], str] | None:
    """The analysers a key applies to, and what it is for; None for a key of every analyser."""
    if key in NGINX_NODE_ONLY:
        return ("nginxNode",), NGINX_NODE_ONLY[key]
    if key in NATIVE_NODE_ONLY:
        owners = ("nativeNode", "nativeSpoke") if key in _SPOKE_TAKES else ("nativeNode",)
        return owners, NATIVE_NODE_ONLY[key]
    if key in NODE_KEYS:
        return ("nginxNode", "nativeNode"), NODE_KEYS[key]
    if key in SPOKE_ONLY:
        return ("nativeSpoke",), SPOKE_ONLY[key]
    return None


def refused_keys(analyzer: str) -> frozenset[str]:
    """The config keys that `analyzer` refuses (those of the other analysers)."""
    keys = [*NGINX_NODE_ONLY, *NATIVE_NODE_ONLY, *NODE_KEYS, *SPOKE_ONLY]
    return frozenset(key for key in keys if analyzer not in (_where(key) or (ANALYZERS, ""))[0])


def misplaced_keys(raw: Mapping[str, Any]) -> dict[str, str]:
    """The keys of `raw` that belong to another analyser, each with its sentence."""
    analyzer = raw.get("analyzer", "nginxNode")
    if not isinstance(analyzer, str) or analyzer not in ANALYZERS:
        return {}  # the model refuses the analyser itself
    found = {}
    for key in raw:
        fix = f"Fix: pulumi config rm {NAMESPACE}:{key}"
        if analyzer == "nativeSpoke" and key in FROM_HUB:
            found[key] = f"{NAMESPACE}:{key}: a spoke takes it from its hub: {FROM_HUB[key]}. {fix}"
            continue
        where = _where(key)
        if where is not None and analyzer not in where[0]:
            owners, purpose = where
            found[key] = (
                f"{NAMESPACE}:{key}: only applies when analyzer is {' or '.join(owners)} ({purpose}); "
                f"this stack's analyzer is {analyzer}. {fix}"
            )
    return found
