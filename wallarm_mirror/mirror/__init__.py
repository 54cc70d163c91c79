"""Ready-to-paste configuration that makes an existing web tier mirror its traffic to Wallarm.

The web tier (NGINX, Envoy, Istio or Traefik) keeps serving users from its own upstream and sends a
copy of each request to the internal ALB in front of the Wallarm nodes (`mirror_endpoint`). Every
function here is pure: the same endpoint and options always give the same text, so the snippets can
be stack outputs, compared in reviews and tested without the Pulumi engine.

What the node needs from a copy (see the Wallarm facts, sections 3 and 4): the original method, path,
query, body and Host, the client address in X-Forwarded-For, and X-Server-Addr / X-Server-Port /
X-Request-ID. What the user's traffic must never get from the mirror: errors or long waits. Each
renderer documents, inside the text it returns, where that server puts which cost.

Layout: `endpoint` (the ALB URL), `options` (MirrorOptions and what the renderers share), then one
module per server. A new web server gets its own module and an entry in `_RENDERERS` below.
"""

from __future__ import annotations

from .endpoint import MirrorEndpoint
from .envoy import render_envoy
from .istio import render_istio
from .nginx import render_nginx
from .options import DEFAULT_CA_FILE, DEFAULT_OPTIONS, MIRROR_NAME, NGINX_MIRROR_LOCATION, MirrorOptions
from .traefik import TRAEFIK_MAX_BODY_BYTES, render_traefik

__all__ = [
    "DEFAULT_CA_FILE",
    "MIRROR_NAME",
    "NGINX_MIRROR_LOCATION",
    "SERVERS",
    "TRAEFIK_MAX_BODY_BYTES",
    "MirrorEndpoint",
    "MirrorOptions",
    "render_all",
    "render_envoy",
    "render_istio",
    "render_mirror_config",
    "render_nginx",
    "render_traefik",
]

SERVERS: tuple[str, ...] = ("nginx", "envoy", "istio", "traefik")

_RENDERERS = {
    "nginx": render_nginx,
    "envoy": render_envoy,
    "istio": render_istio,
    "traefik": render_traefik,
}


def render_mirror_config(server: str, endpoint: MirrorEndpoint, options: MirrorOptions = DEFAULT_OPTIONS) -> str:
    """The snippet for one server, by name (one of SERVERS)."""
    renderer = _RENDERERS.get(server)
    if renderer is None:
        raise ValueError(f"server {server!r} is not supported: choose one of {', '.join(SERVERS)}.")
    return renderer(endpoint, options)


def render_all(endpoint: MirrorEndpoint, options: MirrorOptions = DEFAULT_OPTIONS) -> dict[str, str]:
    """Snippets for every server in SERVERS, keyed by server name, in SERVERS order."""
    return {server: render_mirror_config(server, endpoint, options) for server in SERVERS}
