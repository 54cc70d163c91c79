"""The component package: WallarmMirror for any Pulumi language (TypeScript, Go, C#, Java, YAML).

`pulumi package add <this repo or checkout>` reads PulumiPlugin.yaml (runtime python) and runs the
repo's `__main__.py` as a plugin; that calls `serve()`, which hosts WallarmMirror with the SDK's
component provider host. The host infers the schema from type annotations: the inputs from
`WallarmMirrorArgs` (components/args.py, generated from the config model, one documented field
per config key), the outputs from the component's annotated attributes. The package's resource is
`wallarm-mirror:index:WallarmMirror`; while hosted, the component registers under that type and
aliases the program's `wallarm:mirror:WallarmMirror`, so moving a stack to the package replaces
nothing (see `hosted`).

The schema cannot mark an input secret (pulumi 3.272's analyzer has no way to): the component
makes `token` a secret itself, whatever a caller passes.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pulumi.runtime

if TYPE_CHECKING:
    from pulumi.provider.experimental.component import ComponentProvider

    from .components.stack import HostedComponent

PACKAGE = "wallarm-mirror"
COMPONENT = "WallarmMirror"
PACKAGE_TYPE_TOKEN = f"{PACKAGE}:index:{COMPONENT}"
_PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def package_version() -> str:
    """The version of this source: its pyproject.toml in a checkout, else the installed distribution's."""
    if _PYPROJECT.is_file():
        return str(tomllib.loads(_PYPROJECT.read_text())["project"]["version"])
    return importlib.metadata.version(PACKAGE)


def running_as_plugin() -> bool:
    """Whether this process was started as the package's plugin, not as the Pulumi program.

    The language host runs a program only after pulumi-language-python-exec has configured the
    SDK's settings with the engine's resource monitor; a plugin is started as `python <dir>
    <engine address>` and configures nothing. So no monitor means: serve the component.
    """
    return pulumi.runtime.settings.get_monitor() is None


def components() -> list[type[HostedComponent]]:
    """The components the package serves: the facade, one per analyser, and the spoke."""
    from .components.analysers import NativeAnalyser, NginxAnalyser
    from .components.spoke import NativeSpoke
    from .components.stack import WallarmMirror

    return [WallarmMirror, NginxAnalyser, NativeAnalyser, NativeSpoke]


@contextlib.contextmanager
def hosted() -> Iterator[None]:
    """Each component registers as the package's type (aliasing the program's) while this lasts."""
    served = components()
    previous = {cls: cls._type_token for cls in served}
    for cls in served:
        cls._type_token = f"{PACKAGE}:index:{cls.__name__}"
    try:
        yield
    finally:
        for cls, token in previous.items():
            cls._type_token = token


def component_provider() -> ComponentProvider:
    """The provider the host serves: the components, with schemas inferred from their annotations."""
    from pulumi.provider.experimental.component import ComponentProvider

    served: list[type[pulumi.ComponentResource]] = list(components())
    return ComponentProvider(served, PACKAGE, version=package_version())


def serve() -> None:
    """Host the component for the engine (blocks until the engine stops the plugin)."""
    from pulumi.provider.experimental.host import component_provider_host

    served: list[type[pulumi.ComponentResource]] = list(components())
    with hosted():
        component_provider_host(served, PACKAGE, version=package_version())
