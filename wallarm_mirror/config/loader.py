"""Reading a stack's config: from the running Pulumi program, or as the CLI hands it over (key -> text)."""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from .analyzers import misplaced_keys
from .errors import FIXES, ConfigError, aliases, is_text, sentence, suggestion
from .model import NAMESPACE, TOKEN_KEY, StackConfig

# Keys whose values may be stored with --secret: the token, and what goes only into the boot
# script (which then becomes a secret as a whole). Any other key ends up in plain resource settings.
SECRET_CAPABLE_KEYS = frozenset({TOKEN_KEY, "globalSnippet", "httpSnippet", "serverSnippet", "postScript"})


# Namespaces whose owners check their own keys: the AWS provider's, and Pulumi's.
OWNED_NAMESPACES = frozenset({"aws", "pulumi"})


def foreign_key_problems(keys: Iterable[str]) -> list[str]:
    """Full keys of a namespace that looks meant as ours (`wallarm:instanceType`).

    Pulumi hands the program the whole stack config, every namespace (pkg/resource/deploy/
    source_eval.go); a namespace is read only by whoever asks for it, so the CLI says nothing and
    our program would never see these. A bare key is ours: the CLI adds the project's namespace.
    """
    problems = []
    for key in sorted(keys):
        namespace, _, name = key.partition(":")
        if namespace in (NAMESPACE, *OWNED_NAMESPACES) or not name:
            continue
        # By the namespace only: other providers' keys may share a name with ours (github:token).
        if "wallarm" in namespace.lower() or difflib.get_close_matches(namespace, [NAMESPACE], n=1):
            problems.append(
                f"{key}: is in namespace {namespace}, which this program never reads (the project is "
                f"{NAMESPACE}). Fix: rename it {NAMESPACE}:{name}, or write {name} alone (Pulumi adds the "
                "project's namespace)"
            )
    return problems


def _arn_region(arn: str | None) -> str | None:
    return arn.split(":")[3] if arn else None


def region_problems(config: StackConfig, region: str | None) -> list[str]:
    """ARNs that AWS accepts only in the stack's own region; `region` None (unknown) checks nothing.

    An ALB takes a certificate of its region only, CloudWatch alarms notify topics of their region,
    and Secrets Manager and SSM encrypt with keys of their region.
    """
    if not region:
        return []
    problems = []
    for key, arn, what in (
        ("certificateArn", config.certificate_arn, "an ALB listener takes an ACM certificate of its own region"),
        ("alarmTopicArn", config.alarm_topic_arn, "alarms notify SNS topics of their own region"),
        ("tokenKmsKeyArn", config.token_kms_key_arn, "the token store encrypts with a KMS key of its own region"),
    ):
        where = _arn_region(arn)
        if where and where != region:
            problems.append(
                f"{NAMESPACE}:{key}: is in {where}, but the stack deploys to {region} (aws:region); {what}. "
                f"Fix: use one from {region}, or set aws:region to {where}"
            )
    return problems


def _values(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The model's input: a key whose field is not text is read as JSON, as Pulumi passes it."""
    by_alias = aliases()
    values: dict[str, Any] = {}
    for key, text in raw.items():
        name = by_alias.get(key)
        if name is not None and isinstance(text, str) and not is_text(StackConfig.model_fields[name].annotation):
            try:
                values[key] = json.loads(text)
            except json.JSONDecodeError:
                values[key] = text  # let Pydantic report the type problem with the key's name
        else:
            values[key] = text
    return values


def _validation_problems(values: dict[str, Any], secret_keys: Collection[str]) -> tuple[StackConfig | None, list[str]]:
    """The model, or the sentences of its problems; a misspelt key's did-you-mean comes alone.

    A typo (`mirrorSourceCidr`) also leaves the key it meant unset, which other rules then report
    ("no mirror source"): those would point the wrong way. A problem is kept only if it stays once
    each misspelt key is spelt as suggested.
    """
    try:
        return StackConfig.model_validate(values), []
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    typos = {}
    for error in errors:
        key = str(error["loc"][0]) if error["loc"] else ""
        close = suggestion(key) if error["type"] == "extra_forbidden" else None
        if close is not None and close not in values:
            typos[key] = close
    kept = errors
    if typos:
        # Only the misspelt keys are read again (as JSON where their meant field takes it): the rest
        # are parsed already, and a JSON text inside JSON must stay text.
        respelt = {k: v for k, v in values.items() if k not in typos}
        respelt |= _values({meant: values[typo] for typo, meant in typos.items()})
        try:
            StackConfig.model_validate(respelt)
            remaining: set[tuple[Any, ...]] = set()
        except ValidationError as again:
            remaining = {(tuple(e["loc"]), e["type"]) for e in again.errors(include_url=False)}
        meant = [e for e in errors if e["type"] == "extra_forbidden" and e["loc"][0] in typos]
        kept = meant + [e for e in errors if e not in meant and (tuple(e["loc"]), e["type"]) in remaining]
    return None, [sentence(e, values, secret_keys) for e in kept]


def parse_stack_config(
    raw: Mapping[str, Any],
    secret_keys: set[str] | frozenset[str] = frozenset(),
    *,
    region: str | None = None,
    other_keys: Iterable[str] = (),
) -> StackConfig:
    """Validate config as Pulumi hands it over (key -> string) and return the model, or raise ConfigError.

    `secret_keys` are the bare keys that were stored encrypted; the token must be one of them.
    `region` is the stack's aws:region where known; `other_keys` the full keys of other namespaces.
    """
    values = _values(raw)
    problems: list[str] = foreign_key_problems(other_keys)
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
    config, invalid = _validation_problems(values, secret_keys)
    problems.extend(invalid)
    if config is not None:
        problems.extend(region_problems(config, region))
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


def _pulumi_region_and_other_keys() -> tuple[str | None, set[str]]:
    """The stack's region as the AWS provider finds it (aws:region, else the environment), and the
    config keys of other namespaces."""
    from pulumi.runtime import config as runtime_config

    names = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    region = (
        runtime_config.get_config("aws:region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    return region or None, {name for name in names if not name.startswith(f"{NAMESPACE}:")}


def load_stack_config() -> StackConfig:
    """The validated config of the running stack; raises ConfigError listing every problem."""
    raw, secret = read_pulumi_config()
    region, other_keys = _pulumi_region_and_other_keys()
    return parse_stack_config(raw, secret, region=region, other_keys=other_keys)
