"""The Pulumi program: read and check the stack config, hand it to the component as args, export."""

from __future__ import annotations

from typing import Any

import pulumi

from .components.node_boot import boot_script_problems
from .config import SECRET_CAPABLE_KEYS, TOKEN_KEY, ConfigError, StackConfig, load_stack_config

COMPONENT_NAME = "wallarm-mirror"


def args_from_config(config: StackConfig) -> dict[str, Any]:
    """The component's args for a checked stack config: the keys the stack file set, by field name.

    A value stored with `--secret` (a snippet, the post script) goes in as a secret Output, so the
    component keeps the boot script that holds it secret, as it did for the stack file.
    """
    secret = config.secret_keys
    args: dict[str, Any] = {}
    for name in config.model_fields_set:
        alias = type(config).model_fields[name].alias or name
        value = getattr(config, name)
        if alias == TOKEN_KEY:
            value = pulumi.Output.secret(value.get_secret_value())
        elif alias in secret and alias in SECRET_CAPABLE_KEYS:
            value = pulumi.Output.secret(value)
        args[name] = value
    return args


def main() -> None:
    """Entry point of `pulumi up` (via __main__.py) and of the offline plan."""
    stack = pulumi.get_stack()
    try:
        config = load_stack_config()
        problems = boot_script_problems(config)
        if problems:
            raise ConfigError(problems)
    except ConfigError as error:
        # RunError ends the program with the message alone, no traceback, before any resource exists.
        raise pulumi.RunError(str(error)) from None
    for warning in config.advice(stack):
        pulumi.log.warn(warning)

    from .components.stack import WallarmMirror  # pulumi_aws loads only once the config is good

    mirror = WallarmMirror(COMPONENT_NAME, args_from_config(config))  # type: ignore[arg-type]
    for key, value in mirror.outputs.items():
        pulumi.export(key, value)
