"""From the component's args to a validated config: now for what is known, at deploy for Outputs.

The same model and the same sentences as the stack config check the args. Everything known when the
component is constructed is checked then, and a refused value raises before any child resource is
registered. A value that is a pulumi Output (a subnet this program creates, a StackReference
output) stands in the model as a valid placeholder, and the real value is checked when it resolves,
with the same rule and sentence, so `pulumi up` stops with that sentence instead of an AWS error.

What needs a known value at construction, and why: every list with one resource per item
(mirrorSourceCidrs, nodeEgressCidrs: one rule per item, named after it; mirrorSourceSecurityGroupIds,
extraPolicyArns, trafficMirrorSourceEniIds: the list must be known, its items may be Outputs, and an
Output item's resource is named after its position, a known one after its value); every switch
that decides which resources exist (analyzer, tokenDelivery, certificateArn being set or not,
alarms, access logs); and, for nativeNode, the number of nodeSubnetIds (one health-check rule per
subnet). albSubnetIds and nodeSubnetIds may hold Outputs, and may themselves be an Output (nginxNode):
their count is then checked when they resolve.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from ..config import ConfigError, StackConfig, parse_stack_config
from ..config.reference import OUTPUT_ITEM_LISTS, OUTPUT_LISTS, OUTPUT_SCALARS, PROGRAM_ONLY_KEYS
from .node_boot import BOOT_TEXT_FIELDS

ARGS_NAME = "WallarmMirrorArgs"

# A valid stand-in per Output-capable key: the model checks everything else around it.
_PLACEHOLDERS: dict[str, str] = {
    "vpc_id": "vpc-00000000000000000",
    "token": "placeholder-token",
    "token_kms_key_arn": "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000",
    "ami_id": "ami-00000000000000000",
    "certificate_arn": "arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-0000-0000-000000000000",
    "alarm_topic_arn": "arn:aws:sns:us-east-1:000000000000:placeholder",
    "access_logs_bucket": "placeholder-bucket",
    "global_snippet": "",
    "http_snippet": "",
    "server_snippet": "",
    "post_script": "",
}


# A hub output given as an Output (a StackReference's, the program's hubStack) stands in as a valid
# value that the hub-dependent rules pass (every CIDR inside 0.0.0.0/0 and ::/0, one port): the real
# value is checked, with the same rules and sentences, when it resolves.
HUB_PLACEHOLDERS: dict[str, Any] = {
    "traffic_mirror_target_id": "tmt-00000000000000000",
    "traffic_mirror_target_arn": "arn:aws:ec2:us-east-1:000000000000:traffic-mirror-target/tmt-00000000000000000",
    "nlb_dns_name": "placeholder.elb.us-east-1.amazonaws.com",
    "traffic_mirror_vni": 0,
    "traffic_mirror_ports": [80],
    "mirror_source_cidrs": ["0.0.0.0/0", "::/0"],
    "nlb_zone_addresses": {},
}
# The keys whose rules read the hub's outputs: their sentences stop a deploy when the hub's resolve.
HUB_DEPENDENT = ("hub_outputs", "mirror_source_cidrs", "traffic_mirror_ipv6")


def _subnet_placeholder(index: int) -> str:
    return f"subnet-{index:017x}"


# A valid stand-in for item `i` of a list whose items may be Outputs, distinct per item (the lists
# refuse duplicates): the real item is checked when it resolves.
_ITEM_PLACEHOLDERS: dict[str, Callable[[int], str]] = {
    "alb_subnet_ids": _subnet_placeholder,
    "node_subnet_ids": _subnet_placeholder,
    "mirror_source_security_group_ids": lambda i: f"sg-{i:017x}",
    "traffic_mirror_source_eni_ids": lambda i: f"eni-{i:017x}",
    "extra_policy_arns": lambda i: f"arn:aws:iam::000000000000:policy/placeholder-{i}",
}
# What each item of those lists becomes, for the sentence when the list itself is an Output.
_ITEM_RESOURCES = {
    "mirror_source_security_group_ids": "an ALB ingress rule",
    "traffic_mirror_source_eni_ids": "a traffic mirror session",
    "extra_policy_arns": "a role policy attachment",
}


def _is_output(value: Any) -> bool:
    return isinstance(value, pulumi.Output) or inspect.isawaitable(value)


def _holds_output(value: Any) -> bool:
    """An Output, or a list or map with one inside (at any depth)."""
    if _is_output(value):
        return True
    if isinstance(value, Mapping):
        return any(_holds_output(v) for v in value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return any(_holds_output(v) for v in value)
    return False


@dataclass(frozen=True)
class ResolvedArgs:
    """The args checked so far: a model of what is known, and the Outputs still to check."""

    config: StackConfig
    # Output-valued keys (snake_case), each checked by the model's rule when it resolves.
    late: dict[str, pulumi.Output[Any]] = field(default_factory=dict)
    # The token, always a secret, whatever the caller passed.
    token: pulumi.Output[str] = field(default_factory=lambda: pulumi.Output.secret(""))
    # A snippet or post script came as an Output: the boot script holding it is secret.
    secret_boot_text: bool = False
    # Per list that came with Output items, the positions of those items.
    output_items: dict[str, frozenset[int]] = field(default_factory=dict)

    def value(self, key: str) -> Any:
        """The checked Output of an Output-valued key, else the known value."""
        return self.late[key] if key in self.late else getattr(self.config, key)

    def nodes_subnets(self) -> Any:
        """The nodes' subnets: nodeSubnetIds, else albSubnetIds (either may be an Output)."""
        return (
            self.value("node_subnet_ids") if self.config.node_subnet_ids is not None else self.value("alb_subnet_ids")
        )

    def items(self, key: str) -> list[Any]:
        """A list given as a list (never as one Output), whose items may be checked Outputs, in order:
        an item list (OUTPUT_ITEM_LISTS), or nodeSubnetIds with nativeNode (one rule per subnet)."""
        known = list(getattr(self.config, key))  # with a placeholder where an Output was given
        if key not in self.late:
            return known
        late = self.output_items[key]
        return [self.late[key].apply(_item(i)) if i in late else value for i, value in enumerate(known)]


