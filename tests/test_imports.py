"""What each part of the program loads: the plan stays close to the floor only while the pure parts
(config, boot script, snippets, mirror configs, plan files) stay free of Pulumi, pulumi_aws loads
only for a config that passed validation, and a stack loads only the service packages it uses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PURE = (
    "wallarm_mirror.config.model",
    "wallarm_mirror.config.reference",
    "wallarm_mirror.node.boot_script",
    "wallarm_mirror.components.node_boot",
    "wallarm_mirror.node.profiles",
    "wallarm_mirror.node.snippets",
    "wallarm_mirror.mirror",
    "wallarm_mirror.offline.plan",
    "wallarm_mirror.offline.diff",
    "wallarm_mirror.components.tags",
)

# A fresh interpreter: in this one, other tests have loaded everything long ago.
CHILD = """
import importlib, json, sys

def loaded():
    return sorted({name.split(".")[0] for name in sys.modules} & {"pulumi", "pulumi_aws", "grpc"})

seen = {}
for module in sys.argv[1:]:
    importlib.import_module(module)
seen["pure"] = loaded()

import pulumi
from wallarm_mirror.offline.engine import run_offline
seen["engine"] = loaded()
try:
    run_offline({"wallarm-mirror:vpcId": "vpc-1", "aws:region": "eu-west-1"})
except pulumi.RunError as error:
    seen["refusal"] = str(error).splitlines()[0]
seen["after_bad_config"] = sorted(m for m in sys.modules if m == "pulumi_aws" or m.startswith("pulumi_aws."))

import types
from wallarm_mirror.offline import plan

def services():
    # pulumi_aws puts a lazy stand-in for each service package in sys.modules; loaded, it is a module.
    return sorted(
        name.split(".")[1]
        for name, module in list(sys.modules.items())
        if name.count(".") == 1 and name.startswith("pulumi_aws.") and type(module) is types.ModuleType
        and hasattr(module, "__path__")
    )

for stack in ("dev", "prod"):
    stack_file = plan.read_stack_file(plan.PROJECT_DIR / f"Pulumi.{stack}.yaml", "wallarm-mirror", stack)
    run_offline(stack_file.config, stack_file.secret_keys, stack=stack)
    seen[stack] = services()
print(json.dumps(seen))
"""


# The pulumi_aws service packages each example stack needs; loading one costs 5-120 ms.
DEV_SERVICES = ["autoscaling", "cloudwatch", "ec2", "iam", "lb", "secretsmanager", "sns", "vpc"]
PROD_ADDS = ["s3"]  # its access-log bucket; its alarms notify an existing topic


def test_each_part_loads_only_what_it_uses() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, *PURE], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    seen = json.loads(result.stdout)

    assert seen["pure"] == [], "the pure parts must not import Pulumi"
    assert seen["engine"] == ["grpc", "pulumi"]
    assert seen["refusal"].startswith("the stack config has ")
    assert seen["after_bad_config"] == [], "pulumi_aws loads only once the config is valid"
    assert seen["dev"] == DEV_SERVICES
    assert sorted(set(seen["prod"]) - set(seen["dev"])) == PROD_ADDS
