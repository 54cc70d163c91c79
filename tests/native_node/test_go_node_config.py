"""The Native Node's config file: its shape, and that every key in it is one Wallarm documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from wallarm_mirror.native_node.go_node_config import (
    DOCUMENTED_KEYS,
    HEALTH_CHECK_PATH,
    HEALTH_CHECK_PORT,
    MAX_VNI,
    GoNodeConfigSpec,
    bpf_port_filter,
    render_go_node_config,
)


def _spec(**fields: Any) -> GoNodeConfigSpec:
    base: dict[str, Any] = {"vni": 4242, "ports": (80, 8080), "trusted_networks": ("10.0.0.0/16", "2600:1f18::/56")}
    return GoNodeConfigSpec(**{**base, **fields})


def _key_paths(node: Any, prefix: str = "") -> Iterator[str]:
    """Every mapping key in `node` as a dotted path; list items add "[]"."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            yield path
            yield from _key_paths(value, path)
    elif isinstance(node, list):
        for item in node:
            yield from _key_paths(item, f"{prefix}[]")


def test_config_is_vxlan_capture_of_our_vni_and_ports_only() -> None:
    config = yaml.safe_load(render_go_node_config(_spec()))

    assert config == {
        "version": 4,
        "mode": "tcp-capture-v2",
        "tcp_stream": {
            "from_vxlan": {
                "enabled": True,
                "listen_addr": "0.0.0.0:4789",
                "vni_filter": [4242],
                "filter": "tcp port 80 or tcp port 8080",
            }
        },
        "proxy_headers": [
            {
                "trusted_networks": ["10.0.0.0/16", "2600:1f18::/56"],
                "real_ip": ["X-Forwarded-For"],
                "original_host": ["X-Forwarded-Host"],
            }
        ],
        "metrics": {"enabled": True, "listen_address": ":9000"},
        "health_check": {"enabled": True, "listen_address": ":8080"},
    }


def test_config_uses_only_documented_keys() -> None:
    used = set(_key_paths(yaml.safe_load(render_go_node_config(_spec()))))

    assert used - set(DOCUMENTED_KEYS) == set(), "a key without a documented source"
    assert set(DOCUMENTED_KEYS) - used == set(), "the table lists a key the config no longer writes"
    for source in DOCUMENTED_KEYS.values():
        assert source.startswith("docs/latest/installation/"), source


def test_health_endpoint_constants_are_what_the_config_enables() -> None:
    # The NLB health check (built elsewhere from these constants) must probe what the node serves.
    config = yaml.safe_load(render_go_node_config(_spec()))
    assert config["health_check"] == {"enabled": True, "listen_address": f":{HEALTH_CHECK_PORT}"}
    assert HEALTH_CHECK_PATH == "/ready"


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        ((80,), "tcp port 80"),
        ((80, 8080), "tcp port 80 or tcp port 8080"),
        ((443, 80, 3000), "tcp port 443 or tcp port 80 or tcp port 3000"),
    ],
)
def test_bpf_filter_matches_each_port_in_both_directions(ports: tuple[int, ...], expected: str) -> None:
    # "tcp port N" is source or destination port N: requests and responses both pass.
    assert bpf_port_filter(ports) == expected
    assert yaml.safe_load(render_go_node_config(_spec(ports=ports)))["tcp_stream"]["from_vxlan"]["filter"] == expected


def test_trusted_networks_are_canonical_and_listed_once() -> None:
    config = yaml.safe_load(
        render_go_node_config(_spec(trusted_networks=("10.0.0.0/16", "2600:1F18::/56", "10.0.0.0/16")))
    )
    assert config["proxy_headers"][0]["trusted_networks"] == ["10.0.0.0/16", "2600:1f18::/56"]


@pytest.mark.parametrize("vni", [0, MAX_VNI])
def test_vni_range_ends_are_accepted(vni: int) -> None:
    assert yaml.safe_load(render_go_node_config(_spec(vni=vni)))["tcp_stream"]["from_vxlan"]["vni_filter"] == [vni]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"vni": -1}, "vni -1 must be a whole number from 0 to 16777215"),
        ({"vni": MAX_VNI + 1}, "vni 16777216 must be"),
        ({"vni": True}, "vni True must be"),
        ({"ports": ()}, "ports () must be a non-empty tuple"),
        ({"ports": [80]}, "ports [80] must be a non-empty tuple"),
        ({"ports": (0,)}, "port 0 in ports must be a whole number from 1 to 65535"),
        ({"ports": (65536,)}, "port 65536 in ports"),
        ({"ports": ("80",)}, "port '80' in ports"),
        ({"ports": (80, 80)}, "ports [80, 80] lists a port twice"),
        ({"trusted_networks": ()}, "trusted_networks is empty"),
        ({"trusted_networks": ("10.0.0.1/16",)}, "trusted network '10.0.0.1/16' is not a CIDR without host bits"),
        ({"trusted_networks": ("0.0.0.0/0\n- evil",)}, "is not a CIDR"),
    ],
)
def test_config_refuses_what_it_cannot_write(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        render_go_node_config(_spec(**fields))
    assert message in str(raised.value)
