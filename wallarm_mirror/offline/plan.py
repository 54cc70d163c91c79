"""The offline plan: what `pulumi up` of a stack would create, without AWS or the Pulumi CLI.

Reads `Pulumi.<stack>.yaml` the way the CLI hands config to a program (bare keys get the project
namespace, lists and maps become JSON text), stands in a redacted placeholder for every encrypted
value (they are never decrypted here), runs the real program under the mock engine, and renders
the result for people or as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..config import NAMESPACE, TOKEN_KEY

PLACEHOLDER_SECRET = "offline-redacted-secret"
PROJECT_DIR = Path(__file__).resolve().parents[2]


class StackFileError(Exception):
    """A stack file that cannot be read as Pulumi stack config."""


@dataclass
class StackFile:
    """Config of one stack as the Pulumi CLI would pass it to the program."""

    stack: str
    project: str
    config: dict[str, str]
    secret_keys: list[str]
    notes: list[str] = field(default_factory=list)


def project_name(project_dir: Path) -> str:
    path = project_dir / "Pulumi.yaml"
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise StackFileError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise StackFileError(f"{path} has no project name")
    return data["name"]


def _as_config_text(value: Any) -> str:
    # The CLI passes strings as they are and everything else (numbers, booleans, lists, maps) as JSON.
    return value if isinstance(value, str) else json.dumps(value)


def stack_name_of(path: Path) -> str:
    """The stack a stack file is named after: Pulumi.edge.yaml -> edge, x.yaml -> x."""
    name = path.name
    for suffix in (".yaml", ".yml", ".json"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    # Pulumi.<stack>.yaml is the CLI's own name; any other file is named after its stem alone.
    return name.removeprefix("Pulumi.") or name


def config_key(key: str, project: str) -> str:
    """A stack file's key as the Pulumi CLI reads it (workspace/loaders.go, resource/config/key.go).

    A bare key gets the project's namespace (stackConfigNamespacedWithProject); `ns:config:name`
    is the old form of `ns:name` (ParseKey); any other key with more than one ':' is refused.
    """
    if ":" not in key:
        return f"{project}:{key}"
    parts = key.split(":")
    if len(parts) == 2 and all(parts):
        return key
    if len(parts) == 3 and parts[1] == "config" and parts[0] and parts[2]:
        return f"{parts[0]}:{parts[2]}"
    raise ValueError(
        f"{key}: is not a config key; write {project}:<name> (or <name> alone, which Pulumi reads as {project}:<name>)"
    )


def read_stack_file(path: Path, project: str, stack: str | None = None, *, ours: bool = True) -> StackFile:
    """Parse a stack file; encrypted values become placeholders marked secret.

    `ours`: the stack file is of this project's own program, whose token the plan stands in for,
    and which must name its region (every ARN and DNS name of the plan is in it).
    """
    if stack is None:
        stack = stack_name_of(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise StackFileError(f"cannot read stack file {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"stack file {path} is not valid YAML: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("config", {}), dict):
        raise StackFileError(f"stack file {path} has no `config:` map")
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    notes: list[str] = []
    empty: list[str] = []
    for key, value in (data.get("config") or {}).items():
        try:
            full = config_key(str(key), project)
        except ValueError as error:
            raise StackFileError(f"stack file {path.name}: {error}") from None
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[full] = PLACEHOLDER_SECRET
            secret_keys.append(full)
        elif value is None:
            # As the CLI does (checkForEmptyConfig): a key with no value is the empty string, with a warning.
            config[full] = ""
            empty.append(full)
        else:
            config[full] = _as_config_text(value)
    if empty:
        notes.append(
            f'no value for {", ".join(empty)} in {path.name}: Pulumi reads it as the empty string "" '
            "(give the value, or remove the key)"
        )
    if ours and not config.get("aws:region"):
        raise StackFileError(
            f"aws:region: not set in {path.name}; the stack would deploy to whatever region the AWS "
            f"environment names. Fix: pulumi config set aws:region <region, e.g. eu-central-1> --stack {stack}"
        )
    token_key = f"{NAMESPACE}:{TOKEN_KEY}"
    # A spoke runs no nodes and has no token (its config refuses one).
    spoke = config.get(f"{NAMESPACE}:analyzer") == "nativeSpoke"
    if ours and token_key not in config and not spoke:
        config[token_key] = PLACEHOLDER_SECRET
        secret_keys.append(token_key)
        # The Native Node's installer registers with an API token (usage type Node deployment).
        kind = "API token" if config.get(f"{NAMESPACE}:analyzer") == "nativeNode" else "node token"
        notes.append(
            f"{token_key} is not set in {path.name}; the plan uses a redacted placeholder. Before "
            f"`pulumi up`, set it: pulumi config set --secret {token_key} <{kind}> --stack {stack}"
        )
    return StackFile(stack=stack, project=project, config=config, secret_keys=secret_keys, notes=notes)


# ---------------------------------------------------------------------------------------------
# Any Pulumi Python program (plan --program DIR)


@dataclass(frozen=True)
class ProgramDir:
    """A Pulumi Python project folder: its project name, its entry file and the config it declares."""

    root: Path
    project: str
    entry: Path
    declared: dict[str, Any]


def read_program_dir(root: Path) -> ProgramDir:
    """The project in `root` as Pulumi's Python runtime would run it (Pulumi.yaml: name, runtime, main)."""
    root = root.resolve()
    path = root / "Pulumi.yaml"
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise StackFileError(f"cannot read {path}: {error.strerror}: give the folder of a Pulumi project") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise StackFileError(f"{path} has no project name")
    runtime = data.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise StackFileError(
            f"{path} has runtime {runtime_name!r}: the offline plan runs Python programs only (runtime: python)"
        )
    main = data.get("main")
    entry = root / main if isinstance(main, str) else root
    if entry.is_dir():
        entry = entry / "__main__.py"
    if not entry.is_file():
        raise StackFileError(f"{entry} does not exist: a Python project runs __main__.py (or the file `main:` names)")
    declared = data.get("config")
    return ProgramDir(
        root=root, project=data["name"], entry=entry, declared=declared if isinstance(declared, dict) else {}
    )


