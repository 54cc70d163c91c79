"""The config keys as a Markdown table, generated from the model so docs/configuration.md cannot drift."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import SecretStr
from pydantic_core import PydanticUndefined

from .model import NAMESPACE, StackConfig


def _type_name(annotation: Any) -> str:
    if annotation is SecretStr:
        return "secret string"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " / ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        return " or ".join(_type_name(a) for a in args if a is not type(None))
    if origin is None:
        return getattr(annotation, "__name__", str(annotation))
    return f"{origin.__name__}[{', '.join(_type_name(a) for a in args)}]"


# Program-level keys: the program reads the network stack and hands the component its Outputs, so
# the component's args have no such fields (a library caller passes StackReference outputs itself).
PROGRAM_ONLY_KEYS = frozenset({"network_stack", "network_outputs", "hub_stack"})
# Keys the stack file may leave to networkStack: optional in the model, required in the args.
NETWORK_STACK_KEYS = frozenset({"vpc_id"})
# Keys both analysers that run nodes require and a spoke refuses: optional in the model, required in
# the args of those analysers (WallarmMirrorArgs keeps them required: a spoke has NativeSpokeArgs).
NODE_REQUIRED_KEYS = frozenset({"token"})


def _default(name: str) -> str:
    info = StackConfig.model_fields[name]
    if info.is_required():
        return "**required**"
    if name in NETWORK_STACK_KEYS:
        return "**required** unless networkStack gives it"
    if name in NODE_REQUIRED_KEYS:
        return "**required** (not with nativeSpoke)"
    value = info.get_default(call_default_factory=True, validated_data={})
    if value is None or value is PydanticUndefined:
        return "—"
    return f"`{json.dumps(value)}`"


def config_table() -> str:
    rows = ["| key | type | default | what it is |", "|---|---|---|---|"]
    for name, info in StackConfig.model_fields.items():
        key = f"`{NAMESPACE}:{info.alias or name}`"
        rows.append(f"| {key} | {_type_name(info.annotation)} | {_default(name)} | {info.description or ''} |")
    return "\n".join(rows) + "\n"


# A valid base and one bad change at a time: docs/configuration.md's "bad input" table is what users really see.
_BASE = {
    "vpcId": "vpc-0123456789abcdef0",
    "albSubnetIds": '["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]',
    "mirrorSourceCidrs": '["10.0.16.0/20"]',
    "token": "wallarm-node-token",
}
BAD_INPUT_EXAMPLES: tuple[tuple[str, str | None], ...] = (
    ("vpcId", "vpc-123"),
    ("albSubnetIds", '["subnet-0123456789abcdef0"]'),
    ("nodeSubnetIds", "[]"),
    ("mirrorSourceCidrs", '["0.0.0.0/0"]'),
    ("mirrorSourceCidrs", '["10.0.1.1/24"]'),
    ("mirrorSourceCidrs", None),
    ("mirrorSourceSecurityGroupIds", '["sg-xyz"]'),
    ("token", None),
    ("apiHost", "https://api.wallarm.com"),
    ("nodeVersion", "8.0"),
    ("amiId", "ami-xyz"),
    ("mode", "blocking"),
    ("instanceType", "m6g.large"),
    ("maxSize", "0"),
    ("desiredCapacity", "9"),
    ("cpuTarget", "100"),
    ("certificateArn", "arn:aws:iam::123456789012:server-certificate/x"),
    ("sslPolicy", "ELBSecurityPolicy-TLS13-1-2-2021-06"),
    ("deletionProtection", "maybe"),
    ("extraPolicyArns", '["CloudWatchAgentServerPolicy"]'),
    ("tags", '{"app": "mine"}'),
    ("tokenDelivery", "s3"),
    ("mirrorOptions", '{"samplePercent": 0}'),
    ("alarmTopicArn", "ops-oncall"),
    ("accessLogsBucket", "Corp_Logs"),
    ("vpcID", "vpc-0123456789abcdef0"),
    ("analyzer", "nativeNodes"),
    ("trafficMirrorVni", "7"),
)
# The same for a Native Node stack (analyzer: nativeNode): its own keys, and one of the other's.
_NATIVE_BASE = {
    "analyzer": "nativeNode",
    "vpcId": "vpc-0123456789abcdef0",
    "nodeSubnetIds": '["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]',
    "mirrorSourceCidrs": '["10.0.16.0/20"]',
    "nodeGroup": "aws-mirror",
    "trafficMirrorSourceTags": '{"role": "web"}',
    "token": "wallarm-api-token",
}
NATIVE_BAD_INPUT_EXAMPLES: tuple[tuple[str, str | None], ...] = (
    ("nodeSubnetIds", None),
    ("nodeGroup", None),
    ("mirrorSourceCidrs", None),
    ("trafficMirrorSourceTags", None),
    ("trafficMirrorSourceEniIds", '["i-0123456789abcdef0"]'),
    ("trafficMirrorSourceTags", '{"aws:autoscaling:groupName": "web"}'),
    ("trafficMirrorMethod", "both"),
    ("trafficMirrorSourceTags", '{"role": "web", "tier": "front"}'),
    ("trafficMirrorPorts", "[80, 80]"),
    ("trafficMirrorPorts", "[80, 8080, 8443]"),
    ("trafficMirrorPorts", "[0]"),
    ("trafficMirrorVni", "16777216"),
    ("trafficMirrorSessionNumber", "0"),
    ("trafficMirrorEnrolmentRate", "10"),
    ("trafficMirrorShareWith", '["12345678901"]'),
    ("trafficMirrorShareWith", '["arn:aws:iam::123456789012:root"]'),
    ("trafficMirrorShareWith", '["123456789012", "123456789012"]'),
    (
        "trafficMirrorShareWith",
        '["arn:aws:organizations::123456789012:organization/o-abcdefghij", '
        '"arn:aws:organizations::210987654321:ou/o-zyxwvutsrq/ou-ab12-cdef3456"]',
    ),
    ("trafficMirrorShareExternal", "true"),
    ("nativeNodeVersion", "0.23.1"),
    ("nativeNodeVersion", "0.25"),
    ("nativeNodeInstallerSha256", "abc"),
    ("certificateArn", "arn:aws:acm:eu-west-1:123456789012:certificate/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"),
)


def bad_input_table(native: bool = False) -> str:
    """Each bad input of BAD_INPUT_EXAMPLES (or NATIVE_BAD_INPUT_EXAMPLES) and the message `pulumi up` stops with."""
    from .loader import ConfigError, parse_stack_config

    base, examples = (_NATIVE_BASE, NATIVE_BAD_INPUT_EXAMPLES) if native else (_BASE, BAD_INPUT_EXAMPLES)
    rows = ["| key | bad value | what `pulumi up` and the offline plan say |", "|---|---|---|"]
    for key, value in examples:
        raw = dict(base)
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
        try:
            parse_stack_config(raw, {"token"})
        except ConfigError as error:
            said = "<br>".join(p.replace("|", "\\|") for p in error.problems)
        else:
            raise AssertionError(f"{key}={value!r} was accepted; it is not a bad-input example")
        shown = "(not set)" if value is None else f"`{value}`"
        rows.append(f"| `{key}` | {shown} | {said} |")
    return "\n".join(rows) + "\n"


# --- the component's args, generated from the same model ---------------------------------------

# Keys whose value may be a pulumi Output (an id or ARN another resource or stack produces). Lists
# here may hold Outputs; the list itself may be an Output too where the count decides no resource.
OUTPUT_SCALARS = frozenset(
    {
        "vpc_id",
        "token",
        "token_kms_key_arn",
        "ami_id",
        "certificate_arn",
        "alarm_topic_arn",
        "access_logs_bucket",
        "global_snippet",
        "http_snippet",
        "server_snippet",
        "post_script",
    }
)
OUTPUT_LISTS = frozenset({"alb_subnet_ids", "node_subnet_ids"})
# Lists with one resource per item (a rule, an attachment, a session): the list must be known, its
# items may be Outputs (a security group, policy or interface the same program creates).
OUTPUT_ITEM_LISTS = frozenset(
    {"mirror_source_security_group_ids", "extra_policy_arns", "traffic_mirror_source_eni_ids"}
)


def _args_type(name: str, annotation: Any) -> str:
    """The annotation of one args field, in source form the SDK's schema analyzer understands."""
    if name in OUTPUT_SCALARS:
        return "pulumi.Input[str]"
    if name in OUTPUT_LISTS:
        return "pulumi.Input[Sequence[pulumi.Input[str]]]"
    if name in OUTPUT_ITEM_LISTS:
        return "Sequence[pulumi.Input[str]]"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        return _args_type(name, inner)
    if annotation in (str, SecretStr) or origin is typing.Literal:
        return "str"  # a Literal's values are listed in the description; the schema has no enum here
    if annotation in (int, float, bool):
        return annotation.__name__
    if origin is list:
        return f"Sequence[{_args_type(name, args[0])}]"
    if origin is dict:
        value = "Any" if args[1] is Any else _args_type(name, args[1])
        return f"Mapping[str, {value}]"
    raise TypeError(f"no args type for {name}: {annotation!r}")


