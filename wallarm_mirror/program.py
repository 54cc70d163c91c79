"""The Pulumi program: read and check the stack config, hand it to the component as args, export."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import pulumi

from .components.node_boot import boot_script_problems
from .config import (
    NAMESPACE,
    SECRET_CAPABLE_KEYS,
    TOKEN_KEY,
    ConfigError,
    StackConfig,
    load_stack_config,
    parse_stack_config,
)
from .config.reference import PROGRAM_ONLY_KEYS

if TYPE_CHECKING:
    from .components.args import WallarmMirrorArgs

COMPONENT_NAME = "wallarm-mirror"


def args_from_config(config: StackConfig) -> WallarmMirrorArgs:
    """The component's args for a checked stack config: the keys the stack file set, by field name.

    A value stored with `--secret` (a snippet, the post script) goes in as a secret Output, so the
    component keeps the boot script that holds it secret, as it did for the stack file.
    """
    secret = config.secret_keys
    args: dict[str, Any] = {**network_args(config), **hub_args(config)}
    for name in config.model_fields_set - PROGRAM_ONLY_KEYS:
        alias = type(config).model_fields[name].alias or name
        value = getattr(config, name)
        if alias == TOKEN_KEY:
            value = pulumi.Output.secret(value.get_secret_value())
        elif alias in secret and alias in SECRET_CAPABLE_KEYS:
            value = pulumi.Output.secret(value)
        args[name] = value
    # The args are the model's fields by name, as WallarmMirrorArgs is generated from the same model
    # (tests/components/test_args_module.py keeps the two equal).
    return cast("WallarmMirrorArgs", args)


def network_args(config: StackConfig) -> dict[str, Any]:
    """The ids the stack file leaves to networkStack, as that stack's outputs (checked when they resolve).

    A missing output fails the deployment with Pulumi's sentence naming the output and the stack.
    """
    names = config.network_output_names
    if not names:
        return {}
    stack = str(config.network_stack)
    reference = pulumi.StackReference(stack)
    available = _output_names(reference)
    fields = type(config).model_fields

    def output(field: str, name: str) -> pulumi.Output[Any]:
        key = fields[field].alias or field
        return _required_output(
            reference,
            available,
            name,
            lambda has: (
                f"{NAMESPACE}:networkStack: stack {stack} has no output {name!r} for {key} (it has {has}). "
                f"Fix: pulumi config set --path '{NAMESPACE}:networkOutputs.{key}' <its output name>, or set "
                f"{NAMESPACE}:{key} itself"
            ),
        )

    return {field: output(field, name) for field, name in names.items()}


def _output_names(reference: pulumi.StackReference) -> pulumi.Output[list[str]]:
    """The names of the referenced stack's outputs: never secret, whatever the values are."""
    return pulumi.Output.unsecret(reference.outputs.apply(sorted))


def _required_output(
    reference: pulumi.StackReference, available: pulumi.Output[list[str]], name: str, refusal: Callable[[str], str]
) -> pulumi.Output[Any]:
    """Output `name` of the referenced stack (get_output keeps its secret flag); when `available` (its
    output names) lacks it, the deployment fails with `refusal(the names it has)`."""

    def pick(values: list[Any]) -> Any:
        value, names = values
        if name not in names:
            raise pulumi.RunError(refusal(", ".join(names) or "none"))
        return value

    return pulumi.Output.all(reference.get_output(name), available).apply(pick)


def hub_args(config: StackConfig) -> dict[str, Any]:
    """A spoke's hub from hubStack: the hub stack's outputs the spoke uses, as `hub_outputs` Outputs.

    The component checks them when they resolve, with the rules of hubOutputs. A missing output fails
    the deployment with a sentence naming the output and the stack, as networkStack's do.
    """
    if config.hub_stack is None:
        return {}
    from .config.spoke_checks import HUB_OUTPUTS, OPTIONAL_HUB_OUTPUTS

    stack = config.hub_stack
    own = f"{pulumi.get_project()}/{pulumi.get_stack()}"
    organization = pulumi.get_organization()
    # The organisation is compared when the engine names one (the offline engine does not).
    hub_organization, hub_rest = stack.split("/", 1)
    if hub_rest == own and (not organization or hub_organization == organization):
        raise pulumi.RunError(
            f"{NAMESPACE}:hubStack: {stack} is this stack itself ({own}); a spoke enrols into a hub, the nativeNode "
            f"stack of the organisation's analyser. Fix: pulumi config set {NAMESPACE}:hubStack <org>/<project>/<hub "
            "stack>"
        )
    reference = pulumi.StackReference(stack)
    available = _output_names(reference)

    def output(name: str) -> pulumi.Output[Any]:
        return _required_output(
            reference,
            available,
            name,
            lambda has: (
                f"{NAMESPACE}:hubStack: stack {stack} has no output {name!r} ({HUB_OUTPUTS[name]}), which a "
                f"spoke needs (it has {has}); is it a nativeNode hub, deployed with this version? Fix: deploy the hub, "
                f"or set {NAMESPACE}:hubOutputs to its outputs"
            ),
        )

    # Only the outputs the spoke uses; the optional ones (nlb_zone_addresses, for `status`) when the hub has them.
    found = pulumi.Output.all(
        **{name: output(name) for name in HUB_OUTPUTS},
        **{name: reference.get_output(name) for name in OPTIONAL_HUB_OUTPUTS},
    )

    def checked(hub: dict[str, Any]) -> dict[str, Any]:
        # The hubOutputs rules (well formed, this spoke's CIDRs inside the hub's, the filter's room for
        # the hub's ports) on the hub's real values, in the stack file's words.
        hub = {name: value for name, value in hub.items() if value is not None or name in HUB_OUTPUTS}
        raw = {**config.model_dump(by_alias=True, exclude_unset=True, mode="json"), "hubOutputs": hub}
        del raw["hubStack"]
        try:
            parsed = parse_stack_config(raw, set())
        except ConfigError as error:
            problems = [f"{p} (from stack {stack}, {NAMESPACE}:hubStack)" for p in error.problems]
            raise pulumi.RunError(str(ConfigError(problems))) from None
        return parsed.hub_outputs

    return {"hub_outputs": found.apply(checked)}


def main() -> None:
    """Entry point of `pulumi up` (via __main__.py) and of the offline plan."""
    try:
        config = load_stack_config()
        problems = [] if config.spoke else boot_script_problems(config)  # a spoke has no boot script
        if problems:
            raise ConfigError(problems)
    except ConfigError as error:
        # RunError ends the program with the message alone, no traceback, before any resource exists.
        raise pulumi.RunError(str(error)) from None

    # The component gives the advice on valid but unwise settings, so a library user sees it too.
    from .components.stack import WallarmMirror  # pulumi_aws loads only once the config is good

    mirror = WallarmMirror(COMPONENT_NAME, args_from_config(config))
    for key, value in mirror.outputs.items():
        pulumi.export(key, value)
