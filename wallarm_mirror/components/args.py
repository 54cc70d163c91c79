"""The components' args: one field per stack config key (generated, do not edit).

WallarmMirrorArgs takes every key (any analyser); NginxAnalyserArgs, NativeAnalyserArgs and
NativeSpokeArgs take only the keys of their analyser, and require what it requires.

Regenerate with `python -m wallarm_mirror config-reference --args-module >
wallarm_mirror/components/args.py`; a test keeps it equal to the config model. Each field's
docstring is its reference text (the Pulumi schema takes descriptions from these docstrings).
"""

# ruff: noqa: E501  (each docstring is one line of reference text)
# No `from __future__ import annotations`: the schema analyzer reads these annotations at run time.
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, Required, TypedDict

import pulumi


class WallarmMirrorArgs(TypedDict, total=False):
    """What one Wallarm mirror analyser is built from; the same rules as the stack config."""

    analyzer: NotRequired[str]
    """What analyses the copy: nginxNode (the web tier mirrors HTTP requests to an internal ALB) or nativeNode (AWS VPC Traffic Mirroring copies packets to an NLB of Wallarm Native Nodes) or nativeSpoke (this account's web tier is mirrored to a nativeNode hub in another account or VPC; no NLB, no nodes). One of: nginxNode, nativeNode, nativeSpoke. Config key: wallarm-mirror:analyzer; default "nginxNode"."""

    hub_outputs: NotRequired[Mapping[str, Any]]
    """nativeSpoke: the hub's outputs, named as `pulumi stack output --json` of the hub prints them (traffic_mirror_target_id, traffic_mirror_target_arn, nlb_dns_name, traffic_mirror_vni, traffic_mirror_ports, mirror_source_cidrs; others are ignored). Config key: wallarm-mirror:hubOutputs; default {}."""

    vpc_id: Required[pulumi.Input[str]]
    """VPC that holds the ALB and the nodes. Config key: wallarm-mirror:vpcId."""

    alb_subnet_ids: NotRequired[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """Subnets of the internal ALB: two or more, in different availability zones (nginxNode; required there). Config key: wallarm-mirror:albSubnetIds."""

    node_subnet_ids: NotRequired[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """Subnets of the Wallarm nodes; defaults to albSubnetIds. nativeNode: required, and the NLB's subnets too. Config key: wallarm-mirror:nodeSubnetIds."""

    mirror_source_cidrs: NotRequired[Sequence[str]]
    """CIDRs of the web servers that mirror traffic; each gets one ALB ingress rule (nativeNode: where mirrored packets come from; each gets one UDP 4789 rule on the nodes; nativeSpoke: the mirrored subnets, each inside one of the hub's). Config key: wallarm-mirror:mirrorSourceCidrs; default []."""

    mirror_source_security_group_ids: NotRequired[Sequence[pulumi.Input[str]]]
    """Security groups of the web servers that mirror traffic; each gets one ALB ingress rule. Config key: wallarm-mirror:mirrorSourceSecurityGroupIds; default []."""

    node_egress_cidrs: NotRequired[Sequence[str]]
    """Where nodes may open HTTPS (443): the Wallarm Cloud, AWS APIs. Narrow it behind a proxy. Config key: wallarm-mirror:nodeEgressCidrs; default ["0.0.0.0/0"]."""

    token: Required[pulumi.Input[str]]
    """Wallarm node or API token. Set it with `pulumi config set --secret`. Config key: wallarm-mirror:token."""

    token_delivery: NotRequired[str]
    """How nodes get the token: secretsManager, ssm (SecureString) or userData (anchor's way). One of: secretsManager, ssm, userData. Config key: wallarm-mirror:tokenDelivery; default "secretsManager"."""

    token_kms_key_arn: NotRequired[pulumi.Input[str]]
    """Customer KMS key that encrypts the stored token (secretsManager/ssm). Config key: wallarm-mirror:tokenKmsKeyArn."""

    node_group: NotRequired[str]
    """Wallarm node group label (WALLARM_LABELS group=...); used with API tokens. Config key: wallarm-mirror:nodeGroup."""

    api_host: NotRequired[str]
    """Wallarm API host: api.wallarm.com (EU) or us1.api.wallarm.com (US). Config key: wallarm-mirror:apiHost; default "api.wallarm.com"."""

    node_version: NotRequired[str]
    """Wallarm node major.minor; picks the AMI and the node profile. Config key: wallarm-mirror:nodeVersion; default "6.13"."""

    ami_id: NotRequired[pulumi.Input[str]]
    """Pin an AMI instead of looking up the newest of nodeVersion. Config key: wallarm-mirror:amiId."""

    mode: NotRequired[str]
    """Wallarm filtration mode; out-of-band analysis can only monitor. One of: off, monitoring, safe_blocking, block. Config key: wallarm-mirror:mode; default "monitoring"."""

    libdetection: NotRequired[bool]
    """Turn on Wallarm's libdetection. Config key: wallarm-mirror:libdetection; default false."""

    global_snippet: NotRequired[pulumi.Input[str]]
    """NGINX text for the main context of the node. Config key: wallarm-mirror:globalSnippet; default ""."""

    http_snippet: NotRequired[pulumi.Input[str]]
    """NGINX text for the node's http {} block. Config key: wallarm-mirror:httpSnippet; default ""."""

    server_snippet: NotRequired[pulumi.Input[str]]
    """NGINX text for the node's server {} block. Config key: wallarm-mirror:serverSnippet; default ""."""

    post_script: NotRequired[pulumi.Input[str]]
    """Bash run after the node is set up; a failure is reported. Config key: wallarm-mirror:postScript; default ""."""

    node_port: NotRequired[int]
    """Port nodes serve mirrored traffic on; overrides the node profile. Config key: wallarm-mirror:nodePort."""

    health_check_port: NotRequired[int]
    """Node health-check port; overrides the node profile. Config key: wallarm-mirror:healthCheckPort."""

    health_check_path: NotRequired[str]
    """Node health-check path; overrides the node profile. Config key: wallarm-mirror:healthCheckPath."""

    native_node_version: NotRequired[str]
    """Version of Wallarm's all-in-one Native Node installer (x.y.z, 0.24.0 or newer: VXLAN input). Config key: wallarm-mirror:nativeNodeVersion; default "0.25.12"."""

    native_node_installer_sha256: NotRequired[str]
    """SHA-256 of the installer for that version and architecture; the boot checks it. Config key: wallarm-mirror:nativeNodeInstallerSha256."""

    traffic_mirror_share_with: NotRequired[Sequence[str]]
    """Share the traffic mirror target (AWS RAM) with these account ids, OU ARNs or your organization's ARN, so their spoke stacks create sessions to it. Default: not shared. Config key: wallarm-mirror:trafficMirrorShareWith; default []."""

    traffic_mirror_share_external: NotRequired[bool]
    """Let the RAM share of the traffic mirror target reach accounts outside your organization (allowExternalPrincipals; they must accept the share). Default false: RAM refuses them. Config key: wallarm-mirror:trafficMirrorShareExternal; default false."""

    traffic_mirror_source_eni_ids: NotRequired[Sequence[pulumi.Input[str]]]
    """Network interfaces whose traffic is mirrored (one session each). Config key: wallarm-mirror:trafficMirrorSourceEniIds; default []."""

    traffic_mirror_source_tags: NotRequired[Mapping[str, str]]
    """Instances carrying all these tags get their primary network interface mirrored, also those launched later (an enrolment Lambda). Config key: wallarm-mirror:trafficMirrorSourceTags; default {}."""

    traffic_mirror_method: NotRequired[str]
    """How tagged instances are copied: aws (a traffic mirror session), host (tc + VXLAN on the host, delivered by SSM) or auto (aws where AWS can mirror the instance type, host elsewhere). One of: auto, aws, host. Config key: wallarm-mirror:trafficMirrorMethod; default "auto"."""

    traffic_mirror_ipv6: NotRequired[bool]
    """Mirror IPv6 too (dual-stack sources): four filter rules per port instead of two, so at most 2 ports (5 with false). Config key: wallarm-mirror:trafficMirrorIpv6; default true."""

    traffic_mirror_ports: NotRequired[Sequence[int]]
    """TCP ports of the application: mirrored in both directions, nothing else (at most 2; 5 with trafficMirrorIpv6 false). Config key: wallarm-mirror:trafficMirrorPorts; default [80]."""

    traffic_mirror_vni: NotRequired[int]
    """VXLAN network id of the sessions; the node accepts only it. Config key: wallarm-mirror:trafficMirrorVni; default 4242."""

    traffic_mirror_session_number: NotRequired[int]
    """Priority of our sessions among those on the same interface (1 first). Config key: wallarm-mirror:trafficMirrorSessionNumber; default 1."""

    traffic_mirror_enrolment_rate: NotRequired[float]
    """Traffic mirror sessions the enrolment function may create (and, apart, delete) a second; EC2 refills 5 a second for each, the default leaves a fifth to the account's other callers. Config key: wallarm-mirror:trafficMirrorEnrolmentRate; default 4.0."""

    instance_type: NotRequired[str]
    """EC2 type of the nodes: x86_64 for nginxNode (the Wallarm AMI); x86_64 or Graviton for nativeNode. Config key: wallarm-mirror:instanceType; default "t3.medium"."""

    root_volume_size: NotRequired[int]
    """Root volume size in GiB (gp3). Config key: wallarm-mirror:rootVolumeSize; default 30."""

    min_size: NotRequired[int]
    """Fewest nodes. Config key: wallarm-mirror:minSize; default 1."""

    max_size: NotRequired[int]
    """Most nodes; at least 1 and at least minSize. Config key: wallarm-mirror:maxSize; default 3."""

    desired_capacity: NotRequired[int]
    """Nodes at creation, within [minSize, maxSize]; scaling owns it afterwards. Config key: wallarm-mirror:desiredCapacity; default 1."""

    cpu_target: NotRequired[float]
    """Average CPU % that scaling aims at. Config key: wallarm-mirror:cpuTarget; default 70.0."""

    certificate_arn: NotRequired[pulumi.Input[str]]
    """ACM certificate; when set the mirror listener speaks HTTPS. Config key: wallarm-mirror:certificateArn."""

    ssl_policy: NotRequired[str]
    """ELB TLS policy of the HTTPS listener; default ELBSecurityPolicy-TLS13-1-2-2021-06. Config key: wallarm-mirror:sslPolicy."""

    deletion_protection: NotRequired[bool]
    """Protect the ALB from deletion. Config key: wallarm-mirror:deletionProtection; default true."""

    endpoint_hostname: NotRequired[str]
    """DNS alias of the ALB that the web tier mirrors to (the name your certificate covers); default: the ALB's own DNS name. Config key: wallarm-mirror:endpointHostname."""

    mirror_options: NotRequired[Mapping[str, Any]]
    """How the generated web-tier configs mirror: samplePercent, locations, primaryUpstream, timeoutSeconds, maxConnections, hosts, istioGateways, tlsVerify, tlsCaFile, tlsServerName, nginxResolver, nginxVersion, nginxRelayPort. Config key: wallarm-mirror:mirrorOptions; default {}."""

    alarms_enabled: NotRequired[bool]
    """CloudWatch alarms for a blind or struggling analyser. Config key: wallarm-mirror:alarmsEnabled; default true."""

    alarm_topic_arn: NotRequired[pulumi.Input[str]]
    """SNS topic for alarm actions; without it the stack creates one. Config key: wallarm-mirror:alarmTopicArn."""

    dashboard_enabled: NotRequired[bool]
    """A CloudWatch dashboard of the analyser. Config key: wallarm-mirror:dashboardEnabled; default false."""

    requests_per_node_target: NotRequired[float]
    """Also scale on ALB requests per node (ALBRequestCountPerTarget). Config key: wallarm-mirror:requestsPerNodeTarget."""

    access_logs_bucket: NotRequired[pulumi.Input[str]]
    """Existing S3 bucket for ALB access logs. Config key: wallarm-mirror:accessLogsBucket."""

    create_access_logs_bucket: NotRequired[bool]
    """Create an encrypted, private, expiring bucket for ALB access logs. Config key: wallarm-mirror:createAccessLogsBucket; default false."""

    access_logs_prefix: NotRequired[str]
    """Key prefix of the ALB access logs. Config key: wallarm-mirror:accessLogsPrefix; default "wallarm-mirror"."""

    access_logs_retention_days: NotRequired[int]
    """Days the created access-log bucket keeps logs. Config key: wallarm-mirror:accessLogsRetentionDays; default 90."""

    extra_policy_arns: NotRequired[Sequence[pulumi.Input[str]]]
    """More IAM policies for the node role. Config key: wallarm-mirror:extraPolicyArns; default []."""

    tags: NotRequired[Mapping[str, str]]
    """Tags on every taggable resource, with app and stack. Config key: wallarm-mirror:tags; default {}."""


class NginxAnalyserArgs(TypedDict, total=False):
    """What the NGINX node analyser is built from: the web tier mirrors HTTP copies to an internal ALB."""

    vpc_id: Required[pulumi.Input[str]]
    """VPC that holds the ALB and the nodes. Config key: wallarm-mirror:vpcId."""

    alb_subnet_ids: Required[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """Subnets of the internal ALB: two or more, in different availability zones (nginxNode; required there). Config key: wallarm-mirror:albSubnetIds."""

    node_subnet_ids: NotRequired[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """Subnets of the Wallarm nodes; defaults to albSubnetIds. nativeNode: required, and the NLB's subnets too. Config key: wallarm-mirror:nodeSubnetIds."""

    mirror_source_cidrs: NotRequired[Sequence[str]]
    """CIDRs of the web servers that mirror traffic; each gets one ALB ingress rule (nativeNode: where mirrored packets come from; each gets one UDP 4789 rule on the nodes; nativeSpoke: the mirrored subnets, each inside one of the hub's). Config key: wallarm-mirror:mirrorSourceCidrs; default []."""

    mirror_source_security_group_ids: NotRequired[Sequence[pulumi.Input[str]]]
    """Security groups of the web servers that mirror traffic; each gets one ALB ingress rule. Config key: wallarm-mirror:mirrorSourceSecurityGroupIds; default []."""

    node_egress_cidrs: NotRequired[Sequence[str]]
    """Where nodes may open HTTPS (443): the Wallarm Cloud, AWS APIs. Narrow it behind a proxy. Config key: wallarm-mirror:nodeEgressCidrs; default ["0.0.0.0/0"]."""

    token: Required[pulumi.Input[str]]
    """Wallarm node or API token. Set it with `pulumi config set --secret`. Config key: wallarm-mirror:token."""

    token_delivery: NotRequired[str]
    """How nodes get the token: secretsManager, ssm (SecureString) or userData (anchor's way). One of: secretsManager, ssm, userData. Config key: wallarm-mirror:tokenDelivery; default "secretsManager"."""

    token_kms_key_arn: NotRequired[pulumi.Input[str]]
    """Customer KMS key that encrypts the stored token (secretsManager/ssm). Config key: wallarm-mirror:tokenKmsKeyArn."""

    node_group: NotRequired[str]
    """Wallarm node group label (WALLARM_LABELS group=...); used with API tokens. Config key: wallarm-mirror:nodeGroup."""

    api_host: NotRequired[str]
    """Wallarm API host: api.wallarm.com (EU) or us1.api.wallarm.com (US). Config key: wallarm-mirror:apiHost; default "api.wallarm.com"."""

    node_version: NotRequired[str]
    """Wallarm node major.minor; picks the AMI and the node profile. Config key: wallarm-mirror:nodeVersion; default "6.13"."""

    ami_id: NotRequired[pulumi.Input[str]]
    """Pin an AMI instead of looking up the newest of nodeVersion. Config key: wallarm-mirror:amiId."""

    mode: NotRequired[str]
    """Wallarm filtration mode; out-of-band analysis can only monitor. One of: off, monitoring, safe_blocking, block. Config key: wallarm-mirror:mode; default "monitoring"."""

    libdetection: NotRequired[bool]
    """Turn on Wallarm's libdetection. Config key: wallarm-mirror:libdetection; default false."""

    global_snippet: NotRequired[pulumi.Input[str]]
    """NGINX text for the main context of the node. Config key: wallarm-mirror:globalSnippet; default ""."""

    http_snippet: NotRequired[pulumi.Input[str]]
    """NGINX text for the node's http {} block. Config key: wallarm-mirror:httpSnippet; default ""."""

    server_snippet: NotRequired[pulumi.Input[str]]
    """NGINX text for the node's server {} block. Config key: wallarm-mirror:serverSnippet; default ""."""

    post_script: NotRequired[pulumi.Input[str]]
    """Bash run after the node is set up; a failure is reported. Config key: wallarm-mirror:postScript; default ""."""

    node_port: NotRequired[int]
    """Port nodes serve mirrored traffic on; overrides the node profile. Config key: wallarm-mirror:nodePort."""

    health_check_port: NotRequired[int]
    """Node health-check port; overrides the node profile. Config key: wallarm-mirror:healthCheckPort."""

    health_check_path: NotRequired[str]
    """Node health-check path; overrides the node profile. Config key: wallarm-mirror:healthCheckPath."""

    instance_type: NotRequired[str]
    """EC2 type of the nodes: x86_64 for nginxNode (the Wallarm AMI); x86_64 or Graviton for nativeNode. Config key: wallarm-mirror:instanceType; default "t3.medium"."""

    root_volume_size: NotRequired[int]
    """Root volume size in GiB (gp3). Config key: wallarm-mirror:rootVolumeSize; default 30."""

    min_size: NotRequired[int]
    """Fewest nodes. Config key: wallarm-mirror:minSize; default 1."""

    max_size: NotRequired[int]
    """Most nodes; at least 1 and at least minSize. Config key: wallarm-mirror:maxSize; default 3."""

    desired_capacity: NotRequired[int]
    """Nodes at creation, within [minSize, maxSize]; scaling owns it afterwards. Config key: wallarm-mirror:desiredCapacity; default 1."""

    cpu_target: NotRequired[float]
    """Average CPU % that scaling aims at. Config key: wallarm-mirror:cpuTarget; default 70.0."""

    certificate_arn: NotRequired[pulumi.Input[str]]
    """ACM certificate; when set the mirror listener speaks HTTPS. Config key: wallarm-mirror:certificateArn."""

    ssl_policy: NotRequired[str]
    """ELB TLS policy of the HTTPS listener; default ELBSecurityPolicy-TLS13-1-2-2021-06. Config key: wallarm-mirror:sslPolicy."""

    deletion_protection: NotRequired[bool]
    """Protect the ALB from deletion. Config key: wallarm-mirror:deletionProtection; default true."""

    endpoint_hostname: NotRequired[str]
    """DNS alias of the ALB that the web tier mirrors to (the name your certificate covers); default: the ALB's own DNS name. Config key: wallarm-mirror:endpointHostname."""

    mirror_options: NotRequired[Mapping[str, Any]]
    """How the generated web-tier configs mirror: samplePercent, locations, primaryUpstream, timeoutSeconds, maxConnections, hosts, istioGateways, tlsVerify, tlsCaFile, tlsServerName, nginxResolver, nginxVersion, nginxRelayPort. Config key: wallarm-mirror:mirrorOptions; default {}."""

    alarms_enabled: NotRequired[bool]
    """CloudWatch alarms for a blind or struggling analyser. Config key: wallarm-mirror:alarmsEnabled; default true."""

    alarm_topic_arn: NotRequired[pulumi.Input[str]]
    """SNS topic for alarm actions; without it the stack creates one. Config key: wallarm-mirror:alarmTopicArn."""

    dashboard_enabled: NotRequired[bool]
    """A CloudWatch dashboard of the analyser. Config key: wallarm-mirror:dashboardEnabled; default false."""

    requests_per_node_target: NotRequired[float]
    """Also scale on ALB requests per node (ALBRequestCountPerTarget). Config key: wallarm-mirror:requestsPerNodeTarget."""

    access_logs_bucket: NotRequired[pulumi.Input[str]]
    """Existing S3 bucket for ALB access logs. Config key: wallarm-mirror:accessLogsBucket."""

    create_access_logs_bucket: NotRequired[bool]
    """Create an encrypted, private, expiring bucket for ALB access logs. Config key: wallarm-mirror:createAccessLogsBucket; default false."""

    access_logs_prefix: NotRequired[str]
    """Key prefix of the ALB access logs. Config key: wallarm-mirror:accessLogsPrefix; default "wallarm-mirror"."""

    access_logs_retention_days: NotRequired[int]
    """Days the created access-log bucket keeps logs. Config key: wallarm-mirror:accessLogsRetentionDays; default 90."""

    extra_policy_arns: NotRequired[Sequence[pulumi.Input[str]]]
    """More IAM policies for the node role. Config key: wallarm-mirror:extraPolicyArns; default []."""

    tags: NotRequired[Mapping[str, str]]
    """Tags on every taggable resource, with app and stack. Config key: wallarm-mirror:tags; default {}."""


class NativeAnalyserArgs(TypedDict, total=False):
    """What the Native Node analyser is built from: AWS VPC Traffic Mirroring feeds an internal NLB."""

    vpc_id: Required[pulumi.Input[str]]
    """VPC that holds the ALB and the nodes. Config key: wallarm-mirror:vpcId."""

    node_subnet_ids: Required[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """Subnets of the Wallarm nodes; defaults to albSubnetIds. nativeNode: required, and the NLB's subnets too. Config key: wallarm-mirror:nodeSubnetIds."""

    mirror_source_cidrs: Required[Sequence[str]]
    """CIDRs of the web servers that mirror traffic; each gets one ALB ingress rule (nativeNode: where mirrored packets come from; each gets one UDP 4789 rule on the nodes; nativeSpoke: the mirrored subnets, each inside one of the hub's). Config key: wallarm-mirror:mirrorSourceCidrs."""

    node_egress_cidrs: NotRequired[Sequence[str]]
    """Where nodes may open HTTPS (443): the Wallarm Cloud, AWS APIs. Narrow it behind a proxy. Config key: wallarm-mirror:nodeEgressCidrs; default ["0.0.0.0/0"]."""

    token: Required[pulumi.Input[str]]
    """Wallarm node or API token. Set it with `pulumi config set --secret`. Config key: wallarm-mirror:token."""

    token_delivery: NotRequired[str]
    """How nodes get the token: secretsManager, ssm (SecureString) or userData (anchor's way). One of: secretsManager, ssm, userData. Config key: wallarm-mirror:tokenDelivery; default "secretsManager"."""

    token_kms_key_arn: NotRequired[pulumi.Input[str]]
    """Customer KMS key that encrypts the stored token (secretsManager/ssm). Config key: wallarm-mirror:tokenKmsKeyArn."""

    node_group: Required[str]
    """Wallarm node group label (WALLARM_LABELS group=...); used with API tokens. Config key: wallarm-mirror:nodeGroup."""

    api_host: NotRequired[str]
    """Wallarm API host: api.wallarm.com (EU) or us1.api.wallarm.com (US). Config key: wallarm-mirror:apiHost; default "api.wallarm.com"."""

    ami_id: NotRequired[pulumi.Input[str]]
    """Pin an AMI instead of looking up the newest of nodeVersion. Config key: wallarm-mirror:amiId."""

    native_node_version: NotRequired[str]
    """Version of Wallarm's all-in-one Native Node installer (x.y.z, 0.24.0 or newer: VXLAN input). Config key: wallarm-mirror:nativeNodeVersion; default "0.25.12"."""

    native_node_installer_sha256: NotRequired[str]
    """SHA-256 of the installer for that version and architecture; the boot checks it. Config key: wallarm-mirror:nativeNodeInstallerSha256."""

    traffic_mirror_share_with: NotRequired[Sequence[str]]
    """Share the traffic mirror target (AWS RAM) with these account ids, OU ARNs or your organization's ARN, so their spoke stacks create sessions to it. Default: not shared. Config key: wallarm-mirror:trafficMirrorShareWith; default []."""

    traffic_mirror_share_external: NotRequired[bool]
    """Let the RAM share of the traffic mirror target reach accounts outside your organization (allowExternalPrincipals; they must accept the share). Default false: RAM refuses them. Config key: wallarm-mirror:trafficMirrorShareExternal; default false."""

    traffic_mirror_source_eni_ids: NotRequired[Sequence[pulumi.Input[str]]]
    """Network interfaces whose traffic is mirrored (one session each). Config key: wallarm-mirror:trafficMirrorSourceEniIds; default []."""

    traffic_mirror_source_tags: NotRequired[Mapping[str, str]]
    """Instances carrying all these tags get their primary network interface mirrored, also those launched later (an enrolment Lambda). Config key: wallarm-mirror:trafficMirrorSourceTags; default {}."""

    traffic_mirror_method: NotRequired[str]
    """How tagged instances are copied: aws (a traffic mirror session), host (tc + VXLAN on the host, delivered by SSM) or auto (aws where AWS can mirror the instance type, host elsewhere). One of: auto, aws, host. Config key: wallarm-mirror:trafficMirrorMethod; default "auto"."""

    traffic_mirror_ipv6: NotRequired[bool]
    """Mirror IPv6 too (dual-stack sources): four filter rules per port instead of two, so at most 2 ports (5 with false). Config key: wallarm-mirror:trafficMirrorIpv6; default true."""

    traffic_mirror_ports: NotRequired[Sequence[int]]
    """TCP ports of the application: mirrored in both directions, nothing else (at most 2; 5 with trafficMirrorIpv6 false). Config key: wallarm-mirror:trafficMirrorPorts; default [80]."""

    traffic_mirror_vni: NotRequired[int]
    """VXLAN network id of the sessions; the node accepts only it. Config key: wallarm-mirror:trafficMirrorVni; default 4242."""

    traffic_mirror_session_number: NotRequired[int]
    """Priority of our sessions among those on the same interface (1 first). Config key: wallarm-mirror:trafficMirrorSessionNumber; default 1."""

    traffic_mirror_enrolment_rate: NotRequired[float]
    """Traffic mirror sessions the enrolment function may create (and, apart, delete) a second; EC2 refills 5 a second for each, the default leaves a fifth to the account's other callers. Config key: wallarm-mirror:trafficMirrorEnrolmentRate; default 4.0."""

    instance_type: NotRequired[str]
    """EC2 type of the nodes: x86_64 for nginxNode (the Wallarm AMI); x86_64 or Graviton for nativeNode. Config key: wallarm-mirror:instanceType; default "t3.medium"."""

    root_volume_size: NotRequired[int]
    """Root volume size in GiB (gp3). Config key: wallarm-mirror:rootVolumeSize; default 30."""

    min_size: NotRequired[int]
    """Fewest nodes. Config key: wallarm-mirror:minSize; default 1."""

    max_size: NotRequired[int]
    """Most nodes; at least 1 and at least minSize. Config key: wallarm-mirror:maxSize; default 3."""

    desired_capacity: NotRequired[int]
    """Nodes at creation, within [minSize, maxSize]; scaling owns it afterwards. Config key: wallarm-mirror:desiredCapacity; default 1."""

    cpu_target: NotRequired[float]
    """Average CPU % that scaling aims at. Config key: wallarm-mirror:cpuTarget; default 70.0."""

    deletion_protection: NotRequired[bool]
    """Protect the ALB from deletion. Config key: wallarm-mirror:deletionProtection; default true."""

    alarms_enabled: NotRequired[bool]
    """CloudWatch alarms for a blind or struggling analyser. Config key: wallarm-mirror:alarmsEnabled; default true."""

    alarm_topic_arn: NotRequired[pulumi.Input[str]]
    """SNS topic for alarm actions; without it the stack creates one. Config key: wallarm-mirror:alarmTopicArn."""

    dashboard_enabled: NotRequired[bool]
    """A CloudWatch dashboard of the analyser. Config key: wallarm-mirror:dashboardEnabled; default false."""

    extra_policy_arns: NotRequired[Sequence[pulumi.Input[str]]]
    """More IAM policies for the node role. Config key: wallarm-mirror:extraPolicyArns; default []."""

    tags: NotRequired[Mapping[str, str]]
    """Tags on every taggable resource, with app and stack. Config key: wallarm-mirror:tags; default {}."""


class NativeSpokeArgs(TypedDict, total=False):
    """What a spoke is built from: its web tier enrolled into a hub's analyser (no NLB, no nodes)."""

    hub_outputs: Required[Mapping[str, Any]]
    """nativeSpoke: the hub's outputs, named as `pulumi stack output --json` of the hub prints them (traffic_mirror_target_id, traffic_mirror_target_arn, nlb_dns_name, traffic_mirror_vni, traffic_mirror_ports, mirror_source_cidrs; others are ignored). Config key: wallarm-mirror:hubOutputs."""

    mirror_source_cidrs: Required[Sequence[str]]
    """CIDRs of the web servers that mirror traffic; each gets one ALB ingress rule (nativeNode: where mirrored packets come from; each gets one UDP 4789 rule on the nodes; nativeSpoke: the mirrored subnets, each inside one of the hub's). Config key: wallarm-mirror:mirrorSourceCidrs."""

    traffic_mirror_source_eni_ids: NotRequired[Sequence[pulumi.Input[str]]]
    """Network interfaces whose traffic is mirrored (one session each). Config key: wallarm-mirror:trafficMirrorSourceEniIds; default []."""

    traffic_mirror_source_tags: NotRequired[Mapping[str, str]]
    """Instances carrying all these tags get their primary network interface mirrored, also those launched later (an enrolment Lambda). Config key: wallarm-mirror:trafficMirrorSourceTags; default {}."""

    traffic_mirror_method: NotRequired[str]
    """How tagged instances are copied: aws (a traffic mirror session), host (tc + VXLAN on the host, delivered by SSM) or auto (aws where AWS can mirror the instance type, host elsewhere). One of: auto, aws, host. Config key: wallarm-mirror:trafficMirrorMethod; default "auto"."""

    traffic_mirror_ipv6: NotRequired[bool]
    """Mirror IPv6 too (dual-stack sources): four filter rules per port instead of two, so at most 2 ports (5 with false). Config key: wallarm-mirror:trafficMirrorIpv6; default true."""

    traffic_mirror_session_number: NotRequired[int]
    """Priority of our sessions among those on the same interface (1 first). Config key: wallarm-mirror:trafficMirrorSessionNumber; default 1."""

    traffic_mirror_enrolment_rate: NotRequired[float]
    """Traffic mirror sessions the enrolment function may create (and, apart, delete) a second; EC2 refills 5 a second for each, the default leaves a fifth to the account's other callers. Config key: wallarm-mirror:trafficMirrorEnrolmentRate; default 4.0."""

    alarms_enabled: NotRequired[bool]
    """CloudWatch alarms for a blind or struggling analyser. Config key: wallarm-mirror:alarmsEnabled; default true."""

    alarm_topic_arn: NotRequired[pulumi.Input[str]]
    """SNS topic for alarm actions; without it the stack creates one. Config key: wallarm-mirror:alarmTopicArn."""

    tags: NotRequired[Mapping[str, str]]
    """Tags on every taggable resource, with app and stack. Config key: wallarm-mirror:tags; default {}."""