def program_stack_file(program: ProgramDir, stack: str, config_file: Path | None = None) -> StackFile:
    """The program's stack config: its stack file where there is one, else the Pulumi.yaml declarations.

    As the CLI does, a declared `default` applies to a key the stack file leaves out. A declared
    secret that has no value gets a redacted placeholder (and a note), as the token does for ours.
    """
    path = config_file or program.root / f"Pulumi.{stack}.yaml"
    if config_file is not None or path.exists():
        stack_file = read_stack_file(path, program.project, None if config_file else stack, ours=False)
    else:
        stack_file = StackFile(stack=stack, project=program.project, config={}, secret_keys=[])
        stack_file.notes.append(f"no {path.name} in {program.root}: planned with the config Pulumi.yaml declares")
    for key, declaration in program.declared.items():
        full = key if ":" in key else f"{program.project}:{key}"  # Pulumi.yaml's config: block
        if full in stack_file.config or not isinstance(declaration, dict):
            continue
        if "default" in declaration:
            stack_file.config[full] = _as_config_text(declaration["default"])
        elif declaration.get("secret"):
            stack_file.config[full] = PLACEHOLDER_SECRET
            stack_file.secret_keys.append(full)
            stack_file.notes.append(
                f"{full} is not set; the plan uses a redacted placeholder. Before `pulumi up`, set it: "
                f"pulumi config set --secret {key} <value> --stack {stack_file.stack}"
            )
    return stack_file


# ---------------------------------------------------------------------------------------------
# Rendering


def plan_document(stack_file: StackFile, run: Any) -> dict[str, Any]:
    """The JSON plan: resources sorted by type and name, secrets as "[secret]"."""
    from .engine import SECRET_SHOWN, redact

    resources = [
        {"type": r.typ, "name": r.name, "parent": r.parent, "inputs": redact(r.inputs)}
        for r in sorted(run.resources, key=lambda r: (r.typ, r.name))
    ]
    outputs = {
        key: SECRET_SHOWN if key in run.secret_outputs else redact(value) for key, value in sorted(run.outputs.items())
    }
    return {
        "project": stack_file.project,
        "stack": stack_file.stack,
        "resources": resources,
        "outputs": outputs,
        "warnings": [*stack_file.notes, *run.warnings],
    }


