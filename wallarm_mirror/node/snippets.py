"""NGINX text the boot script hands to Wallarm's cloud-init.py (pure functions).

On every node family the node's NGINX takes the client address from X-Forwarded-For, walking it
from the right and trusting only the VPC's ranges (the ALB, the web tier) and the mirror sources.
For the `custom` preset (5.x and later) we also add what Wallarm's `mirror` preset did on 4.x:
analyse mirrored copies only, and answer the ALB health check from a server of our own.

Each snippet we render starts with its own marker comment (`snippet_marker`). The boot script
looks for these in `nginx -T` on the custom preset, to prove that cloud-init.py applied our text.
"""

from __future__ import annotations

import ipaddress
import re

from .profiles import NodeProfile

# The node listens for traffic on 80 by default; other node ports are added with `listen`.
DEFAULT_NODE_LISTEN_PORT = 80

# A comment, so NGINX ignores it; `nginx -T` prints every configuration file as it is, comments
# included, so the boot script can find it there.
SNIPPET_MARKER_PREFIX = "# wallarm-mirror-snippet:"


def snippet_marker(name: str) -> str:
    """The marker line that starts the snippet `name` (unique per snippet we render)."""
    return f"{SNIPPET_MARKER_PREFIX} {name}"


_MARKER_LINE = re.compile(re.escape(SNIPPET_MARKER_PREFIX) + r" [a-z0-9-]+")


def snippet_markers(text: str) -> list[str]:
    """The marker lines in a snippet's text, in order (our snippets have one, a user's none)."""
    return [line.strip() for line in text.splitlines() if _MARKER_LINE.fullmatch(line.strip())]


def trusted_proxy_cidrs(vpc_cidrs: list[str], mirror_source_cidrs: list[str]) -> list[str]:
    """VPC ranges and mirror sources, each once, IPv4 before IPv6, in address order."""
    nets = {ipaddress.ip_network(c, strict=False) for c in [*vpc_cidrs, *mirror_source_cidrs]}
    return [str(n) for n in sorted(nets, key=lambda n: (n.version, n.network_address, n.prefixlen))]


def _join(*parts: str) -> str:
    return "\n".join(p.rstrip("\n") for p in parts if p) + "\n"


def node_server_snippet(profile: NodeProfile, node_port: int, trusted_cidrs: list[str], user_snippet: str) -> str:
    """Text for cloud-init.py --server-snippet: ours first, then the user's."""
    real_ip = "\n".join(
        [
            snippet_marker("server"),
            "# wallarm-mirror: the client address is the rightmost untrusted X-Forwarded-For entry",
            *(f"set_real_ip_from {cidr};" for cidr in trusted_cidrs),
            "real_ip_header X-Forwarded-For;",
            "real_ip_recursive on;",
        ]
    )
    mirror_only = ""
    if profile.preset == "custom":
        listen = f"listen {node_port};\n" if node_port != DEFAULT_NODE_LISTEN_PORT else ""
        # No wallarm_mode here: cloud-init.py -m sets it, and a second one in this block would
        # make NGINX refuse the configuration as a duplicate directive.
        mirror_only = (
            "# wallarm-mirror: analyse mirrored copies only; the original server is named by headers the\n"
            "# mirroring web server adds, and there is no real response to judge\n"
            f"{listen}"
            "wallarm_force server_addr $http_x_server_addr;\n"
            "wallarm_force server_port $http_x_server_port;\n"
            "wallarm_force response_status 0;\n"
            "wallarm_force response_time 0;\n"
            "wallarm_force response_size 0;"
        )
    return _join(real_ip, mirror_only, user_snippet)


def node_http_snippet(profile: NodeProfile, health_check_port: int, health_check_path: str, user_snippet: str) -> str:
    """Text for cloud-init.py --http-snippet: our health-check server (custom preset), then the user's."""
    if not profile.own_health_server:
        return _join(user_snippet) if user_snippet else ""
    if profile.health_upstream:
        answer = (
            f"        proxy_pass {profile.health_upstream};\n"
            "        proxy_connect_timeout 2s;\n"
            "        proxy_read_timeout 2s;"
        )
    else:
        # NGINX is started only after cloud-init.py succeeded, so answering at all means "set up".
        answer = '        default_type text/plain;\n        return 200 "ok\\n";'
    server = (
        f"{snippet_marker('http')}\n"
        "# wallarm-mirror: ALB health check of this node\n"
        "server {\n"
        f"    listen {health_check_port};\n"
        "    access_log off;\n"
        "    wallarm_mode off;\n"
        f"    location = {health_check_path} {{\n"
        f"{answer}\n"
        "    }\n"
        "    location / {\n"
        "        return 404;\n"
        "    }\n"
        "}"
    )
    return _join(server, user_snippet)
