"""What each part of the program loads: the plan stays close to the floor only while the pure parts
(config, boot script, snippets, mirror configs, plan files) stay free of Pulumi, pulumi_aws loads
only for a config that passed validation, and a stack loads only the service packages it uses."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

PACKAGE = ROOT / "wallarm_mirror"

# Packages whose every module is pure: text generators and models, tested without the engine.
# native_node and traffic_mirror join as they appear (the enrolment Lambda's code runs in AWS
# Lambda with boto3 and the standard library only).
PURE_PACKAGES = ("config", "node", "mirror", "native_node", "traffic_mirror", "host_mirror")
# Pure modules inside packages that also hold Pulumi code: the program checks the boot script
# (node_boot) before pulumi_aws is loaded; the plan and its diff run without the engine.
PURE_MODULES = (
    "wallarm_mirror.components.node_boot",
    "wallarm_mirror.components.tags",
    "wallarm_mirror.offline.plan",
)

# Which of our packages each package may import: data flows config -> components -> outputs, the
# pure generators sit below the config model, and the offline tooling sits above the program it runs.
ALLOWED = {
    "mirror": set(),
    "node": set(),
    "native_node": {"node"},
    "traffic_mirror": set(),
    # The host script carries the enrolment function's instance-type rule (one source of truth).
    "host_mirror": {"traffic_mirror"},
    "config": {"mirror", "node", "native_node"},
    "components": {"config", "mirror", "node", "native_node", "traffic_mirror", "host_mirror"},
    "program": {"config", "components"},
    "offline": {"config", "node", "program"},
    "status": set(),
}


def module_names(package: str) -> list[str]:
    folder = PACKAGE / package
    return sorted(
        "wallarm_mirror." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
        for path in folder.rglob("*.py")
    )


def our_imports(path: Path) -> set[str]:
    """The top-level wallarm_mirror packages a module imports, also inside functions (lazy imports count)."""
    package = path.relative_to(PACKAGE).parts[:-1]  # a module's package; an __init__'s is its own folder
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(package[: len(package) - (node.level - 1)])
            target = [*base, *(node.module.split(".") if node.module else [])]
            names = [target] if node.module else [[*target, alias.name] for alias in node.names]
            found.update(name[0] for name in names if name)
        elif isinstance(node, ast.ImportFrom) and (module := node.module or "").startswith("wallarm_mirror."):
            found.add(module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("wallarm_mirror."))
    return found


def test_pure_packages_and_layers_are_what_the_test_says():
    """A package added to the tree must be placed in the layers here, or this test cannot guard it."""
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages <= set(ALLOWED), f"place {sorted(packages - set(ALLOWED))} in ALLOWED (and PURE_PACKAGES if pure)"


def test_no_package_imports_upwards():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        owner = parts[0] if len(parts) > 1 else parts[0].removeprefix("__").removesuffix("__")
        if owner not in ALLOWED:
            continue  # __main__ and __init__ of the package: the command line and the public API use everything
        for imported in our_imports(path) - {owner} - ALLOWED[owner]:
            wrong.append(f"{path.relative_to(ROOT)} imports wallarm_mirror.{imported}")
    assert wrong == []


def test_the_layer_check_sees_an_upward_import(tmp_path: Path):
    """The AST walk must catch the forms we use: relative, lazy inside a function, absolute."""
    folder = tmp_path / "wallarm_mirror" / "node"
    folder.mkdir(parents=True)
    module = folder / "x.py"
    module.write_text(
        "def f():\n    from ..components.stack import WallarmMirror\nfrom ..config import NAMESPACE\n"
        "import wallarm_mirror.offline.engine\nfrom . import profiles\n"
    )
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "wallarm_mirror"
    try:
        assert our_imports(module) == {"components", "config", "offline", "node"}
    finally:
        PACKAGE = saved


PURE = (
    tuple(name for package in PURE_PACKAGES if (PACKAGE / package).is_dir() for name in module_names(package))
    + PURE_MODULES
)

# A fresh interpreter: in this one, other tests have loaded everything long ago. The child walks the
# program in the order a user's process meets it, recording what each step loaded. A python start
# with Pulumi costs ~1 s of CPU, so all the tests below read one child, and it ends without the
# interpreter's teardown and with the cyclic GC off (~0.5 s, not what these tests look at).
# The pure parts are imported in a fork made at its start, a copy of the still fresh process: they
# load native_node and traffic_mirror, which the NGINX plan afterwards must be seen not to load.
CHILD = """
import contextlib, gc, importlib, io, json, os, sys, traceback, types
gc.disable()

def loaded():
    return sorted({name.split(".")[0] for name in sys.modules} & {"pulumi", "pulumi_aws", "grpc"})

def services():
    # pulumi_aws puts a lazy stand-in for each service package in sys.modules; loaded, it is a module.
    return sorted(
        name.split(".")[1]
        for name, module in list(sys.modules.items())
        if name.count(".") == 1 and name.startswith("pulumi_aws.") and type(module) is types.ModuleType
        and hasattr(module, "__path__")
    )