def _is_tag_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and {"key", "value"} <= set(v) for v in value)
    )


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if _is_tag_list(value):  # the auto scaling group's tags: one line, not three per tag
        return [(prefix, ", ".join(f"{t['key']}={t['value']}" for t in value))]
    if isinstance(value, dict):
        items = [(f"{prefix}.{k}" if prefix else k, v) for k, v in sorted(value.items())]
    elif isinstance(value, list) and value and any(isinstance(v, dict | list) for v in value):
        items = [(f"{prefix}[{i}]", v) for i, v in enumerate(value)]
    else:
        return [(prefix, value)]
    return [pair for key, v in items for pair in _flatten(v, key)]


def _shown(key: str, value: Any) -> str:
    if key == "mirror_configs" and isinstance(value, dict):
        # The stand-in endpoint they are rendered for must not be pasted: mirror-config refuses it
        # without --endpoint (or endpointHostname), so the hint names the real endpoint's command.
        return (
            f"{', '.join(value)} (after `pulumi up`, print one with `python -m wallarm_mirror mirror-config "
            '--server NAME --endpoint "$(pulumi stack output mirror_endpoint)"`)'
        )
    if key == "userData" and isinstance(value, str) and value != "[secret]":
        from ..node.boot_script import decode_user_data

        size = len(decode_user_data(value).encode())
        return f"<boot script, {size} bytes; see --json or `python -m wallarm_mirror boot-script`>"
    if isinstance(value, str) and value.startswith("{") and len(value) > 60:
        try:
            return json.dumps(json.loads(value), separators=(",", ":"))
        except json.JSONDecodeError:
            pass
    return json.dumps(value) if not isinstance(value, str) else value


def render_text(document: dict[str, Any]) -> str:
    """A readable tree: each resource under its component, its settings, then the outputs."""
    resources = document["resources"]
    lines = [
        f"Offline plan of stack {document['stack']} (project {document['project']}): "
        f"{sum(1 for r in resources if not r['type'].startswith('wallarm:'))} cloud resources in "
        f"{sum(1 for r in resources if r['type'].startswith('wallarm:'))} components would be created.",
        "No AWS account was used: ARNs, ids, DNS names, the AMI found and the VPC ranges are stand-ins.",
        "",
    ]
    lines += [f"warning: {w}" for w in document["warnings"]]
    if document["warnings"]:
        lines.append("")
    common_tags = None
    for r in resources:
        tags = r["inputs"].get("tags")
        if isinstance(tags, dict):
            common_tags = tags if common_tags is None else {k: v for k, v in common_tags.items() if tags.get(k) == v}
    if common_tags:
        lines += [f"tags on every taggable resource: {json.dumps(common_tags, sort_keys=True)}", ""]

    children: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        children.setdefault(r["parent"], []).append(r)

    def show(resource: dict[str, Any], depth: int) -> None:
        pad = "    " * depth
        lines.append(f"{pad}+ {resource['type']}  {resource['name']}")
        for key, value in _flatten(resource["inputs"]):
            head, _, tag = key.rpartition(".")
            if common_tags and (head == "tags" or head.endswith(".tags")) and common_tags.get(tag) == value:
                continue  # shown once above
            if key:
                lines.append(f"{pad}      {key}: {_shown(key, value)}")
        for child in children.get(f"{resource['type']}::{resource['name']}", []):
            show(child, depth + 1)

    known = {f"{r['type']}::{r['name']}" for r in resources}
    for r in resources:
        if r["parent"] not in known:
            show(r, 0)
    lines += ["", "Outputs:"]
    lines += [f"    {key}: {_shown(key, value)}" for key, value in document["outputs"].items()]
    return "\n".join(lines) + "\n"
