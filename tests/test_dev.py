"""`./dev`, the README's two commands: what it leaves in the virtualenv besides the locked packages.

A full `./dev plan` needs PyPI (minutes); these tests call its functions on a throw-away venv instead
(`source ./dev` only defines them).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from venv import EnvBuilder

ROOT = Path(__file__).resolve().parent.parent


def _dev_function(name: str, venv: Path) -> subprocess.CompletedProcess[str]:
    """Run one function of ./dev in the checkout, with `venv` as its virtualenv."""
    return subprocess.run(
        ["bash", "-c", f'source ./dev && venv="$1" && {name}', "dev", str(venv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def venv_bare(path: Path) -> None:
    """A virtualenv as `python -m venv --without-pip` makes it, made in this process (no interpreter start)."""
    EnvBuilder(with_pip=False, symlinks=True).create(path)


def _python(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "python"), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_venv_runs_the_package_from_any_directory(tmp_path: Path) -> None:
    """Issue 22: `.venv/bin/python -m wallarm_mirror` failed outside the checkout, as nothing installed
    the package into the venv. ./dev links the checkout into the venv after installing a lock."""
    venv = tmp_path / "venv"
    venv_bare(venv)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = _python(venv, "-m", "wallarm_mirror", "--help", cwd=elsewhere)
    assert before.returncode != 0 and "No module named wallarm_mirror" in before.stderr, "the test tests nothing"

    for _ in range(2):  # a second run leaves the same single line
        linked = _dev_function("link_checkout", venv)
        assert linked.returncode == 0, linked.stderr
    [pth] = venv.glob("lib/python*/site-packages/wallarm-mirror-checkout.pth")
    assert pth.read_text() == f"{ROOT}\n"

    helped = _python(venv, "-m", "wallarm_mirror", "--help", cwd=elsewhere)
    assert helped.returncode == 0, helped.stderr
    assert "usage: python -m wallarm_mirror" in helped.stdout
    found = _python(venv, "-c", "import wallarm_mirror; print(wallarm_mirror.__file__)", cwd=elsewhere)
    assert Path(found.stdout.strip()) == ROOT / "wallarm_mirror" / "__init__.py"


def test_the_locks_are_still_installed_hash_checked() -> None:
    """The link goes around pip: every package still comes from a lock, with --require-hashes."""
    script = (ROOT / "dev").read_text()
    installs = re.findall(r"^[^#]*pip install.*$", script, flags=re.MULTILINE)
    assert installs and all("--require-hashes -r" in line for line in installs), installs
    assert "link_checkout\n}" in script.split("install() {", 1)[1], "install() ends by linking the checkout"


def test_linking_writes_the_checkouts_bytecode_whatever_the_environment_says(tmp_path: Path) -> None:
    """With PYTHONDONTWRITEBYTECODE set (as on this machine kind) every process compiled wallarm_mirror
    anew; ./dev writes its bytecode once, as pip does for an installed package."""
    venv = tmp_path / "venv"
    venv_bare(venv)
    module = ROOT / "wallarm_mirror" / "offline" / "plan.py"
    cached = Path(importlib.util.cache_from_source(str(module)))
    cached.unlink(missing_ok=True)

    linked = _dev_function("link_checkout", venv)

    assert linked.returncode == 0, linked.stderr
    # A .pyc's header holds its source's mtime (bytes 8-12): this one was written for the file as it is.
    header = cached.read_bytes()[:16]
    assert header[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(header[8:12], "little") == int(module.stat().st_mtime) & 0xFFFFFFFF
