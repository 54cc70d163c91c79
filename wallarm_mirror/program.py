"""The Pulumi program: validate the stack config, build the stack, export its outputs."""

from __future__ import annotations

import pulumi

from .components.node_boot import boot_script_problems
from .config import ConfigError, load_stack_config

COMPONENT_NAME = "wallarm-mirror"


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

    from .components.stack import WallarmMirror, WallarmMirrorArgs  # pulumi_aws loads only once the config is good

    mirror = WallarmMirror(COMPONENT_NAME, WallarmMirrorArgs(config=config, stack=stack))
    for key, value in mirror.outputs.items():
        pulumi.export(key, value)
