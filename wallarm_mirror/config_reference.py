"""The config keys as a Markdown table, generated from the model so the README cannot drift."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import SecretStr
from pydantic_core import PydanticUndefined

from .config import NAMESPACE, StackConfig


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


def _default(name: str) -> str:
    info = StackConfig.model_fields[name]
    if info.is_required():
        return "**required**"
    value = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
    if value is None or value is PydanticUndefined:
        return "—"
    return f"`{json.dumps(value)}`"


def config_table() -> str:
    rows = ["| key | type | default | what it is |", "|---|---|---|---|"]
    for name, info in StackConfig.model_fields.items():
        key = f"`{NAMESPACE}:{info.alias or name}`"
        rows.append(f"| {key} | {_type_name(info.annotation)} | {_default(name)} | {info.description or ''} |")
    return "\n".join(rows) + "\n"
