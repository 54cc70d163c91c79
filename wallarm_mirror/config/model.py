"""The stack configuration: one Pydantic model, and the one place that reads Pulumi's config.

Every rule about config lives here (types, ranges, cross-field rules); nothing downstream checks
again. `load_stack_config` turns every problem of a stack file into one sentence naming the key,
the bad value (never a secret) and the fix, and raises them together before any resource exists.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import json
import re
import types
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel

from ..mirror import MirrorEndpoint, MirrorOptions, render_all
from ..node.profiles import DEFAULT_NODE_VERSION, NodeProfile, parse_version, profile_for

NAMESPACE = "wallarm-mirror"
TOKEN_KEY = "token"
DEFAULT_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# Wallarm's sizing guide recommends t3.medium for testing and m4.xlarge for production.
DEFAULT_INSTANCE_TYPE = "t3.medium"
RESERVED_TAG_KEYS = ("app", "stack")
# Far above any mirror fleet, far below what breaks number handling downstream.
MAX_NODES = 1000
SSH_PORT = 22
# Wallarm tokens are well under 1 KB; a longer value is something else pasted by mistake.
MAX_TOKEN_LENGTH = 4096

Mode = Literal["off", "monitoring", "safe_blocking", "block"]
TokenDelivery = Literal["secretsManager", "ssm", "userData"]

_VPC_ID = re.compile(r"^vpc-([0-9a-f]{8}|[0-9a-f]{17})$")
_SUBNET_ID = re.compile(r"^subnet-([0-9a-f]{8}|[0-9a-f]{17})$")
_SG_ID = re.compile(r"^sg-([0-9a-f]{8}|[0-9a-f]{17})$")
_AMI_ID = re.compile(r"^ami-([0-9a-f]{8}|[0-9a-f]{17})$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
# A "g" after the generation digit marks Graviton (arm64) families: m6g, c7gn, t4g, r8gd ...
_GRAVITON_FAMILY = re.compile(r"^[a-z]+\d+[a-z]*g[a-z]*$")
_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
_SSL_POLICY = re.compile(r"^ELBSecurityPolicy-[A-Za-z0-9-]+$")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[\w+=,.@/-]+$")
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}$")
_NODE_GROUP = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
_BUCKET = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# A stack named like production: prod, prod-eu, eu-prod, production ...
PRODUCTION_STACK = re.compile(r"(^|[-_.])prod(uction)?($|[-_.])")


def _unique(values: list[str], what: str) -> list[str]:
    seen: set[str] = set()
    dupes = [v for v in values if v in seen or seen.add(v)]  # type: ignore[func-returns-value]
    if dupes:
        raise ValueError(f"lists {what} {', '.join(dupes)} more than once; list each once")
    return values


def _ids(values: list[str], pattern: re.Pattern[str], what: str, example: str) -> list[str]:
    bad = [v for v in values if not pattern.fullmatch(v)]
    if bad:
        article = "an" if what[0] in "AEIOUaeiou" else "a"
        verb = f"is not {article} {what}" if len(bad) == 1 else f"are not {what}s"
        raise ValueError(f"{', '.join(map(repr, bad))} {verb} (expected like {example})")
    return _unique(values, what)


def mirror_source_options(values: Mapping[str, Any], check: bool = True) -> MirrorOptions:
    """The mirrorOptions map (camelCase keys) as MirrorOptions; `check` also renders every server's config.

    Raises ValueError with one line per problem, in the config's own key names.
    """
    fields = {f.name: to_camel(f.name) for f in dataclasses.fields(MirrorOptions)}
    unknown = [k for k in values if k not in fields.values()]
    if unknown:
        raise ValueError(f"has unknown key(s) {', '.join(unknown)}; known: {', '.join(fields.values())}")
    by_name = {name: values[camel] for name, camel in fields.items() if camel in values}
    try:
        options = MirrorOptions(**by_name)
        # Some choices fit one server but not another (e.g. a URL as Envoy's cluster): find out now,
        # not after resources exist. The defaults render everywhere (tests/mirror/test_configs.py),
        # and rendering costs more than the rest of the validation together.
        for scheme in ("http", "https") if check and by_name else ():
            render_all(MirrorEndpoint(scheme, "internal-check.elb.amazonaws.com", 8445), options)
    except (ValueError, TypeError, OverflowError) as error:
        text = str(error)
        for name, camel in fields.items():
            text = re.sub(rf"\b{name}\b", camel, text)
        raise ValueError(text.replace("\n", "; ")) from None
    return options


class StackConfig(BaseModel):
    """Validated settings of one stack; every component receives its part of this model."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_default=True,
    )

    # Network. Field order matters: later validators read earlier fields from `info.data`.
    vpc_id: str = Field(description="VPC that holds the ALB and the nodes.")
    alb_subnet_ids: list[str] = Field(
        description="Subnets of the internal ALB: two or more, in different availability zones."
    )
    node_subnet_ids: list[str] | None = Field(
        default=None, description="Subnets of the Wallarm nodes; defaults to albSubnetIds."
    )
    mirror_source_cidrs: list[str] = Field(
        default_factory=list,
        description="CIDRs of the web servers that mirror traffic; each gets one ALB ingress rule.",
    )
    mirror_source_security_group_ids: list[str] = Field(
        default_factory=list,
        description="Security groups of the web servers that mirror traffic; each gets one ALB ingress rule.",
    )
    node_egress_cidrs: list[str] = Field(
        default_factory=lambda: ["0.0.0.0/0"],
        description="Where nodes may open HTTPS (443): the Wallarm Cloud, AWS APIs. Narrow it behind a proxy.",
    )

    # Wallarm node.
    token: SecretStr = Field(description="Wallarm node or API token. Set it with `pulumi config set --secret`.")
    token_delivery: TokenDelivery = Field(
        default="secretsManager",
        description="How nodes get the token: secretsManager, ssm (SecureString) or userData (anchor's way).",
    )
    token_kms_key_arn: str | None = Field(
        default=None, description="Customer KMS key that encrypts the stored token (secretsManager/ssm)."
    )
    node_group: str | None = Field(
        default=None, description="Wallarm node group label (WALLARM_LABELS group=...); used with API tokens."
    )
    api_host: str = Field(
        default="api.wallarm.com", description="Wallarm API host: api.wallarm.com (EU) or us1.api.wallarm.com (US)."
    )
    node_version: str = Field(
        default=DEFAULT_NODE_VERSION, description="Wallarm node major.minor; picks the AMI and the node profile."
    )
    ami_id: str | None = Field(default=None, description="Pin an AMI instead of looking up the newest of nodeVersion.")
    mode: Mode = Field(
        default="monitoring", description="Wallarm filtration mode; out-of-band analysis can only monitor."
    )
    libdetection: bool = Field(default=False, description="Turn on Wallarm's libdetection.")
    global_snippet: str = Field(default="", description="NGINX text for the main context of the node.")
    http_snippet: str = Field(default="", description="NGINX text for the node's http {} block.")
    server_snippet: str = Field(default="", description="NGINX text for the node's server {} block.")
    post_script: str = Field(default="", description="Bash run after the node is set up; a failure is reported.")
    node_port: int | None = Field(
        default=None, ge=1, le=65535, description="Port nodes serve mirrored traffic on; overrides the node profile."
    )
    health_check_port: int | None = Field(
        default=None, ge=1, le=65535, description="Node health-check port; overrides the node profile."
    )
    health_check_path: str | None = Field(
        default=None, description="Node health-check path; overrides the node profile."
    )

    # Capacity.
    instance_type: str = Field(default=DEFAULT_INSTANCE_TYPE, description="EC2 type of the nodes (x86_64).")
    root_volume_size: int = Field(default=30, ge=8, le=16384, description="Root volume size in GiB (gp3).")
    min_size: int = Field(default=1, ge=0, le=MAX_NODES, description="Fewest nodes.")
    max_size: int = Field(default=3, ge=1, le=MAX_NODES, description="Most nodes; at least 1 and at least minSize.")
    desired_capacity: int = Field(
        default=1,
        ge=0,
        le=MAX_NODES,
        description="Nodes at creation, within [minSize, maxSize]; scaling owns it afterwards.",
    )
    cpu_target: float = Field(
        default=70.0, gt=0, lt=100, allow_inf_nan=False, description="Average CPU % that scaling aims at."
    )

    # Load balancer.
    certificate_arn: str | None = Field(
        default=None, description="ACM certificate; when set the mirror listener speaks HTTPS."
    )
    ssl_policy: str | None = Field(
        default=None, description=f"ELB TLS policy of the HTTPS listener; default {DEFAULT_SSL_POLICY}."
    )
    deletion_protection: bool = Field(default=True, description="Protect the ALB from deletion.")

    # The web tier's side.
    endpoint_hostname: str | None = Field(
        default=None,
        description="DNS alias of the ALB that the web tier mirrors to (the name your certificate covers); "
        "default: the ALB's own DNS name.",
    )
    mirror_options: dict[str, Any] = Field(
        default_factory=dict,
        description="How the generated web-tier configs mirror: samplePercent, locations, primaryUpstream, "
        "timeoutSeconds, hosts, istioGateways, tlsVerify, tlsCaFile, tlsServerName, nginxResolver.",
    )

    # Operations.
    alarms_enabled: bool = Field(default=True, description="CloudWatch alarms for a blind or struggling analyser.")
    alarm_topic_arn: str | None = Field(
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
    access_logs_bucket: str | None = Field(default=None, description="Existing S3 bucket for ALB access logs.")
    create_access_logs_bucket: bool = Field(
        default=False, description="Create an encrypted, private, expiring bucket for ALB access logs."
    )
    access_logs_prefix: str = Field(default="wallarm-mirror", description="Key prefix of the ALB access logs.")
    access_logs_retention_days: int = Field(
        default=90, ge=1, le=3650, description="Days the created access-log bucket keeps logs."
    )

    extra_policy_arns: list[str] = Field(default_factory=list, description="More IAM policies for the node role.")
    tags: dict[str, str] = Field(
        default_factory=dict, description="Tags on every taggable resource, with app and stack."
    )

    # Which keys were stored encrypted (set by parse_stack_config; not a config key).
    _secret_keys: frozenset[str] = PrivateAttr(default=frozenset())

    @field_validator("vpc_id")
    @classmethod
    def _vpc(cls, v: str) -> str:
        if not _VPC_ID.fullmatch(v):
            raise ValueError(f"{v!r} is not a VPC id (vpc- and 8 or 17 hex digits)")
        return v

    @field_validator("ami_id")
    @classmethod
    def _ami(cls, v: str | None) -> str | None:
        if v is not None and not _AMI_ID.fullmatch(v):
            raise ValueError(f"{v!r} is not an AMI id (ami- and 8 or 17 hex digits)")
        return v

    @field_validator("alb_subnet_ids")
    @classmethod
    def _alb_subnets(cls, v: list[str]) -> list[str]:
        _ids(v, _SUBNET_ID, "subnet id", "subnet-0123456789abcdef0")
        if len(v) < 2:
            raise ValueError(
                f"has {len(v)} subnet{'' if len(v) == 1 else 's'}; an ALB needs at least 2 "
                "in different availability zones"
            )
        return v

    @field_validator("node_subnet_ids")
    @classmethod
    def _node_subnets(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("is empty; list at least one subnet or remove the key to use albSubnetIds")
        return _ids(v, _SUBNET_ID, "subnet id", "subnet-0123456789abcdef0")

    @field_validator("mirror_source_cidrs", "node_egress_cidrs")
    @classmethod
    def _cidrs(cls, v: list[str], info: ValidationInfo) -> list[str]:
        for text in v:
            try:
                net = ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ValueError(f"{text!r} is not a CIDR (expected like 10.0.0.0/16 or 2600:1f18::/56)") from None
            if str(net) != text:
                raise ValueError(f"{text!r} has host bits set or is not in canonical form; write {net}")
            if net.prefixlen == 0 and info.field_name == "mirror_source_cidrs":
                raise ValueError(
                    f"{text} would let the whole world send traffic to the analyzer; list the web servers' own CIDRs"
                )
        return _unique(v, "CIDR")

    @field_validator("mirror_source_security_group_ids")
    @classmethod
    def _source_sgs(cls, v: list[str], info: ValidationInfo) -> list[str]:
        _ids(v, _SG_ID, "security group id", "sg-0123456789abcdef0")
        # Only judge the total when the CIDR list itself was valid (it is then in info.data).
        if not v and info.data.get("mirror_source_cidrs") == []:
            raise ValueError(
                "no mirror source: set mirrorSourceCidrs or mirrorSourceSecurityGroupIds "
                "to the web servers that mirror traffic"
            )
        return v

    @field_validator("token")
    @classmethod
    def _token(cls, v: SecretStr) -> SecretStr:
        text = v.get_secret_value()
        if not text.strip():
            raise ValueError("is empty; copy the node token from Wallarm Console")
        if any(c.isspace() for c in text) or not text.isprintable():
            raise ValueError("contains whitespace or control characters; paste the token alone")
        if len(text) > MAX_TOKEN_LENGTH:
            raise ValueError(f"is {len(text)} characters, far longer than a Wallarm token; paste the token alone")
        return v

    @field_validator("token_kms_key_arn")
    @classmethod
    def _kms(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        if not _KMS_KEY_ARN.fullmatch(v):
            raise ValueError(f"{v!r} is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<uuid>)")
        if info.data.get("token_delivery") == "userData":
            raise ValueError("only applies when tokenDelivery is secretsManager or ssm")
        return v

    @field_validator("node_group")
    @classmethod
    def _node_group(cls, v: str | None) -> str | None:
        if v is not None and not _NODE_GROUP.fullmatch(v):
            raise ValueError(f"{v!r} is not a node group name (1-64 of letters, digits, '.', '_', '-')")
        return v

    @field_validator("api_host")
    @classmethod
    def _api_host(cls, v: str) -> str:
        if not _HOSTNAME.fullmatch(v):
            raise ValueError(f"{v!r} is not a hostname (e.g. api.wallarm.com or us1.api.wallarm.com)")
        return v

    @field_validator("node_version")
    @classmethod
    def _node_version(cls, v: str) -> str:
        if not re.fullmatch(r"[0-9]+\.[0-9]+", v):
            raise ValueError(f"{v!r} is not major.minor like {DEFAULT_NODE_VERSION}")
        if parse_version(v) < (4, 0):
            raise ValueError(f"{v} is older than 4.0, which this program does not support")
        if profile_for(v) is None:
            raise ValueError(
                f"{v} is newer than the node families this program knows (up to 7.x); "
                "use a known version or add its profile"
            )
        return v

    @field_validator("node_port", "health_check_port")
    @classmethod
    def _not_ssh(cls, v: int | None) -> int | None:
        if v == SSH_PORT:
            raise ValueError("is 22, the SSH port, which the nodes never open; operators use SSM Session Manager")
        return v

    @field_validator("health_check_path")
    @classmethod
    def _health_path(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"/[A-Za-z0-9._~/-]*", v):
            raise ValueError(f"{v!r} is not a URL path starting with '/'")
        return v

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, v: str) -> str:
        if not _INSTANCE_TYPE.fullmatch(v):
            raise ValueError(f"{v!r} does not look like an EC2 instance type (e.g. t3.medium)")
        if _GRAVITON_FAMILY.fullmatch(v.split(".")[0]):
            raise ValueError(
                f"{v} is an arm64 (Graviton) type, but the Wallarm AMI is x86_64; pick an x86_64 type such as m5.xlarge"
            )
        return v

    @field_validator("max_size")
    @classmethod
    def _max_size(cls, v: int, info: ValidationInfo) -> int:
        low = info.data.get("min_size")
        if low is not None and v < low:
            raise ValueError(f"is {v}, below minSize {low}; raise maxSize or lower minSize")
        return v

    @field_validator("desired_capacity")
    @classmethod
    def _desired(cls, v: int, info: ValidationInfo) -> int:
        low, high = info.data.get("min_size"), info.data.get("max_size")
        if low is not None and v < low:
            raise ValueError(f"is {v}, below minSize {low}")
        if high is not None and v > high:
            raise ValueError(f"is {v}, above maxSize {high}")
        return v

    @field_validator("certificate_arn")
    @classmethod
    def _certificate(cls, v: str | None) -> str | None:
        if v is not None and not _ACM_ARN.fullmatch(v):
            raise ValueError(f"{v!r} is not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<uuid>)")
        return v

    @field_validator("ssl_policy")
    @classmethod
    def _ssl_policy(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        if not _SSL_POLICY.fullmatch(v):
            raise ValueError(f"{v!r} is not an ELB security policy name (e.g. {DEFAULT_SSL_POLICY})")
        if "certificate_arn" in info.data and info.data["certificate_arn"] is None:
            raise ValueError("only applies to an HTTPS listener; set certificateArn too, or remove sslPolicy")
        return v

    @field_validator("endpoint_hostname")
    @classmethod
    def _endpoint_hostname(cls, v: str | None) -> str | None:
        if v is not None and not _HOSTNAME.fullmatch(v):
            raise ValueError(f"{v!r} is not a DNS name (e.g. wallarm-mirror.internal.example.com)")
        return v

    @field_validator("mirror_options")
    @classmethod
    def _mirror_options(cls, v: dict[str, Any]) -> dict[str, Any]:
        mirror_source_options(v)  # raises ValueError naming the sub-keys
        return v

    @field_validator("alarm_topic_arn")
    @classmethod
    def _topic(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        if not _SNS_ARN.fullmatch(v):
            raise ValueError(f"{v!r} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)")
        if info.data.get("alarms_enabled") is False:
            raise ValueError("only applies when alarmsEnabled is true")
        return v

    @field_validator("access_logs_bucket")
    @classmethod
    def _bucket(cls, v: str | None) -> str | None:
        if v is not None and not _BUCKET.fullmatch(v):
            raise ValueError(f"{v!r} is not an S3 bucket name (3-63 of a-z, 0-9, '.', '-')")
        return v

    @field_validator("create_access_logs_bucket")
    @classmethod
    def _create_bucket(cls, v: bool, info: ValidationInfo) -> bool:
        if v and info.data.get("access_logs_bucket"):
            raise ValueError("is true while accessLogsBucket names a bucket; set one of the two")
        return v

    @field_validator("access_logs_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if v.startswith("/") or v.endswith("/") or "AWSLogs" in v or not re.fullmatch(r"[A-Za-z0-9!_.*'()/-]*", v):
            raise ValueError(f"{v!r} is not a usable prefix (no leading or trailing '/', no 'AWSLogs')")
        return v

    @field_validator("extra_policy_arns")
    @classmethod
    def _policies(cls, v: list[str]) -> list[str]:
        return _ids(v, _POLICY_ARN, "IAM policy ARN", "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy")

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if key in RESERVED_TAG_KEYS:
                raise ValueError(f"sets {key!r}, which the program sets itself; use another key")
            if key.lower().startswith("aws:") or not 1 <= len(key) <= 128 or len(value) > 256:
                raise ValueError(
                    f"{key!r}: AWS tag keys are 1-128 characters, not starting with 'aws:', values at most 256"
                )
        return v

    # Derived settings: the one place defaults that depend on other keys are resolved.
    @property
    def profile(self) -> NodeProfile:
        found = profile_for(self.node_version)
        assert found is not None  # the validator refused versions without a profile
        return found

    @property
    def nodes_subnets(self) -> list[str]:
        return self.node_subnet_ids or self.alb_subnet_ids

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
    def boot_script_is_secret(self) -> bool:
        """Whether the boot script carries secret text: the token itself, or a snippet stored with --secret."""
        return self.token_delivery == "userData" or bool(self._secret_keys - {TOKEN_KEY})

    @property
    def mirror_source(self) -> MirrorOptions:
        """Options of the generated web-tier mirroring configs."""
        return mirror_source_options(self.mirror_options, check=False)  # the validator checked it

    @property
    def access_logs_enabled(self) -> bool:
        return self.create_access_logs_bucket or self.access_logs_bucket is not None

    def advice(self, stack: str) -> list[str]:
        """Valid but unwise settings, as warnings (never errors)."""
        notes = []
        if PRODUCTION_STACK.search(stack):
            where = f"stack {stack} looks like production, but"
            if self.min_size < 2:
                notes.append(
                    f"{where} {NAMESPACE}:minSize is {self.min_size}: one node failing leaves the "
                    "analyser blind. Use 2 or more."
                )
            if len(self.nodes_subnets) < 2:
                notes.append(
                    f"{where} the nodes have one subnet (one availability zone). List two or more "
                    f"in {NAMESPACE}:nodeSubnetIds."
                )
            if not self.deletion_protection:
                notes.append(f"{where} {NAMESPACE}:deletionProtection is false.")
            if not self.alarms_enabled:
                notes.append(f"{where} {NAMESPACE}:alarmsEnabled is false: nobody learns when the analyser goes blind.")
        if self.mode in ("safe_blocking", "block"):
            notes.append(
                f"{NAMESPACE}:mode is {self.mode}, but nodes only see copies of requests: "
                "out-of-band analysis can only monitor, nothing will be blocked. Use monitoring."
            )
        if self.mode == "off":
            notes.append(f"{NAMESPACE}:mode is off: the nodes will not analyse the mirrored traffic.")
        if self.tls and self.endpoint_hostname is None:
            notes.append(
                f"{NAMESPACE}:endpointHostname is not set: the web tier will mirror to the ALB's "
                "amazonaws.com name, which no ACM certificate covers, so TLS verification fails there. "
                "Point a DNS alias covered by certificateArn at the ALB and set endpointHostname."
            )
        if not self.tls:
            notes.append(
                f"{NAMESPACE}:certificateArn is not set: mirrored requests (credentials, personal "
                "data) cross the VPC in plain HTTP. Set an ACM certificate for HTTPS."
            )
        if self.token_delivery == "userData":
            notes.append(
                f"{NAMESPACE}:tokenDelivery is userData: anyone allowed "
                "ec2:DescribeLaunchTemplateVersions can read the token. Prefer secretsManager or ssm."
            )
        return notes


# ---------------------------------------------------------------------------------------------
# Reading Pulumi's config and turning validation errors into sentences for users.

_FIXES: dict[str, str] = {
    "vpcId": "pulumi config set wallarm-mirror:vpcId vpc-0123456789abcdef0",
    "albSubnetIds": "pulumi config set --path 'wallarm-mirror:albSubnetIds[0]' subnet-... (and [1], ...)",
    "nodeSubnetIds": "pulumi config set --path 'wallarm-mirror:nodeSubnetIds[0]' subnet-..., "
    "or remove it to use albSubnetIds",
    "mirrorSourceCidrs": "pulumi config set --path 'wallarm-mirror:mirrorSourceCidrs[0]' 10.0.1.0/24",
    "mirrorSourceSecurityGroupIds": "pulumi config set --path 'wallarm-mirror:mirrorSourceSecurityGroupIds[0]' sg-...",
    "token": "pulumi config set --secret wallarm-mirror:token <node token from Wallarm Console>",
    "instanceType": "pulumi config set wallarm-mirror:instanceType t3.medium",
    "mode": "pulumi config set wallarm-mirror:mode monitoring",
    "tokenDelivery": "pulumi config set wallarm-mirror:tokenDelivery secretsManager",
}
# Keys whose values may be stored with --secret: the token, and what goes only into the boot
# script (which then becomes a secret as a whole). Any other key ends up in plain resource settings.
SECRET_CAPABLE_KEYS = frozenset({TOKEN_KEY, "globalSnippet", "httpSnippet", "serverSnippet", "postScript"})


@dataclass
class ConfigError(Exception):
    """Every problem of one stack config, each a sentence naming its key."""

    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        count = len(self.problems)
        head = f"the stack config has {count} problem{'s' if count != 1 else ''}:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


def _aliases() -> dict[str, str]:
    return {StackConfig.model_fields[name].alias or name: name for name in StackConfig.model_fields}


def _is_text(annotation: Any) -> bool:
    """Whether a field takes the raw config string (Pulumi passes lists/maps/numbers as JSON text)."""
    if annotation in (str, SecretStr):
        return True
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return True
    if origin in (typing.Union, types.UnionType):
        return all(_is_text(a) or a is type(None) for a in typing.get_args(annotation))
    return False


def _shown(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _generic_fix(key: str) -> str:
    """The pulumi command that sets `key`, in the form its type needs."""
    name = _aliases().get(key)
    origin = typing.get_origin(StackConfig.model_fields[name].annotation) if name else None
    if origin is list:
        return f"pulumi config set --path '{NAMESPACE}:{key}[0]' <value>"
    if origin is dict:
        return f"pulumi config set --path '{NAMESPACE}:{key}.<name>' <value>"
    return f"pulumi config set {NAMESPACE}:{key} <value>"


def _sentence(error: Mapping[str, Any], raw: Mapping[str, Any], secret_keys: Collection[str]) -> str:
    loc = [str(p) for p in error["loc"]]
    # Defaults are validated too, and Pydantic names those by field name rather than by alias.
    key = loc[0] if loc else "?"
    # Defaults are validated too and named by field name; an unknown key keeps the user's spelling.
    if key in StackConfig.model_fields and error["type"] != "extra_forbidden":
        key = StackConfig.model_fields[key].alias or key
    # Map keys are user text: quote any that would not read as one path element (newlines, dots).
    where = f"{NAMESPACE}:{key}" + "".join(
        f"[{p}]" if p.isdigit() else f".{p}" if re.fullmatch(r"[\w-]+", p) else f"[{json.dumps(p)}]" for p in loc[1:]
    )
    kind = error["type"]
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(key, list(_aliases()), n=1)
        hint = f"did you mean {NAMESPACE}:{close[0]}?" if close else "remove it (see the config table in README.md)"
        return f"{where}: unknown key; {hint}"
    if kind == "missing":
        return f"{where}: required but not set. Fix: {_FIXES.get(key, f'pulumi config set {NAMESPACE}:{key} ...')}"
    message = error["msg"].removeprefix("Value error, ")
    if key == TOKEN_KEY or key in secret_keys:
        got = ""
    elif key in raw:
        got = f" (got {_shown(raw[key])})"
    else:
        got = f" (the default, {_shown(error.get('input'))})"
    fix = _FIXES.get(key) or _generic_fix(key)
    return f"{where}: {message}{got}. Fix: {fix}"


def parse_stack_config(raw: Mapping[str, Any], secret_keys: set[str] | frozenset[str] = frozenset()) -> StackConfig:
    """Validate config as Pulumi hands it over (key -> string) and return the model, or raise ConfigError.

    `secret_keys` are the bare keys that were stored encrypted; the token must be one of them.
    """
    aliases = _aliases()
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, text in raw.items():
        name = aliases.get(key)
        if name is not None and isinstance(text, str) and not _is_text(StackConfig.model_fields[name].annotation):
            try:
                values[key] = json.loads(text)
            except json.JSONDecodeError:
                values[key] = text  # let Pydantic report the type problem with the key's name
        else:
            values[key] = text
    for key in sorted(set(secret_keys) & set(raw) - SECRET_CAPABLE_KEYS):
        problems.append(
            f"{NAMESPACE}:{key}: is stored as a secret, but its value goes into resource settings in plain "
            f"text; only {', '.join(sorted(SECRET_CAPABLE_KEYS))} can be secrets. Fix: pulumi config set "
            f"{NAMESPACE}:{key} <value> (without --secret)"
        )
    if TOKEN_KEY in raw and TOKEN_KEY not in secret_keys:
        problems.append(
            f"{NAMESPACE}:{TOKEN_KEY}: is stored in plain text in the stack file; anyone who can "
            f"read the repository can register nodes. Fix: {_FIXES[TOKEN_KEY]} "
            "(and rotate the token in Wallarm Console)"
        )
    try:
        config = StackConfig.model_validate(values)
    except ValidationError as exc:
        problems.extend(_sentence(e, values, secret_keys) for e in exc.errors(include_url=False))
        config = None
    if problems:
        raise ConfigError(problems)
    assert config is not None
    config._secret_keys = frozenset(secret_keys) & SECRET_CAPABLE_KEYS
    return config


def read_pulumi_config() -> tuple[dict[str, Any], set[str]]:
    """All keys of our namespace from the running Pulumi program, and which of them are secrets."""
    from pulumi.runtime import config as runtime_config  # imported here: the model itself stays Pulumi-free

    prefix = f"{NAMESPACE}:"
    names = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    names |= {prefix + alias for alias in _aliases()}  # also finds PULUMI_CONFIG_<KEY> variables
    raw = {}
    for full in sorted(names):
        if full.startswith(prefix):
            value = runtime_config.get_config(full)
            if value is not None:
                raw[full.removeprefix(prefix)] = value
    # The CLI passes secret key names in PULUMI_CONFIG_SECRET_KEYS; mocks and tests use set_all_config.
    from_env = set(runtime_config.get_config_secret_keys_env())
    secret = {key for key in raw if runtime_config.is_config_secret(prefix + key) or prefix + key in from_env}
    return raw, secret


def load_stack_config() -> StackConfig:
    """The validated config of the running stack; raises ConfigError listing every problem."""
    raw, secret = read_pulumi_config()
    return parse_stack_config(raw, secret)