def _item(index: int) -> Callable[[list[Any]], Any]:
    """A function picking item `index` of a list: bound now, not to a loop variable's last value."""

    def pick(values: list[Any]) -> Any:
        return values[index]

    return pick


def _args_sentences(problems: list[str], args_name: str = ARGS_NAME) -> list[str]:
    """Config sentences as args sentences: `WallarmMirrorArgs.vpc_id: ...`, no `pulumi config` fix."""
    from ..config.errors import aliases  # alias -> field name

    by_alias = aliases()

    def rename(match: re.Match[str]) -> str:
        return f"{args_name}.{by_alias.get(match.group(1), match.group(1))}"

    renamed = []
    for problem in problems:
        text = re.sub(r"^wallarm-mirror:([A-Za-z0-9]+)", rename, problem)
        renamed.append(re.sub(r"\. Fix: .*$", "", text, flags=re.DOTALL))
    return renamed


def _raw(args: Mapping[str, Any], placeholders: Mapping[str, Any]) -> dict[str, Any]:
    """The args as the config reader takes them: by config key, with placeholders for Outputs."""
    fields = StackConfig.model_fields
    raw: dict[str, Any] = {}
    for key, value in args.items():
        alias = fields[key].alias if key in fields else key
        raw[alias or key] = placeholders.get(key, value)
    return raw


def _problems_of(raw: Mapping[str, Any], secret: set[str]) -> list[str]:
    try:
        parse_stack_config(raw, secret)
    except ConfigError as error:
        return error.problems
    return []


