"""The package as users install it: a wheel built by the declared backend, installed into a fresh venv.

One build and one install for the module (~1.5 s of CPU). The build calls the backend pyproject.toml
declares through its PEP 517 hook, as a front end does, in one process from the test lock
(requirements-dev.txt pins a setuptools within [build-system] requires; a test checks it stays
within): pip's isolated build environment would install setuptools into a fresh venv on every run,
most of the 8-16 s this module took with it, and `pip wheel` itself (pip's start, then a process for
each of three hooks) cost three times the build. The fresh venv gets no pip and no dependencies of
its own: a .pth file lends it this venv's site-packages, so nothing is downloaded, the venv's own
python installs the wheel with the lent pip (as a user's `python -m pip install` does), and the
wheel's own copy of wallarm_mirror is the one imported (the checkout is neither the working
directory nor on PYTHONPATH there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What a git clone or a source checkout hands the build: the backend reads no other file.
SOURCES = ("pyproject.toml", "requirements.txt", "README.md", "wallarm_mirror")
# A PEP 517 front end's one call that makes the wheel: build_wheel(wheel_directory) of the backend.
BUILD_WHEEL = "import importlib, sys; importlib.import_module(sys.argv[1]).build_wheel(sys.argv[2])"


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    home: Path  # a working directory outside the checkout

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def script(self) -> Path:
        return self.venv / "bin" / "wallarm-mirror"

    def run(self, *argv: str | Path) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return subprocess.run(
            [str(a) for a in argv], cwd=self.home, env=env, capture_output=True, text=True, timeout=120
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, source / name)
    dist = work / "dist"
    # The backend named in pyproject's [build-system], the version from the test lock (see
    # test_the_build_backend_is_one_pyproject_allows); the hook is called as pip calls it, in the
    # source folder, with no config settings.
    backend = tomllib.loads((source / "pyproject.toml").read_text())["build-system"]["build-backend"]
    subprocess.run([sys.executable, "-c", BUILD_WHEEL, backend, str(dist)], cwd=source, check=True, timeout=300)
    (wheel,) = dist.glob("wallarm_mirror-*.whl")
    venv_dir = work / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(venv_dir)  # as `python -m venv --without-pip`
    site = Path(sysconfig.get_path("purelib", "venv", vars={"base": str(venv_dir), "platbase": str(venv_dir)}))
    assert site.is_dir(), site
    # Appended after the venv's own site-packages: the dependencies (and pip) come from here,
    # wallarm_mirror does not.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python = venv_dir / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel], check=True, timeout=300
    )
    home = work / "home"
    home.mkdir()
    return Installed(wheel, venv_dir, home)


def test_the_build_backend_is_one_pyproject_allows():
    """The wheel is built without build isolation: the installed backend must be one a user's pip
    would put into its isolated build environment."""
    from importlib.metadata import version

    from packaging.requirements import Requirement

    build_system = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    assert build_system["build-backend"] == "setuptools.build_meta"
    (requirement,) = (Requirement(line) for line in build_system["requires"])
    assert requirement.name == "setuptools"
    assert requirement.specifier.contains(version("setuptools")), (
        f"setuptools {version('setuptools')} is installed, pyproject.toml requires {requirement}: ./dev lock"
    )


def test_wheel_ships_the_typing_marker_and_the_lambda_source(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert "wallarm_mirror/py.typed" in names
    assert "wallarm_mirror/traffic_mirror/enrolment.py" in names
    assert "wallarm_mirror/host_mirror/host-mirror.sh" in names
    assert "wallarm_mirror/components/args.py" in names
    assert not any(name.startswith(("tests/", "bench/", "policy/")) for name in names)


def test_wheel_requires_what_requirements_txt_lists(installed):
    metadata = zipfile.ZipFile(installed.wheel).read(
        f"{installed.wheel.name.split('-')[0]}-{installed.wheel.name.split('-')[1]}.dist-info/METADATA"
    )
    requires = sorted(
        line.removeprefix("Requires-Dist: ").replace(" ", "")
        for line in metadata.decode().splitlines()
        if line.startswith("Requires-Dist: ")
    )
    listed = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    from packaging.requirements import Requirement

    assert requires == sorted(str(Requirement(line)).replace(" ", "") for line in listed if line)


def test_the_installed_package_is_the_one_imported_with_its_public_api(installed):
    probe = (
        "import wallarm_mirror, pathlib\n"
        "from wallarm_mirror import WallarmMirror, WallarmMirrorArgs\n"
        "from wallarm_mirror.traffic_mirror import ENROLMENT_SOURCE\n"
        "print(pathlib.Path(wallarm_mirror.__file__).parent)\n"
        "print(WallarmMirror.__mro__[1].__name__, sorted(WallarmMirrorArgs.__required_keys__))\n"
        "print(ENROLMENT_SOURCE.is_file(), (pathlib.Path(wallarm_mirror.__file__).parent / 'py.typed').is_file())\n"
        "from wallarm_mirror.host_mirror import HostScriptSpec, render_host_script\n"
        "print(render_host_script(HostScriptSpec('dev', 'host', 1, (80,), None)).startswith('#!/bin/sh'))\n"
        # Ends without the interpreter's teardown (~0.1 s of CPU freeing Pulumi's objects): no part of the question.
        "import os, sys; sys.stdout.flush(); os._exit(0)\n"
    )
    result = installed.run(installed.python, "-c", probe)
    assert result.returncode == 0, result.stderr
    where, api, files, host_script = result.stdout.splitlines()
    assert Path(where).is_relative_to(installed.venv)
    assert api == "HostedComponent ['token', 'vpc_id']"
    assert files == "True True"
    assert host_script == "True"  # the template ships as package data


def test_console_script_runs_the_cli(installed):
    help_text = installed.run(installed.script, "--help")
    assert help_text.returncode == 0, help_text.stderr
    assert "config-reference" in help_text.stdout and "plan" in help_text.stdout
    reference = installed.run(installed.script, "config-reference")
    assert reference.returncode == 0, reference.stderr
    assert reference.stdout.startswith("| key | type | default | what it is |")
    assert "`wallarm-mirror:vpcId`" in reference.stdout


def test_console_script_exits_with_mains_return_code(installed):
    # `diff` returns 2 (not SystemExit) for a plan file it cannot read: the script must pass it on.
    result = installed.run(installed.script, "diff", "missing-before.json", "missing-after.json")
    assert result.returncode == 2
    assert "cannot read plan file" in result.stderr
