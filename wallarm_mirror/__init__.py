"""wallarm-mirror: Wallarm analysing a copy of web traffic on AWS, out of the request path.

The public API, and nothing else: the components and their args (WallarmMirror for any analyser,
NginxAnalyser and NativeAnalyser for one each, NativeSpoke for a spoke of an organisation's hub),
and the stack config model with its loader. Each name loads on first use (PEP 562), so
`import wallarm_mirror` stays cheap and the offline tools that only need the config never load
pulumi_aws.

    from wallarm_mirror import NginxAnalyser, NginxAnalyserArgs, WallarmMirror, WallarmMirrorArgs
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .components.analysers import NativeAnalyser, NginxAnalyser
    from .components.args import NativeAnalyserArgs, NativeSpokeArgs, NginxAnalyserArgs
    from .components.spoke import NativeSpoke
    from .components.stack import WallarmMirror, WallarmMirrorArgs
    from .config import ConfigError, StackConfig, load_stack_config, parse_stack_config

# name -> the module that defines it
_PUBLIC = {
    "WallarmMirror": ".components.stack",
    "WallarmMirrorArgs": ".components.stack",
    "NginxAnalyser": ".components.analysers",
    "NativeAnalyser": ".components.analysers",
    "NginxAnalyserArgs": ".components.args",
    "NativeAnalyserArgs": ".components.args",
    "NativeSpoke": ".components.spoke",
    "NativeSpokeArgs": ".components.args",
    "StackConfig": ".config",
    "ConfigError": ".config",
    "load_stack_config": ".config",
    "parse_stack_config": ".config",
}

__all__ = [
    "ConfigError",
    "NativeAnalyser",
    "NativeAnalyserArgs",
    "NativeSpoke",
    "NativeSpokeArgs",
    "NginxAnalyser",
    "NginxAnalyserArgs",
    "StackConfig",
    "WallarmMirror",
    "WallarmMirrorArgs",
    "load_stack_config",
    "parse_stack_config",
]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name], __name__), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