read, write = os.pipe()
if os.fork() == 0:
    try:
        for module in sys.argv[1:]:
            importlib.import_module(module)
        os.write(write, json.dumps(loaded()).encode())
        code = 0
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stderr.flush()
    os._exit(code)
os.close(write)
with os.fdopen(read) as pipe:
    pure = pipe.read()
assert os.wait()[1] == 0, "importing the pure parts failed"
seen = {"pure": json.loads(pure)}

import wallarm_mirror as w
seen["package"] = sorted(m for m in sys.modules if m.split(".")[0] in ("pulumi", "pulumi_aws"))
seen["config_module"] = w.StackConfig.__module__
seen["after_config"] = sorted(m for m in sys.modules if m.split(".")[0] == "pulumi_aws")
seen["all"] = w.__all__

import pulumi
from wallarm_mirror.offline.engine import run_offline
seen["engine"] = loaded()
try:
    run_offline({"wallarm-mirror:vpcId": "vpc-1", "aws:region": "eu-west-1"})
except pulumi.RunError as error:
    seen["refusal"] = str(error).splitlines()[0]
seen["after_bad_config"] = sorted(m for m in sys.modules if m == "pulumi_aws" or m.startswith("pulumi_aws."))

# An NGINX node plan from the command line.
from wallarm_mirror.__main__ import main
with contextlib.redirect_stdout(io.StringIO()) as printed:
    seen["dev_exit"] = main(["plan", "--stack", "dev", "--json"])
seen["dev_plan_resources"] = len(json.loads(printed.getvalue())["resources"])
seen["dev"] = services()
seen["dev_native_modules"] = sorted(
    m for m in sys.modules
    if m.startswith(("wallarm_mirror.native_node", "wallarm_mirror.traffic_mirror", "wallarm_mirror.components.native"))
)
# status talks to AWS with boto3, which must not weigh on a plan: importing the package loads none.
import wallarm_mirror.status
seen["boto"] = sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore"))
seen["component_module"] = w.WallarmMirror.__module__

from wallarm_mirror.offline import plan
for stack in ("prod", "native", "hub"):
    stack_file = plan.read_stack_file(plan.PROJECT_DIR / f"Pulumi.{stack}.yaml", "wallarm-mirror", stack)
    run_offline(stack_file.config, stack_file.secret_keys, stack=stack)
    seen[stack] = services()
print(json.dumps(seen), flush=True)
os._exit(0)
"""


@pytest.fixture(scope="module")
def seen() -> dict[str, Any]:
    """What each step of CHILD loaded."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD, *PURE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    return found


# The pulumi_aws service packages each example stack needs; loading one costs 5-120 ms.
DEV_SERVICES = ["autoscaling", "cloudwatch", "ec2", "iam", "lb", "secretsmanager", "sns", "vpc"]
PROD_ADDS = ["s3"]  # its access-log bucket; its alarms notify an existing topic
# The enrolment function, its dead-letter queue, and the host mirroring document and association.
NATIVE_ADDS = ["lambda_", "sqs", "ssm"]
# The hub's RAM share of its traffic mirror target (trafficMirrorShareWith): only a hub loads it.
HUB_ADDS = ["ram"]


def test_each_part_loads_only_what_it_uses(seen: dict[str, Any]) -> None:
    assert seen["pure"] == [], "the pure parts must not import Pulumi"
    assert seen["engine"] == ["grpc", "pulumi"]
    assert seen["refusal"].startswith("the stack config has ")
    assert seen["after_bad_config"] == [], "pulumi_aws loads only once the config is valid"
    assert seen["dev"] == DEV_SERVICES
    assert sorted(set(seen["prod"]) - set(seen["dev"])) == PROD_ADDS
    assert sorted(set(seen["native"]) - set(seen["prod"])) == NATIVE_ADDS
    assert sorted(set(seen["hub"]) - set(seen["native"])) == HUB_ADDS


def test_the_package_exports_its_public_api_and_loads_it_only_on_use(seen: dict[str, Any]) -> None:
    assert seen["package"] == [], "importing the package loads no Pulumi"
    assert seen["after_config"] == [], "the config model loads no pulumi_aws"
    assert seen["config_module"] == "wallarm_mirror.config.model"
    assert seen["component_module"] == "wallarm_mirror.components.stack"
    assert seen["all"][:11] == [
        "ConfigError",
        "NativeAnalyser",
        "NativeAnalyserArgs",
        "NativeSpoke",
        "NativeSpokeArgs",
        "NginxAnalyser",
        "NginxAnalyserArgs",
        "StackConfig",
        "WallarmMirror",
        "WallarmMirrorArgs",
        "load_stack_config",
    ]


def test_an_nginx_node_plan_never_loads_the_native_analyser(seen: dict[str, Any]) -> None:
    assert seen["dev_exit"] == 0
    assert seen["dev_plan_resources"] > 0
    assert seen["dev_native_modules"] == []


def test_boto3_stays_off_the_plan_s_import_path(seen: dict[str, Any]) -> None:
    assert seen["dev_exit"] == 0
    assert seen["boto"] == [], "neither a plan nor importing wallarm_mirror.status loads boto3"