def resolve_args(args: Mapping[str, Any], args_name: str = ARGS_NAME) -> ResolvedArgs:
    """Check the args now where they are known; return the model and the Outputs checked later.

    Raises ConfigError (sentences naming `WallarmMirrorArgs.<field>`) for everything known now.
    """
    if not isinstance(args, Mapping):
        raise ConfigError([f"{args_name}: expected a mapping of fields ({args_name}(...)), got {args!r}"])
    program_only = sorted(PROGRAM_ONLY_KEYS & set(args))
    if program_only:
        raise ConfigError(
            [
                f"{args_name}.{key}: is a key of the program's stack config, not of the args; "
                + (
                    "pass the hub stack's outputs (pulumi.StackReference(...).get_output(...)) in hub_outputs"
                    if key == "hub_stack"
                    else "pass the network stack's outputs (pulumi.StackReference(...).require_output(...)) as "
                    "vpc_id and the subnet ids"
                )
                for key in program_only
            ]
        )
    placeholders: dict[str, Any] = {}
    outputs: dict[str, pulumi.Output[Any]] = {}
    for key in OUTPUT_SCALARS & set(args):
        if _is_output(args[key]):
            placeholders[key] = _PLACEHOLDERS[key]
            outputs[key] = pulumi.Output.from_input(args[key])
    hub = args.get("hub_outputs")
    if _holds_output(hub):
        # The hub's outputs may be Outputs (a StackReference's), whole or each: nothing here decides
        # which resources exist from them alone (the filter's rules follow the hub's ports at deploy).
        if _is_output(hub) or not isinstance(hub, Mapping):
            placeholders["hub_outputs"] = dict(HUB_PLACEHOLDERS)
            outputs["hub_outputs"] = pulumi.Output.from_input(hub)
        else:
            placeholders["hub_outputs"] = {
                k: HUB_PLACEHOLDERS.get(k) if _holds_output(v) else v for k, v in hub.items()
            }
            outputs["hub_outputs"] = pulumi.Output.all(**dict(hub))
    late_capable = OUTPUT_SCALARS | OUTPUT_LISTS | OUTPUT_ITEM_LISTS | {"hub_outputs"}
    must_be_known = sorted(key for key, value in args.items() if key not in late_capable and _holds_output(value))
    if must_be_known:
        raise ConfigError(
            [
                f"{args_name}.{key}: is (or holds) an Output, but its value must be known when the program runs: "
                "it decides which resources exist, how many and how they are named, and is checked against "
                "the other args before any is created; pass a plain value"
                for key in must_be_known
            ]
        )
    whole_outputs = sorted(key for key in OUTPUT_ITEM_LISTS & set(args) if _is_output(args[key]))
    if whole_outputs:
        raise ConfigError(
            [
                f"{args_name}.{key}: is an Output; pass a list (its items may be Outputs): each item gets "
                f"{_ITEM_RESOURCES[key]} of its own, so their number must be known when the program runs"
                for key in whole_outputs
            ]
        )
    output_items: dict[str, frozenset[int]] = {}
    for key in (OUTPUT_LISTS | OUTPUT_ITEM_LISTS) & set(args):
        value = args[key]
        if key in OUTPUT_LISTS and _is_output(value):
            # The count is not known: two stand-ins (what an ALB needs); the real list is checked later.
            placeholders[key] = [_subnet_placeholder(0), _subnet_placeholder(1)]
            outputs[key] = pulumi.Output.from_input(value)
        elif isinstance(value, Sequence) and not isinstance(value, str) and any(_is_output(v) for v in value):
            stand_in = _ITEM_PLACEHOLDERS[key]
            placeholders[key] = [v if not _is_output(v) else stand_in(i) for i, v in enumerate(value)]
            outputs[key] = pulumi.Output.all(*value)
            output_items[key] = frozenset(i for i, v in enumerate(value) if _is_output(v))
    if args.get("analyzer") == "nativeNode" and _is_output(args.get("node_subnet_ids")):
        raise ConfigError(
            [
                f"{args_name}.node_subnet_ids: is an Output; with analyzer nativeNode pass a list (its items may "
                "be Outputs): each subnet gets a health-check rule of its own"
            ]
        )
    raw = _raw(args, placeholders)
    # The token is a secret by construction here: the model's "stored in plain text" rule is the
    # config file's concern, not an API caller's.
    try:
        config = parse_stack_config(raw, {"token"})
    except ConfigError as error:
        raise ConfigError(_args_sentences(error.problems, args_name)) from None

    late = {key: _checked(key, output, raw, args_name) for key, output in outputs.items() if key != "token"}
    # The config check above refused a missing token, except on a spoke, which has none.
    token_value: pulumi.Output[str] = (
        _checked("token", outputs["token"], raw, args_name)
        if "token" in outputs
        else pulumi.Output.from_input(args.get("token", ""))
    )
    token: pulumi.Output[str] = pulumi.Output.secret(token_value)
    return ResolvedArgs(
        config=config,
        late=late,
        token=token,
        secret_boot_text=any(key in outputs for key in BOOT_TEXT_FIELDS),
        output_items=output_items,
    )


def _checked(key: str, output: pulumi.Output[Any], raw: Mapping[str, Any], args_name: str) -> pulumi.Output[Any]:
    """`output`, failing the deployment with the key's sentence when its value breaks a rule."""
    alias = StackConfig.model_fields[key].alias or key
    # The hub's outputs are judged by the rules of the keys that read them too.
    judged = HUB_DEPENDENT if key == "hub_outputs" else (key,)
    prefixes = tuple(f"wallarm-mirror:{StackConfig.model_fields[k].alias or k}:" for k in judged)

    def check(value: Any) -> Any:
        if isinstance(value, tuple):
            value = list(value)
        found = [p for p in _problems_of({**raw, alias: value}, {"token"}) if p.startswith(prefixes)]
        if found:
            # RunError: the engine shows the message alone, as it does for a refused stack config.
            raise pulumi.RunError(str(ConfigError(_args_sentences(found, args_name))))
        return value

    return output.apply(check)
