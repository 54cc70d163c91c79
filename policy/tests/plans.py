"""Offline plans of the program, and policy arguments built from their resources.

The plans come from the program itself (`python -m wallarm_mirror plan --json`) run by the
program's interpreter in a subprocess: the pack's venv cannot import the program (different
protobuf major), and the tests must see what the program really registers.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

REPO = Path(__file__).resolve().parents[2]
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
# Shaped like a Wallarm token (64+ base64 characters) but obviously not one.
FAKE_TOKEN = "Zm9yLXBvbGljeS10ZXN0cy1vbmx5+NotARealWallarmToken/0123456789abcdEF"

OPTS = PolicyResourceOptions(
    protect=False,
    ignore_changes=[],
    delete_before_replace=None,
    aliases=[],
    custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
    additional_secret_outputs=[],
)


def program_python() -> str:
    """The program's interpreter: $WALLARM_MIRROR_PYTHON, else the repo's .venv."""
    return os.path.abspath(os.environ.get("WALLARM_MIRROR_PYTHON") or REPO / ".venv" / "bin" / "python")


@dataclass(frozen=True)
class Plan:
    """One `plan --json` document."""

    project: str
    stack: str
    resources: list[dict[str, Any]]
    outputs: dict[str, Any]

    def all(self, resource_type: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == resource_type]

    def one(self, resource_type: str, name: str | None = None) -> dict[str, Any]:
        found = [r for r in self.all(resource_type) if name is None or r["name"] == name]
        assert len(found) == 1, f"expected one {resource_type} {name or ''}, found {[r['name'] for r in found]}"
        return found[0]

    def urn(self, resource: Mapping[str, Any], stack: str | None = None) -> str:
        """The URN the engine would give it: parent types joined by '$', the stack root left out."""
        by_key = {f"{r['type']}::{r['name']}": r for r in self.resources}
        types = [resource["type"]]
        parent = resource.get("parent")
        while parent and parent in by_key:
            types.insert(0, by_key[parent]["type"])
            parent = by_key[parent].get("parent")
        return f"urn:pulumi:{stack or self.stack}::{self.project}::{'$'.join(types)}::{resource['name']}"


def start(*args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """Start the program's interpreter in the repo (it is not installed, the repo is its path)."""
    python = program_python()
    if not Path(python).exists():
        raise RuntimeError(
            f"the program's interpreter {python} does not exist: run ./dev plan once, or set WALLARM_MIRROR_PYTHON"
        )
    return subprocess.Popen(
        [python, *args],
        cwd=REPO,
        env={**os.environ, **(env or {}), "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], what: str) -> str:
    out, err = process.communicate(timeout=120)
    if process.returncode != 0:
        sys.stderr.write(err)
        raise RuntimeError(f"{what} failed with exit status {process.returncode}: {err.strip()[-2000:]}")
    return out


def plan_from(stdout: str) -> Plan:
    document = json.loads(stdout)
    return Plan(
        project=document["project"],
        stack=document["stack"],
        resources=document["resources"],
        outputs=document.get("outputs") or {},
    )


def variant_stack_file(directory: Path, stack: str, extra: Mapping[str, str]) -> Path:
    """Pulumi.<stack>.yaml: the example dev stack plus `extra` keys (the later key wins in YAML)."""
    text = (REPO / "Pulumi.dev.yaml").read_text()
    lines = [text.rstrip("\n")] + [f"  wallarm-mirror:{key}: {json.dumps(value)}" for key, value in extra.items()]
    path = directory / f"Pulumi.{stack}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


# --- policy arguments -----------------------------------------------------------------------


def args_for(
    plan: Plan,
    resource: Mapping[str, Any],
    *,
    props: Mapping[str, Any] | None = None,
    stack: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> ResourceValidationArgs:
    """What the engine would pass for this resource: its inputs behind the unknown-checking proxy."""
    inputs = copy.deepcopy(dict(props if props is not None else resource["inputs"]))
    return ResourceValidationArgs(
        resource_type=resource["type"],
        props=unknown_checking_proxy(inputs),
        urn=plan.urn(resource, stack),
        name=resource["name"],
        opts=OPTS,
        provider=None,
        config=dict(config or {}),
    )


def resource_args(
    resource_type: str, name: str, props: Mapping[str, Any], *, config: Mapping[str, Any] | None = None
) -> ResourceValidationArgs:
    """Policy arguments for a hand-built resource of a stack named `test`."""
    resource = {"type": resource_type, "name": name, "parent": None, "inputs": props}
    return args_for(Plan("wallarm-mirror", "test", [resource], {}), resource, config=config)


def policy_resource(
    resource_type: str,
    name: str,
    props: Mapping[str, Any],
    *,
    property_dependencies: Mapping[str, list[PolicyResource]] | None = None,
    urn: str | None = None,
) -> PolicyResource:
    """One resource of a stack policy's arguments, its props behind the unknown-checking proxy."""
    return PolicyResource(
        resource_type=resource_type,
        props=unknown_checking_proxy(copy.deepcopy(dict(props))),
        urn=urn or f"urn:pulumi:test::wallarm-mirror::{resource_type}::{name}",
        name=name,
        opts=OPTS,
        provider=None,
        parent=None,
        dependencies=[],
        property_dependencies=dict(property_dependencies or {}),
    )


def stack_args(
    plan: Plan,
    *,
    props_of: Mapping[str, Mapping[str, Any]] | None = None,
    ids: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
) -> StackValidationArgs:
    """What the engine would pass a stack policy for the plan: every resource's inputs (`props_of`
    replaces some by name), with `id` added where `ids` names one (the engine sends outputs, which
    hold the id; the plan keeps ids only in its stack outputs). No property dependencies: the plan
    does not record them, so the policies fall back on the ids as written."""
    resources = []
    for resource in plan.resources:
        props = dict((props_of or {}).get(resource["name"], resource["inputs"]))
        if ids and resource["name"] in ids:
            props["id"] = ids[resource["name"]]
        resources.append(policy_resource(resource["type"], resource["name"], props, urn=plan.urn(resource)))
    return StackValidationArgs(resources, config=dict(config or {}))


def violations(
    policy: ResourceValidationPolicy | StackValidationPolicy, args: ResourceValidationArgs | StackValidationArgs
) -> list[str]:
    """The messages the policy reports for these arguments (of the matching kind)."""
    found: list[str] = []
    policy.validate(args, lambda message, urn=None: found.append(message))  # type: ignore[arg-type]
    return found


def mutated(resource: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of the resource's inputs with one field set ('a.b.0.c'); value None deletes it."""
    inputs = copy.deepcopy(dict(resource["inputs"]))
    *parents, last = path.split(".")
    node: Any = inputs
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is None:
        del node[key]
    else:
        node[key] = value
    return inputs


def user_data_text(resource: Mapping[str, Any]) -> str:
    return base64.b64decode(resource["inputs"]["userData"]).decode("utf-8")


def with_user_data(resource: Mapping[str, Any], text: str) -> dict[str, Any]:
    return mutated(resource, "userData", base64.b64encode(text.encode("utf-8")).decode("ascii"))


def base64_heredoc(target: str, content: str) -> str:
    """A file written the way the boot script writes its files."""
    encoded = base64.encodebytes(content.encode("utf-8")).decode("ascii")
    return f"base64 -d > {target} <<'WALLARM_BOOT_B64'\n{encoded}WALLARM_BOOT_B64\n"