ARGS_TABLE_HEADER = "| field (Python) | property (YAML, TypeScript, Go, C#) | type | default | what it is |"


def args_table() -> str:
    """The component's args as a Markdown table: the same fields, names, types and text as args.py
    and the package schema (the property is the config key: the schema camel-cases the field)."""
    rows = [ARGS_TABLE_HEADER, "|---|---|---|---|---|"]
    for name, info in StackConfig.model_fields.items():
        if name in PROGRAM_ONLY_KEYS:
            continue
        required = info.is_required() or name in NETWORK_STACK_KEYS | NODE_REQUIRED_KEYS
        default = "**required**" if required else _default(name)
        text = info.description or ""
        if typing.get_origin(info.annotation) is typing.Literal:
            text += f" One of: {', '.join(typing.get_args(info.annotation))}."
        kind = _args_type(name, info.annotation).replace("pulumi.", "")
        rows.append(f"| `{name}` | `{info.alias or name}` | `{kind}` | {default} | {text} |")
    return "\n".join(rows) + "\n"


# The per-analyser components: which fields each takes, and which of them it requires (the model
# requires them through the analyser's rules; a component of one analyser can say so in its type).
ANALYSER_ARGS: dict[str, tuple[str, str, frozenset[str]]] = {
    # class: (analyser, docstring, required fields besides the model's own)
    "NginxAnalyserArgs": (
        "nginxNode",
        "What the NGINX node analyser is built from: the web tier mirrors HTTP copies to an internal ALB.",
        frozenset({"alb_subnet_ids"}),
    ),
    "NativeAnalyserArgs": (
        "nativeNode",
        "What the Native Node analyser is built from: AWS VPC Traffic Mirroring feeds an internal NLB.",
        frozenset({"node_subnet_ids", "mirror_source_cidrs", "node_group"}),
    ),
    "NativeSpokeArgs": (
        "nativeSpoke",
        "What a spoke is built from: its web tier enrolled into a hub's analyser (no NLB, no nodes).",
        frozenset({"hub_outputs", "mirror_source_cidrs"}),
    ),
}


