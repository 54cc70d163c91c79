"""The stack config: its model, the sentences for its problems, and the readers of Pulumi's config.

Pure (Pydantic, no Pulumi at import time): the offline tools validate a stack file without the engine.
"""

from .errors import ConfigError
from .loader import SECRET_CAPABLE_KEYS, load_stack_config, parse_stack_config
from .model import NAMESPACE, TOKEN_KEY, StackConfig, TokenDelivery

__all__ = [
    "NAMESPACE",
    "SECRET_CAPABLE_KEYS",
    "TOKEN_KEY",
    "ConfigError",
    "StackConfig",
    "TokenDelivery",
    "load_stack_config",
    "parse_stack_config",
]
