from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.host_mirror.lab import Lab, namespaces_work
from wallarm_mirror.host_mirror import HostScriptSpec, render_host_script

STACK = "lab-stack"
VNI = 4242
NLB_NAME = "wm-lab-0123456789abcdef.elb.eu-west-1.amazonaws.com"
CONTROL = "ssm.eu-west-1.amazonaws.com"


@pytest.fixture(scope="session")
def kernel() -> None:
    why = namespaces_work()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{why}; CI must run the host mirroring kernel tests")
        pytest.skip(why)


@pytest.fixture(scope="module")
def shared_lab(kernel: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One lab for the module's tests (per xdist worker): building one is most of what a test cost."""
    lab = Lab(tmp_path_factory.mktemp("lab"))
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture
def make_lab(shared_lab: Lab) -> Iterator[Callable[..., Lab]]:
    """The shared lab, reset (and checked clean) for this test with the MTUs it asks for."""
    made: list[Lab] = []

    def make(web_mtu: int = 1500, client_mtu: int = 1500) -> Lab:
        assert not made, "one lab a test"
        shared_lab.reset(web_mtu=web_mtu, client_mtu=client_mtu)
        made.append(shared_lab)
        return shared_lab

    try:
        yield make
    finally:
        shared_lab.end_test()


@pytest.fixture
def lab(make_lab: Callable[..., Lab]) -> Lab:
    return make_lab()


BASE = HostScriptSpec(stack=STACK, method="host", vni=VNI, ports=(8080,), nlb_dns_name=NLB_NAME)


def write_script(folder: Path, **changes: Any) -> Path:
    """The script of BASE with `changes` (HostScriptSpec fields), in a new file under `folder`."""
    path = folder / f"host-mirror-{len(list(folder.glob('host-mirror-*.sh')))}.sh"
    path.write_text(render_host_script(dataclasses.replace(BASE, **changes)))
    return path