def analyser_fields(analyzer: str) -> list[str]:
    """The args fields that mean something for `analyzer` (not `analyzer` itself, not the other's keys)."""
    from .analyzers import refused_keys

    other_only = refused_keys(analyzer)
    return [
        name
        for name, info in StackConfig.model_fields.items()
        if name not in PROGRAM_ONLY_KEYS and name != "analyzer" and (info.alias or name) not in other_only
    ]


def _field_lines(name: str, required: bool) -> list[str]:
    info = StackConfig.model_fields[name]
    wrapper = "Required" if required else "NotRequired"
    default = "—" if required else _default(name).strip("`")
    text = (info.description or "").replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    annotation = info.annotation
    if typing.get_origin(annotation) is typing.Literal:
        text += f" One of: {', '.join(typing.get_args(annotation))}."
    extra = f" Config key: {NAMESPACE}:{info.alias or name}"
    extra += "." if default == "—" else f"; default {default}."
    return [f"    {name}: {wrapper}[{_args_type(name, info.annotation)}]", f'    """{text}{extra}"""', ""]


def args_module_source() -> str:
    """Source of wallarm_mirror/components/args.py: one documented field per config key."""
    lines = [
        '"""The components\' args: one field per stack config key (generated, do not edit).',
        "",
        "WallarmMirrorArgs takes every key (any analyser); NginxAnalyserArgs, NativeAnalyserArgs and",
        "NativeSpokeArgs take only the keys of their analyser, and require what it requires.",
        "",
        "Regenerate with `python -m wallarm_mirror config-reference --args-module >",
        "wallarm_mirror/components/args.py`; a test keeps it equal to the config model. Each field's",
        "docstring is its reference text (the Pulumi schema takes descriptions from these docstrings).",
        '"""',
        "",
        "# ruff: noqa: E501  (each docstring is one line of reference text)",
        "# No `from __future__ import annotations`: the schema analyzer reads these annotations at run time.",
        "from collections.abc import Mapping, Sequence",
        "from typing import Any, NotRequired, Required, TypedDict",
        "",
        "import pulumi",
        "",
        "",
        "class WallarmMirrorArgs(TypedDict, total=False):",
        '    """What one Wallarm mirror analyser is built from; the same rules as the stack config."""',
        "",
    ]
    for name, info in StackConfig.model_fields.items():
        if name in PROGRAM_ONLY_KEYS:
            continue
        lines += _field_lines(name, info.is_required() or name in NETWORK_STACK_KEYS | NODE_REQUIRED_KEYS)
    for class_name, (analyzer, doc, also_required) in ANALYSER_ARGS.items():
        lines += ["", f"class {class_name}(TypedDict, total=False):", f'    """{doc}"""', ""]
        for name in analyser_fields(analyzer):
            required = (
                StackConfig.model_fields[name].is_required()
                or name in NETWORK_STACK_KEYS | NODE_REQUIRED_KEYS | also_required
            )
            lines += _field_lines(name, required)
    return "\n".join(lines).rstrip("\n") + "\n"
