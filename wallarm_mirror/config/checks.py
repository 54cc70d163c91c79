"""The rule of each config key, as a function the model attaches to that key's field.

Each check takes the value Pydantic has already parsed (and `info`, whose `data` holds the keys
declared before it) and returns it or raises ValueError with the part of a sentence after the key;
`errors.py` adds the key, the value and the fix. Cross-key rules read only keys declared earlier
in the model, so the field order of `StackConfig` is part of these rules.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr, ValidationInfo
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from ..mirror import MirrorEndpoint, MirrorOptions, render_all
from ..node.profiles import DEFAULT_NODE_VERSION, parse_version, profile_for

DEFAULT_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
RESERVED_TAG_KEYS = ("app", "stack")
SSH_PORT = 22
# Wallarm tokens are well under 1 KB; a longer value is something else pasted by mistake.
MAX_TOKEN_LENGTH = 4096

_VPC_ID = re.compile(r"^vpc-([0-9a-f]{8}|[0-9a-f]{17})$")
_SUBNET_ID = re.compile(r"^subnet-([0-9a-f]{8}|[0-9a-f]{17})$")
_SG_ID = re.compile(r"^sg-([0-9a-f]{8}|[0-9a-f]{17})$")
_AMI_ID = re.compile(r"^ami-([0-9a-f]{8}|[0-9a-f]{17})$")
HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
# Graviton families carry a 'g' after the generation digit: m6g, c7gn, r8g, t4g ...
GRAVITON_FAMILY = re.compile(r"^[a-z]+\d+[a-z]*g[a-z]*$")
_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
_SSL_POLICY = re.compile(r"^ELBSecurityPolicy-[A-Za-z0-9-]+$")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[\w+=,.@/-]+$")
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}$")
_NODE_GROUP = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
_BUCKET = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class ItemError(ValueError):
    """A problem of some items of a list key: their positions, so the fix names `key[1]`, not `key[0]`."""

    def __init__(self, message: str, indices: list[int]) -> None:
        super().__init__(message)
        self.indices = indices


def unique(values: list[str], what: str) -> list[str]:
    counts = Counter(values)
    dupes = list(dict.fromkeys(v for v in values if counts[v] > 1))
    if dupes:
        again = [i for i, v in enumerate(values) if v in dupes and values.index(v) != i]
        raise ItemError(f"lists {what} {', '.join(dupes)} more than once; list each once", again)
    return values


def ids(values: list[str], pattern: re.Pattern[str], what: str, example: str) -> list[str]:
    bad = [i for i, v in enumerate(values) if not pattern.fullmatch(v)]
    if bad:
        article = "an" if what[0] in "AEIOUaeiou" else "a"
        verb = f"is not {article} {what}" if len(bad) == 1 else f"are not {what}s"
        raise ItemError(f"{', '.join(repr(values[i]) for i in bad)} {verb} (expected like {example})", bad)
    return unique(values, what)


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


# --- network ---------------------------------------------------------------------------------


# networkStack: org/project/stack, each part as the Pulumi service names them.
_STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
NETWORK_KEYS = ("vpcId", "albSubnetIds", "nodeSubnetIds")


def default_network_outputs(analyzer: str) -> dict[str, str]:
    """Our key -> the network stack's output, for the common VPC stack shape (vpcId, privateSubnetIds).

    nativeNode takes only the VPC from it: its node subnets are listed in the stack file, because
    each one gets a health-check rule of its own when the plan is made.
    """
    if analyzer == "nativeNode":
        return {"vpcId": "vpcId"}
    return {"vpcId": "vpcId", "albSubnetIds": "privateSubnetIds"}


def network_stack(v: str | None) -> str | None:
    if v is not None and not _STACK_NAME.fullmatch(v):
        raise ValueError(f"{v!r} is not a stack reference; write org/project/stack, e.g. acme/network/prod")
    return v


def network_outputs(v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
    if not v:
        return v
    if info.data.get("network_stack") is None:
        raise ValueError("is set but networkStack is not; set networkStack to the stack these outputs belong to")
    unknown = [key for key in v if key not in NETWORK_KEYS]
    if unknown:
        raise ValueError(f"maps {', '.join(unknown)}; it can map {', '.join(NETWORK_KEYS)}")
    empty = [key for key, output in v.items() if not output.strip()]
    if empty:
        raise ValueError(f"gives {', '.join(empty)} an empty output name")
    if info.data.get("analyzer") == "nativeNode" and "nodeSubnetIds" in v:
        raise ValueError(
            "maps nodeSubnetIds, but with analyzer nativeNode list them in nodeSubnetIds: each subnet gets a "
            "health-check rule of its own, so their number must be known when the plan is made"
        )
    return v


def vpc_id(v: str | None, info: ValidationInfo) -> str | None:
    if v is None:
        # Unset is fine when networkStack supplies it (a refused networkStack has its own sentence),
        # and on a spoke, which builds nothing in a VPC of its own.
        if info.data.get("network_stack", "") is None and info.data.get("analyzer") != "nativeSpoke":
            raise PydanticCustomError("missing", "Field required")  # the 'required but not set' sentence
        return v
    if not _VPC_ID.fullmatch(v):
        raise ValueError(f"{v!r} is not a VPC id (vpc- and 8 or 17 hex digits)")
    return v


def alb_subnets(v: list[str] | None, info: ValidationInfo) -> list[str] | None:
    if v is None:
        if info.data.get("analyzer") == "nginxNode" and info.data.get("network_stack", "") is None:
            raise PydanticCustomError("missing", "Field required")  # the 'required but not set' sentence
        return v
    ids(v, _SUBNET_ID, "subnet id", "subnet-0123456789abcdef0")
    if len(v) < 2:
        raise ValueError(
            f"has {len(v)} subnet{'' if len(v) == 1 else 's'}; an ALB needs at least 2 in different availability zones"
        )
    return v


def node_subnets(v: list[str] | None, info: ValidationInfo) -> list[str] | None:
    if v is None:
        if info.data.get("analyzer") == "nativeNode":
            raise ValueError("is required when analyzer is nativeNode: the NLB and the nodes use these subnets")
        return v
    if not v:
        raise ValueError("is empty; list at least one subnet or remove the key to use albSubnetIds")
    return ids(v, _SUBNET_ID, "subnet id", "subnet-0123456789abcdef0")


def cidrs(v: list[str], info: ValidationInfo) -> list[str]:
    for index, text in enumerate(v):
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ItemError(f"{text!r} is not a CIDR (expected like 10.0.0.0/16 or 2600:1f18::/56)", [index]) from None
        if str(net) != text:
            raise ItemError(f"{text!r} has host bits set or is not in canonical form; write {net}", [index])
        if net.prefixlen == 0 and info.field_name == "mirror_source_cidrs":
            raise ItemError(
                f"{text} would let the whole world send traffic to the analyzer; list the web servers' own CIDRs",
                [index],
            )
    if (
        not v
        and info.field_name == "mirror_source_cidrs"
        and info.data.get("analyzer") in ("nativeNode", "nativeSpoke")
    ):
        raise ValueError(
            "is not set or empty; list the subnets of the mirrored network interfaces (the nodes accept VXLAN on "
            "UDP 4789 from these only)"
        )
    return unique(v, "CIDR")


def source_security_groups(v: list[str], info: ValidationInfo) -> list[str]:
    ids(v, _SG_ID, "security group id", "sg-0123456789abcdef0")
    # Only judge the total when the CIDR list itself was valid (it is then in info.data).
    if info.data.get("analyzer") in ("nativeNode", "nativeSpoke"):
        return v  # mirrorSourceCidrs is required on its own there (see cidrs)
    if not v and info.data.get("mirror_source_cidrs") == []:
        raise ValueError(
            "no mirror source: set mirrorSourceCidrs or mirrorSourceSecurityGroupIds "
            "to the web servers that mirror traffic"
        )
    return v


# --- Wallarm node ----------------------------------------------------------------------------


def token(v: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
    if v is None:
        if info.data.get("analyzer") == "nativeSpoke":
            return v  # a spoke runs no nodes (and analyzers.py refuses a token there)
        raise PydanticCustomError("missing", "Field required")  # the 'required but not set' sentence
    text = v.get_secret_value()
    if not text.strip():
        raise ValueError("is empty; copy the node token from Wallarm Console")
    if any(c.isspace() for c in text) or not text.isprintable():
        raise ValueError("contains whitespace or control characters; paste the token alone")
    if len(text) > MAX_TOKEN_LENGTH:
        raise ValueError(f"is {len(text)} characters, far longer than a Wallarm token; paste the token alone")
    return v


def kms_key(v: str | None, info: ValidationInfo) -> str | None:
    if v is None:
        return v
    if not _KMS_KEY_ARN.fullmatch(v):
        raise ValueError(f"{v!r} is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<uuid>)")
    if info.data.get("token_delivery") == "userData":
        raise ValueError("only applies when tokenDelivery is secretsManager or ssm")
    return v


def node_group(v: str | None, info: ValidationInfo) -> str | None:
    if v is None and info.data.get("analyzer") == "nativeNode":
        raise ValueError(
            "is required when analyzer is nativeNode: the all-in-one installer registers the node "
            "with an API token into this group"
        )
    if v is not None and not _NODE_GROUP.fullmatch(v):
        raise ValueError(f"{v!r} is not a node group name (1-64 of letters, digits, '.', '_', '-')")
    return v


def api_host(v: str) -> str:
    if not HOSTNAME.fullmatch(v):
        raise ValueError(f"{v!r} is not a hostname (e.g. api.wallarm.com or us1.api.wallarm.com)")
    return v


def node_version(v: str) -> str:
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


def ami_id(v: str | None) -> str | None:
    if v is not None and not _AMI_ID.fullmatch(v):
        raise ValueError(f"{v!r} is not an AMI id (ami- and 8 or 17 hex digits)")
    return v


def not_ssh(v: int | None) -> int | None:
    if v == SSH_PORT:
        raise ValueError("is 22, the SSH port, which the nodes never open; operators use SSM Session Manager")
    return v


def health_path(v: str | None) -> str | None:
    if v is not None and not re.fullmatch(r"/[A-Za-z0-9._~/-]*", v):
        raise ValueError(f"{v!r} is not a URL path starting with '/'")
    return v


# --- capacity --------------------------------------------------------------------------------


def instance_type(v: str, info: ValidationInfo) -> str:
    if not _INSTANCE_TYPE.fullmatch(v):
        raise ValueError(f"{v!r} does not look like an EC2 instance type (e.g. t3.medium)")
    # The Native Node installer exists for x86_64 and aarch64 (facts, section 9): Graviton is fine there.
    if info.data.get("analyzer") == "nginxNode" and GRAVITON_FAMILY.fullmatch(v.split(".")[0]):
        raise ValueError(
            f"{v} is an arm64 (Graviton) type, but the Wallarm AMI is x86_64; pick an x86_64 type such as m5.xlarge"
        )
    return v


def max_size(v: int, info: ValidationInfo) -> int:
    low = info.data.get("min_size")
    if low is not None and v < low:
        raise ValueError(f"is {v}, below minSize {low}; raise maxSize or lower minSize")
    return v


def desired_capacity(v: int, info: ValidationInfo) -> int:
    low, high = info.data.get("min_size"), info.data.get("max_size")
    if low is not None and v < low:
        raise ValueError(f"is {v}, below minSize {low}")
    if high is not None and v > high:
        raise ValueError(f"is {v}, above maxSize {high}")
    return v


# --- load balancer and the web tier's side ---------------------------------------------------


def certificate(v: str | None) -> str | None:
    if v is not None and not _ACM_ARN.fullmatch(v):
        raise ValueError(f"{v!r} is not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<uuid>)")
    return v


def ssl_policy(v: str | None, info: ValidationInfo) -> str | None:
    if v is None:
        return v
    if not _SSL_POLICY.fullmatch(v):
        raise ValueError(f"{v!r} is not an ELB security policy name (e.g. {DEFAULT_SSL_POLICY})")
    if "certificate_arn" in info.data and info.data["certificate_arn"] is None:
        raise ValueError("only applies to an HTTPS listener; set certificateArn too, or remove sslPolicy")
    return v


def endpoint_hostname(v: str | None) -> str | None:
    if v is not None and not HOSTNAME.fullmatch(v):
        raise ValueError(f"{v!r} is not a DNS name (e.g. wallarm-mirror.internal.example.com)")
    return v


def mirror_options(v: dict[str, Any]) -> dict[str, Any]:
    mirror_source_options(v)  # raises ValueError naming the sub-keys
    return v


# --- operations ------------------------------------------------------------------------------


def alarm_topic(v: str | None, info: ValidationInfo) -> str | None:
    if v is None:
        return v
    if not _SNS_ARN.fullmatch(v):
        raise ValueError(f"{v!r} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)")
    if info.data.get("alarms_enabled") is False:
        raise ValueError("only applies when alarmsEnabled is true")
    return v


def bucket(v: str | None) -> str | None:
    if v is not None and not _BUCKET.fullmatch(v):
        raise ValueError(f"{v!r} is not an S3 bucket name (3-63 of a-z, 0-9, '.', '-')")
    return v


def create_bucket(v: bool, info: ValidationInfo) -> bool:
    if v and info.data.get("access_logs_bucket"):
        raise ValueError("is true while accessLogsBucket names a bucket; set one of the two")
    return v


def log_prefix(v: str) -> str:
    if v.startswith("/") or v.endswith("/") or "AWSLogs" in v or not re.fullmatch(r"[A-Za-z0-9!_.*'()/-]*", v):
        raise ValueError(f"{v!r} is not a usable prefix (no leading or trailing '/', no 'AWSLogs')")
    return v


def policy_arns(v: list[str]) -> list[str]:
    return ids(v, _POLICY_ARN, "IAM policy ARN", "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy")


def tags(v: dict[str, str]) -> dict[str, str]:
    for key, value in v.items():
        if key in RESERVED_TAG_KEYS:
            raise ValueError(f"sets {key!r}, which the program sets itself; use another key")
        if key.lower().startswith("aws:") or not 1 <= len(key) <= 128 or len(value) > 256:
            raise ValueError(
                f"{key!r}: AWS tag keys are 1-128 characters, not starting with 'aws:', values at most 256"
            )
    return v
