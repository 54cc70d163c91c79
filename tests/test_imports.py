"""What each part of the program loads: the plan stays close to the floor only while the pure parts
(config, boot script, snippets, mirror configs, plan files) stay free of Pulumi, and pulumi_aws loads
only for a config that passed validation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PURE = (
    "wallarm_mirror.config",
    "wallarm_mirror.config_reference",
    "wallarm_mirror.boot_script",
    "wallarm_mirror.node_boot",
    "wallarm_mirror.node_profiles",
    "wallarm_mirror.node_snippets",
    "wallarm_mirror.mirror_configs",
    "wallarm_mirror.plan",
    "wallarm_mirror.plan_diff",
    "wallarm_mirror.tags",
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
from wallarm_mirror.offline import run_offline
seen["engine"] = loaded()
try:
    run_offline({"wallarm-mirror:vpcId": "vpc-1", "aws:region": "eu-west-1"})
except pulumi.RunError as error:
    seen["refusal"] = str(error).splitlines()[0]
seen["after_bad_config"] = sorted(m for m in sys.modules if m == "pulumi_aws" or m.startswith("pulumi_aws."))
print(json.dumps(seen))
"""


def test_pure_parts_load_no_pulumi_and_a_bad_config_loads_no_pulumi_aws() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, *PURE], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    seen = json.loads(result.stdout)

    assert seen["pure"] == [], "the pure parts must not import Pulumi"
    assert seen["engine"] == ["grpc", "pulumi"]
    assert seen["refusal"].startswith("the stack config has ")
    assert seen["after_bad_config"] == [], "pulumi_aws loads only once the config is valid"
