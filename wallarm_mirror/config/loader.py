"""Reading a stack's config: from the running Pulumi program, or as the CLI hands it over (key -> text)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from .analyzers import misplaced_keys
from .errors import FIXES, ConfigError, aliases, is_text, sentence
from .model import NAMESPACE, TOKEN_KEY, StackConfig

# Keys whose values may be stored with --secret: the token, and what goes only into the boot
# script (which then becomes a secret as a whole). Any other key ends up in plain resource settings.
SECRET_CAPABLE_KEYS = frozenset({TOKEN_KEY, "globalSnippet", "httpSnippet", "serverSnippet", "postScript"})


def parse_stack_config(raw: Mapping[str, Any], secret_keys: set[str] | frozenset[str] = frozenset()) -> StackConfig:
    """Validate config as Pulumi hands it over (key -> string) and return the model, or raise ConfigError.

    `secret_keys` are the bare keys that were stored encrypted; the token must be one of them.
    """
    by_alias = aliases()
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, text in raw.items():
        name = by_alias.get(key)
        if name is not None and isinstance(text, str) and not is_text(StackConfig.model_fields[name].annotation):
            try:
                values[key] = json.loads(text)
            except json.JSONDecodeError:
                values[key] = text  # let Pydantic report the type problem with the key's name
        else:
            values[key] = text
    for key in sorted(set(secret_keys) & set(raw) - SECRET_CAPABLE_KEYS):
        problems.append(
            f"{NAMESPACE}:{key}: is stored as a secret, but its value goes into resource settings in plain "
            f"text; only {', '.join(sorted(SECRET_CAPABLE_KEYS))} can be secrets. Fix: pulumi config set "
            f"{NAMESPACE}:{key} <value> (without --secret)"
        )
    if TOKEN_KEY in raw and TOKEN_KEY not in secret_keys:
        problems.append(
            f"{NAMESPACE}:{TOKEN_KEY}: is stored in plain text in the stack file; anyone who can "
            f"read the repository can register nodes. Fix: {FIXES[TOKEN_KEY]} "
            "(and rotate the token in Wallarm Console)"
        )
    # A key of the other analyser is refused with its own sentence and kept out of the model, so
    # it does not also fail that analyser's rules.
    misplaced = misplaced_keys(raw)
    problems.extend(misplaced.values())
    values = {key: value for key, value in values.items() if key not in misplaced}
    try:
        config = StackConfig.model_validate(values)
    except ValidationError as exc:
        problems.extend(sentence(e, values, secret_keys) for e in exc.errors(include_url=False))
        config = None
    if problems:
        raise ConfigError(problems)
    assert config is not None
    config._secret_keys = frozenset(secret_keys) & SECRET_CAPABLE_KEYS
    return config


def read_pulumi_config() -> tuple[dict[str, Any], set[str]]:
    """All keys of our namespace from the running Pulumi program, and which of them are secrets."""
    from pulumi.runtime import config as runtime_config  # imported here: the model itself stays Pulumi-free

    prefix = f"{NAMESPACE}:"
    names = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    names |= {prefix + alias for alias in aliases()}  # also finds PULUMI_CONFIG_<KEY> variables
    raw = {}
    for full in sorted(names):
        if full.startswith(prefix):
            value = runtime_config.get_config(full)
            if value is not None:
                raw[full.removeprefix(prefix)] = value
    # The CLI passes secret key names in PULUMI_CONFIG_SECRET_KEYS; mocks and tests use set_all_config.
    from_env = set(runtime_config.get_config_secret_keys_env())
    secret = {key for key in raw if runtime_config.is_config_secret(prefix + key) or prefix + key in from_env}
    return raw, secret


def load_stack_config() -> StackConfig:
    """The validated config of the running stack; raises ConfigError listing every problem."""
    raw, secret = read_pulumi_config()
    return parse_stack_config(raw, secret)
