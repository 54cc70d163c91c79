"""The stack config model: one table of fields, each with its type, default, description and check.

The check of each key is the function named beside it (`checks.py`); rules that span several keys
read the keys declared before them, so the order of the fields matters. Derived settings (the
node profile, effective ports, TLS) are properties here, the one place that resolves defaults
that depend on other keys. Reading Pulumi's config and turning errors into sentences is
`loader.py` and `errors.py`; warnings about valid but unwise settings are `advice.py`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, SecretStr
from pydantic.alias_generators import to_camel

from ..mirror import MirrorOptions
from ..node.profiles import DEFAULT_NODE_VERSION, NodeProfile, profile_for
from . import checks, native_checks, spoke_checks
from .checks import DEFAULT_SSL_POLICY

NAMESPACE = "wallarm-mirror"
TOKEN_KEY = "token"
# Wallarm's sizing guide recommends t3.medium for testing and m4.xlarge for production.
DEFAULT_INSTANCE_TYPE = "t3.medium"
# Far above any mirror fleet, far below what breaks number handling downstream.
MAX_NODES = 1000

Mode = Literal["off", "monitoring", "safe_blocking", "block"]
TokenDelivery = Literal["secretsManager", "ssm", "userData"]
Analyzer = Literal["nginxNode", "nativeNode", "nativeSpoke"]
TrafficMirrorMethod = Literal["auto", "aws", "host"]

# The newest all-in-one Native Node installer (2026-11-16); 0.25.11 and 0.25.12 fix security
# vulnerabilities. Source: docs.wallarm.com/6.x/updating-migrating/native-node/node-artifact-versions
# (wallarm-facts.md section 10).
DEFAULT_NATIVE_NODE_VERSION = "0.25.12"
# Any fixed VNI works: the node's vni_filter accepts this one only, so another session's copies
# sent to the same NLB by mistake are dropped.
DEFAULT_VNI = 4242


class StackConfig(BaseModel):
    """Validated settings of one stack; every component receives its part of this model."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_default=True,
    )

    # Field order matters: later checks read earlier fields from `info.data`, so the analyser is first.
    analyzer: Analyzer = Field(
        default="nginxNode",
        description="What analyses the copy: nginxNode (the web tier mirrors HTTP requests to an internal ALB) "
        "or nativeNode (AWS VPC Traffic Mirroring copies packets to an NLB of Wallarm Native Nodes) "
        "or nativeSpoke (this account's web tier is mirrored to a nativeNode hub in another account or VPC; "
        "no NLB, no nodes).",
    )

    # The hub of a spoke (analyzer: nativeSpoke): one of the two. Before mirrorSourceCidrs and
    # trafficMirrorIpv6, whose checks read the hub's outputs.
    hub_stack: Annotated[str | None, AfterValidator(spoke_checks.hub_stack)] = Field(
        default=None,
        description="nativeSpoke: the hub's stack, org/project/stack, whose outputs the spoke reads at deploy "
        "(program only; the component takes hubOutputs).",
    )
    hub_outputs: Annotated[dict[str, Any], AfterValidator(spoke_checks.hub_outputs)] = Field(
        default_factory=dict,
        description="nativeSpoke: the hub's outputs, named as `pulumi stack output --json` of the hub prints them "
        "(traffic_mirror_target_id, traffic_mirror_target_arn, nlb_dns_name, traffic_mirror_vni, "
        "traffic_mirror_ports, mirror_source_cidrs; others are ignored).",
    )

    # Network. The network stack's keys come first: the id checks read them (a key it supplies may be unset).
    network_stack: Annotated[str | None, AfterValidator(checks.network_stack)] = Field(
        default=None,
        description="Stack whose outputs give the network ids left unset here: org/project/stack "
        "(program only; the component takes Outputs).",
    )
    network_outputs: Annotated[dict[str, str], AfterValidator(checks.network_outputs)] = Field(
        default_factory=dict,
        description="Which output of networkStack gives each of our keys (vpcId, albSubnetIds, nodeSubnetIds); "
        "defaults: vpcId from vpcId, albSubnetIds from privateSubnetIds (nginxNode).",
    )
    vpc_id: Annotated[str | None, AfterValidator(checks.vpc_id)] = Field(
        default=None, description="VPC that holds the ALB and the nodes."
    )
    alb_subnet_ids: Annotated[list[str] | None, AfterValidator(checks.alb_subnets)] = Field(
        default=None,
        description="Subnets of the internal ALB: two or more, in different availability zones "
        "(nginxNode; required there).",
    )
    node_subnet_ids: Annotated[list[str] | None, AfterValidator(checks.node_subnets)] = Field(
        default=None,
        description="Subnets of the Wallarm nodes; defaults to albSubnetIds. nativeNode: required, and the NLB's "
        "subnets too.",
    )
    mirror_source_cidrs: Annotated[list[str], AfterValidator(checks.cidrs), AfterValidator(spoke_checks.inside_hub)] = (
        Field(
            default_factory=list,
            description="CIDRs of the web servers that mirror traffic; each gets one ALB ingress rule "
            "(nativeNode: where mirrored packets come from; each gets one UDP 4789 rule on the nodes; nativeSpoke: "
            "the mirrored subnets, each inside one of the hub's).",
        )
    )
    mirror_source_security_group_ids: Annotated[list[str], AfterValidator(checks.source_security_groups)] = Field(
        default_factory=list,
        description="Security groups of the web servers that mirror traffic; each gets one ALB ingress rule.",
    )
    node_egress_cidrs: Annotated[list[str], AfterValidator(checks.cidrs)] = Field(
        default_factory=lambda: ["0.0.0.0/0"],
        description="Where nodes may open HTTPS (443): the Wallarm Cloud, AWS APIs. Narrow it behind a proxy.",
    )

    # Wallarm node.
    # Optional in the type only: required for both analysers that run nodes (checks.token); a spoke has none.
    token: Annotated[SecretStr | None, AfterValidator(checks.token)] = Field(
        default=None, description="Wallarm node or API token. Set it with `pulumi config set --secret`."
    )
    token_delivery: TokenDelivery = Field(
        default="secretsManager",
        description="How nodes get the token: secretsManager, ssm (SecureString) or userData (anchor's way).",
    )
    token_kms_key_arn: Annotated[str | None, AfterValidator(checks.kms_key)] = Field(
        default=None, description="Customer KMS key that encrypts the stored token (secretsManager/ssm)."
    )
    node_group: Annotated[str | None, AfterValidator(checks.node_group)] = Field(
        default=None, description="Wallarm node group label (WALLARM_LABELS group=...); used with API tokens."
    )
    api_host: Annotated[str, AfterValidator(checks.api_host)] = Field(
        default="api.wallarm.com", description="Wallarm API host: api.wallarm.com (EU) or us1.api.wallarm.com (US)."
    )
    node_version: Annotated[str, AfterValidator(checks.node_version)] = Field(
        default=DEFAULT_NODE_VERSION, description="Wallarm node major.minor; picks the AMI and the node profile."
    )
    ami_id: Annotated[str | None, AfterValidator(checks.ami_id)] = Field(
        default=None, description="Pin an AMI instead of looking up the newest of nodeVersion."
    )
    mode: Mode = Field(
        default="monitoring", description="Wallarm filtration mode; out-of-band analysis can only monitor."
    )
    libdetection: bool = Field(default=False, description="Turn on Wallarm's libdetection.")
    global_snippet: str = Field(default="", description="NGINX text for the main context of the node.")
    http_snippet: str = Field(default="", description="NGINX text for the node's http {} block.")
    server_snippet: str = Field(default="", description="NGINX text for the node's server {} block.")
    post_script: str = Field(default="", description="Bash run after the node is set up; a failure is reported.")
    node_port: Annotated[int | None, AfterValidator(checks.not_ssh)] = Field(
        default=None, ge=1, le=65535, description="Port nodes serve mirrored traffic on; overrides the node profile."
    )
    health_check_port: Annotated[int | None, AfterValidator(checks.not_ssh)] = Field(
        default=None, ge=1, le=65535, description="Node health-check port; overrides the node profile."
    )
    health_check_path: Annotated[str | None, AfterValidator(checks.health_path)] = Field(
        default=None, description="Node health-check path; overrides the node profile."
    )

    # Wallarm Native Node and AWS VPC Traffic Mirroring (analyzer: nativeNode).
    native_node_version: Annotated[str, AfterValidator(native_checks.native_node_version)] = Field(
        default=DEFAULT_NATIVE_NODE_VERSION,
        description="Version of Wallarm's all-in-one Native Node installer (x.y.z, 0.24.0 or newer: VXLAN input).",
    )
    native_node_installer_sha256: Annotated[str | None, AfterValidator(native_checks.sha256)] = Field(
        default=None, description="SHA-256 of the installer for that version and architecture; the boot checks it."
    )
    # A hub: the traffic mirror target shared through AWS RAM with the accounts whose spoke stacks enrol.
    traffic_mirror_share_with: Annotated[list[str], AfterValidator(native_checks.share_principals)] = Field(
        default_factory=list,
        description="Share the traffic mirror target (AWS RAM) with these account ids, OU ARNs or your "
        "organization's ARN, so their spoke stacks create sessions to it. Default: not shared.",
    )
    # Declared after trafficMirrorShareWith: its check reads it.
    traffic_mirror_share_external: Annotated[bool, AfterValidator(native_checks.share_external)] = Field(
        default=False,
        description="Let the RAM share of the traffic mirror target reach accounts outside your organization "
        "(allowExternalPrincipals; they must accept the share). Default false: RAM refuses them.",
    )
    traffic_mirror_source_eni_ids: Annotated[list[str], AfterValidator(native_checks.eni_ids)] = Field(
        default_factory=list, description="Network interfaces whose traffic is mirrored (one session each)."
    )
    traffic_mirror_source_tags: Annotated[dict[str, str], AfterValidator(native_checks.source_tags)] = Field(
        default_factory=dict,
        description="Instances carrying all these tags get their primary network interface mirrored, "
        "also those launched later (an enrolment Lambda).",
    )
    traffic_mirror_method: Annotated[TrafficMirrorMethod, AfterValidator(native_checks.traffic_mirror_method)] = Field(
        default="auto",
        description="How tagged instances are copied: aws (a traffic mirror session), host (tc + VXLAN on the "
        "host, delivered by SSM) or auto (aws where AWS can mirror the instance type, host elsewhere).",
    )
    # Declared before traffic_mirror_ports: the port limit depends on it.
    traffic_mirror_ipv6: Annotated[bool, AfterValidator(spoke_checks.ipv6_with_hub_ports)] = Field(
        default=True,
        description="Mirror IPv6 too (dual-stack sources): four filter rules per port instead of two, so at most "
        "2 ports (5 with false).",
    )
    traffic_mirror_ports: Annotated[list[int], AfterValidator(native_checks.mirror_ports)] = Field(
        default_factory=lambda: [80],
        description="TCP ports of the application: mirrored in both directions, nothing else (at most 2; 5 with "
        "trafficMirrorIpv6 false).",
    )
    traffic_mirror_vni: int = Field(
        default=DEFAULT_VNI,
        ge=0,
        le=16_777_215,
        description="VXLAN network id of the sessions; the node accepts only it.",
    )
    traffic_mirror_session_number: int = Field(
        default=1, ge=1, le=32_766, description="Priority of our sessions among those on the same interface (1 first)."
    )
    traffic_mirror_enrolment_rate: Annotated[float, AfterValidator(native_checks.enrolment_rate)] = Field(
        default=native_checks.DEFAULT_ENROLMENT_RATE,
        description="Traffic mirror sessions the enrolment function may create (and, apart, delete) a second; "
        "EC2 refills 5 a second for each, the default leaves a fifth to the account's other callers.",
    )

    # Capacity.
    instance_type: Annotated[str, AfterValidator(checks.instance_type)] = Field(
        default=DEFAULT_INSTANCE_TYPE,
        description="EC2 type of the nodes: x86_64 for nginxNode (the Wallarm AMI); x86_64 or Graviton for nativeNode.",
    )
    root_volume_size: int = Field(default=30, ge=8, le=16384, description="Root volume size in GiB (gp3).")
    min_size: int = Field(default=1, ge=0, le=MAX_NODES, description="Fewest nodes.")
    max_size: Annotated[int, AfterValidator(checks.max_size)] = Field(
        default=3, ge=1, le=MAX_NODES, description="Most nodes; at least 1 and at least minSize."
    )
    desired_capacity: Annotated[int, AfterValidator(checks.desired_capacity)] = Field(
        default=1,
        ge=0,
        le=MAX_NODES,
        description="Nodes at creation, within [minSize, maxSize]; scaling owns it afterwards.",
    )
    cpu_target: float = Field(
        default=70.0, gt=0, lt=100, allow_inf_nan=False, description="Average CPU % that scaling aims at."
    )

    # Load balancer.
    certificate_arn: Annotated[str | None, AfterValidator(checks.certificate)] = Field(
        default=None, description="ACM certificate; when set the mirror listener speaks HTTPS."
    )
    ssl_policy: Annotated[str | None, AfterValidator(checks.ssl_policy)] = Field(
        default=None, description=f"ELB TLS policy of the HTTPS listener; default {DEFAULT_SSL_POLICY}."
    )
    deletion_protection: bool = Field(default=True, description="Protect the ALB from deletion.")

    # The web tier's side.
    endpoint_hostname: Annotated[str | None, AfterValidator(checks.endpoint_hostname)] = Field(
        default=None,
        description="DNS alias of the ALB that the web tier mirrors to (the name your certificate covers); "
        "default: the ALB's own DNS name.",
    )
    mirror_options: Annotated[dict[str, Any], AfterValidator(checks.mirror_options)] = Field(
        default_factory=dict,
        description="How the generated web-tier configs mirror: samplePercent, locations, primaryUpstream, "
        "timeoutSeconds, maxConnections, hosts, istioGateways, tlsVerify, tlsCaFile, tlsServerName, nginxResolver, "
        "nginxVersion, nginxRelayPort.",
    )

    # Operations.
    alarms_enabled: bool = Field(default=True, description="CloudWatch alarms for a blind or struggling analyser.")
    alarm_topic_arn: Annotated[str | None, AfterValidator(checks.alarm_topic)] = Field(
        default=None, description="SNS topic for alarm actions; without it the stack creates one."
    )
    dashboard_enabled: bool = Field(default=False, description="A CloudWatch dashboard of the analyser.")
    requests_per_node_target: float | None = Field(
        default=None,
        gt=0,
        le=1_000_000,
        allow_inf_nan=False,
        description="Also scale on ALB requests per node (ALBRequestCountPerTarget).",
    )
    access_logs_bucket: Annotated[str | None, AfterValidator(checks.bucket)] = Field(
        default=None, description="Existing S3 bucket for ALB access logs."
    )
    create_access_logs_bucket: Annotated[bool, AfterValidator(checks.create_bucket)] = Field(
        default=False, description="Create an encrypted, private, expiring bucket for ALB access logs."
    )
    access_logs_prefix: Annotated[str, AfterValidator(checks.log_prefix)] = Field(
        default="wallarm-mirror", description="Key prefix of the ALB access logs."
    )
    access_logs_retention_days: int = Field(
        default=90, ge=1, le=3650, description="Days the created access-log bucket keeps logs."
    )

    extra_policy_arns: Annotated[list[str], AfterValidator(checks.policy_arns)] = Field(
        default_factory=list, description="More IAM policies for the node role."
    )
    tags: Annotated[dict[str, str], AfterValidator(checks.tags)] = Field(
        default_factory=dict, description="Tags on every taggable resource, with app and stack."
    )

    # Which keys were stored encrypted (set by parse_stack_config; not a config key).
    _secret_keys: frozenset[str] = PrivateAttr(default=frozenset())

    # Derived settings: the one place defaults that depend on other keys are resolved.
    @property
    def profile(self) -> NodeProfile:
        found = profile_for(self.node_version)
        assert found is not None  # the validator refused versions without a profile
        return found

    @property
    def native(self) -> bool:
        return self.analyzer == "nativeNode"

    @property
    def spoke(self) -> bool:
        return self.analyzer == "nativeSpoke"

    @property
    def network_output_names(self) -> dict[str, str]:
        """The keys networkStack supplies (field name -> that stack's output name): those left unset here."""
        if self.network_stack is None:
            return {}
        wanted = {**checks.default_network_outputs(self.analyzer), **self.network_outputs}
        by_alias = {(info.alias or name): name for name, info in type(self).model_fields.items()}
        return {by_alias[key]: output for key, output in wanted.items() if getattr(self, by_alias[key]) is None}

    @property
    def nodes_subnets(self) -> list[str]:
        subnets = self.node_subnet_ids or self.alb_subnet_ids
        assert subnets is not None  # the checks require one of the two for each analyser
        return subnets

    @property
    def effective_node_port(self) -> int:
        return self.node_port or self.profile.node_port

    @property
    def effective_health_check_port(self) -> int:
        return self.health_check_port or self.profile.health_check_port

    @property
    def effective_health_check_path(self) -> str:
        return self.health_check_path or self.profile.health_check_path

    @property
    def tls(self) -> bool:
        return self.certificate_arn is not None

    @property
    def effective_ssl_policy(self) -> str | None:
        return (self.ssl_policy or DEFAULT_SSL_POLICY) if self.tls else None

    @property
    def secret_keys(self) -> frozenset[str]:
        """The keys the stack file stored with --secret (of those that may be secrets)."""
        return self._secret_keys

    @property
    def boot_script_is_secret(self) -> bool:
        """Whether the boot script carries secret text: the token itself, or a snippet stored with --secret."""
        return self.token_delivery == "userData" or bool(self._secret_keys - {TOKEN_KEY})

    @property
    def mirror_source(self) -> MirrorOptions:
        """Options of the generated web-tier mirroring configs."""
        return checks.mirror_source_options(self.mirror_options, check=False)  # the validator checked it

    @property
    def access_logs_enabled(self) -> bool:
        return self.create_access_logs_bucket or self.access_logs_bucket is not None

    def advice(self, stack: str) -> list[str]:
        """Valid but unwise settings, as warnings (never errors)."""
        from .advice import advice  # its own module, so that this one reads as the table of fields

        return advice(self, stack)
