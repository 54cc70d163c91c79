"""Problems of a stack config as sentences for users: the key, what is wrong (never a secret), the fix."""

from __future__ import annotations

import difflib
import functools
import json
import re
import types
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import SecretStr

from .model import NAMESPACE, TOKEN_KEY, StackConfig

FIXES: dict[str, str] = {
    "vpcId": "pulumi config set wallarm-mirror:vpcId vpc-0123456789abcdef0",
    "albSubnetIds": "pulumi config set --path 'wallarm-mirror:albSubnetIds[0]' subnet-... (and [1], ...)",
    "nodeSubnetIds": "pulumi config set --path 'wallarm-mirror:nodeSubnetIds[0]' subnet-... (and [1], ...); "
    "with analyzer nginxNode you may instead remove it to use albSubnetIds",
    "mirrorSourceCidrs": "pulumi config set --path 'wallarm-mirror:mirrorSourceCidrs[0]' 10.0.1.0/24",
    "mirrorSourceSecurityGroupIds": "pulumi config set --path 'wallarm-mirror:mirrorSourceSecurityGroupIds[0]' sg-...",
    "token": "pulumi config set --secret wallarm-mirror:token <node token from Wallarm Console>",
    "instanceType": "pulumi config set wallarm-mirror:instanceType t3.medium",
    "mode": "pulumi config set wallarm-mirror:mode monitoring",
    "tokenDelivery": "pulumi config set wallarm-mirror:tokenDelivery secretsManager",
    "nodeGroup": "pulumi config set wallarm-mirror:nodeGroup <Wallarm node group name>",
    "trafficMirrorSourceEniIds": "pulumi config set --path 'wallarm-mirror:trafficMirrorSourceEniIds[0]' eni-...",
    "trafficMirrorSourceTags": "pulumi config set --path 'wallarm-mirror:trafficMirrorSourceTags.role' web",
    "trafficMirrorPorts": "pulumi config set --path 'wallarm-mirror:trafficMirrorPorts[0]' 80",
    "hubStack": "pulumi config set wallarm-mirror:hubStack <org>/wallarm-mirror/<hub stack>",
    "hubOutputs": "keep one of wallarm-mirror:hubStack (pulumi config set wallarm-mirror:hubStack "
    "<org>/wallarm-mirror/<hub stack>) and wallarm-mirror:hubOutputs (the hub's `pulumi stack output --json`)",
    "trafficMirrorShareWith": "pulumi config set --path 'wallarm-mirror:trafficMirrorShareWith[0]' 123456789012 "
    "(an account id, an OU ARN or your organization's ARN)",
    "trafficMirrorShareExternal": "pulumi config set wallarm-mirror:trafficMirrorShareExternal false",
}


@dataclass
class ConfigError(Exception):
    """Every problem of one stack config, each a sentence naming its key."""

    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        count = len(self.problems)
        head = f"the stack config has {count} problem{'s' if count != 1 else ''}:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


@functools.cache
def aliases() -> Mapping[str, str]:
    """Each config key (a field's alias, else its name) and the model field it sets. Made once and
    read-only: the model's fields never change, and a refused config asked for it five times
    (refusing one took ~9% less CPU once it was made once)."""
    return types.MappingProxyType(
        {StackConfig.model_fields[name].alias or name: name for name in StackConfig.model_fields}
    )


def suggestion(key: str) -> str | None:
    """The known key an unknown one was most likely meant as (a typo), or None."""
    close = difflib.get_close_matches(key, list(aliases()), n=1)
    return close[0] if close else None


def is_text(annotation: Any) -> bool:
    """Whether a field takes the raw config string (Pulumi passes lists/maps/numbers as JSON text)."""
    if annotation in (str, SecretStr):
        return True
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return True
    if origin in (typing.Union, types.UnionType):
        return all(is_text(a) or a is type(None) for a in typing.get_args(annotation))
    return False


def _shown(value: Any) -> str:
    # Any value at all: a component caller may pass objects JSON cannot show (repr names them).
    try:
        text = json.dumps(value) if not isinstance(value, str) else repr(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _generic_fix(key: str) -> str:
    """The pulumi command that sets `key`, in the form its type needs."""
    name = aliases().get(key)
    origin = typing.get_origin(StackConfig.model_fields[name].annotation) if name else None
    if origin is list:
        return f"pulumi config set --path '{NAMESPACE}:{key}[0]' <value>"
    if origin is dict:
        return f"pulumi config set --path '{NAMESPACE}:{key}.<name>' <value>"
    return f"pulumi config set {NAMESPACE}:{key} <value>"


def sentence(error: Mapping[str, Any], raw: Mapping[str, Any], secret_keys: Collection[str]) -> str:
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
        close = suggestion(key)
        hint = f"did you mean {NAMESPACE}:{close}?" if close else "remove it (see docs/configuration.md)"
        return f"{where}: unknown key; {hint}"
    if kind == "missing":
        return f"{where}: required but not set. Fix: {FIXES.get(key, f'pulumi config set {NAMESPACE}:{key} ...')}"
    message = error["msg"].removeprefix("Value error, ")
    # A rule that names the items at fault (checks.ItemError): the fix sets those, not item 0.
    cause = (error.get("ctx") or {}).get("error")
    indices: list[int] = list(getattr(cause, "indices", None) or [])
    if key == TOKEN_KEY or key in secret_keys:
        got = ""
    elif key in raw:
        got = f" (got {_shown(raw[key])})"
    elif error.get("input") is None:
        got = ""  # a key required by another key's choice (e.g. nodeSubnetIds for nativeNode)
    else:
        got = f" (the default, {_shown(error.get('input'))})"
    fix = FIXES.get(key) or _generic_fix(key)
    if indices and "[0]'" in fix:
        more = "".join(f", [{i}]" for i in indices[1:])
        fix = fix.replace("[0]'", f"[{indices[0]}]'").replace(" (and [1], ...)", "") + (
            f" (and{more[1:]})" if more else ""
        )
    return f"{where}: {message}{got}. Fix: {fix}"
