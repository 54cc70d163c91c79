"""components/args.py is generated from the config model: one documented field per config key."""

from __future__ import annotations

import ast
from pathlib import Path

from wallarm_mirror.components import args as args_module
from wallarm_mirror.config import StackConfig
from wallarm_mirror.config.reference import (
    NETWORK_STACK_KEYS,
    NODE_REQUIRED_KEYS,
    PROGRAM_ONLY_KEYS,
    args_module_source,
)

ARGS_FILE = Path(args_module.__file__)


def test_args_module_is_what_the_model_generates():
    assert ARGS_FILE.read_text() == args_module_source(), (
        "components/args.py is stale: python -m wallarm_mirror config-reference --args-module > "
        "wallarm_mirror/components/args.py"
    )


def test_every_config_key_is_an_args_field_with_its_description_as_docstring():
    tree = ast.parse(ARGS_FILE.read_text())
    cls = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "WallarmMirrorArgs")
    fields: dict[str, str] = {}
    body = cls.body
    for node, after in zip(body, [*body[1:], None], strict=True):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            fields[node.target.id] = after.value.value
    assert list(fields) == [name for name in StackConfig.model_fields if name not in PROGRAM_ONLY_KEYS]
    for name, info in StackConfig.model_fields.items():
        if name in PROGRAM_ONLY_KEYS:
            continue
        assert fields[name].startswith(info.description or "?")
        assert f"Config key: wallarm-mirror:{info.alias}" in fields[name]


def test_required_fields_are_the_models():
    # vpcId may come from networkStack in a stack file; the component has no network stack to read.
    # The token: optional in the model for a spoke only (which has NativeSpokeArgs), required here.
    required = (
        {name for name, info in StackConfig.model_fields.items() if info.is_required()}
        | NETWORK_STACK_KEYS
        | NODE_REQUIRED_KEYS
    )
    assert required == args_module.WallarmMirrorArgs.__required_keys__ == {"vpc_id", "token"}


def test_each_analysers_args_hold_its_own_keys_and_require_what_it_requires():
    from wallarm_mirror.config.analyzers import NATIVE_NODE_ONLY, NGINX_NODE_ONLY, SPOKE_ONLY, refused_keys

    by_alias = {info.alias or name: name for name, info in StackConfig.model_fields.items()}
    nginx = set(args_module.NginxAnalyserArgs.__annotations__)
    native = set(args_module.NativeAnalyserArgs.__annotations__)
    spoke = set(args_module.NativeSpokeArgs.__annotations__)
    everything = set(args_module.WallarmMirrorArgs.__annotations__)
    assert "analyzer" not in nginx | native | spoke
    assert nginx == everything - {"analyzer"} - {by_alias[key] for key in {*NATIVE_NODE_ONLY, *SPOKE_ONLY}}
    assert native == everything - {"analyzer"} - {by_alias[key] for key in {*NGINX_NODE_ONLY, *SPOKE_ONLY}}
    assert spoke == everything - {"analyzer"} - {by_alias[key] for key in refused_keys("nativeSpoke")}
    assert args_module.NativeSpokeArgs.__required_keys__ == {"hub_outputs", "mirror_source_cidrs"}
    assert args_module.NginxAnalyserArgs.__required_keys__ == {"vpc_id", "token", "alb_subnet_ids"}
    assert args_module.NativeAnalyserArgs.__required_keys__ == {
        "vpc_id",
        "token",
        "node_subnet_ids",
        "mirror_source_cidrs",
        "node_group",
    }
