"""Istio: a ServiceEntry for the ALB, a DestinationRule for TLS, and a VirtualService with `mirror`."""

from __future__ import annotations

from typing import Any

from .endpoint import MirrorEndpoint, is_dns_name
from .envoy import ALB_IDLE_MARGIN_SECONDS
from .options import DEFAULT_OPTIONS, K8S_MIRROR_NAME, MirrorOptions, go_duration, percent_text, summary, yaml_text

__all__ = ["render_istio"]


def render_istio(endpoint: MirrorEndpoint, options: MirrorOptions = DEFAULT_OPTIONS) -> str:
    """Istio: ServiceEntry, DestinationRule (https only) and VirtualService, as one multi-document YAML."""
    primary = options.primary_upstream
    if not is_dns_name(primary.lower()):
        raise ValueError(
            f"primary_upstream={primary!r} is not a host name, but Istio routes to a destination host: "
            "use the Kubernetes service name, e.g. 'app' or 'app.shop.svc.cluster.local'."
        )
    service_entry: dict[str, Any] = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": K8S_MIRROR_NAME},
        "spec": {
            "hosts": [endpoint.host],
            "location": "MESH_EXTERNAL",
            "resolution": "STATIC" if endpoint.is_ip else "DNS",
            # HTTP even for an https endpoint: the sidecar speaks plain HTTP on this port and
            # originates TLS itself, following the DestinationRule.
            "ports": [{"number": endpoint.port, "name": "http-wallarm-mirror", "protocol": "HTTP"}],
        },
    }
    if endpoint.is_ip:
        service_entry["spec"]["endpoints"] = [{"address": endpoint.host}]
    documents: list[tuple[list[str], dict[str, Any]]] = [
        (["# The Wallarm ALB as a mesh-external service the sidecars may send to."], service_entry)
    ]
    # Always a DestinationRule: the sidecar's pool to the ALB keeps idle connections for 1 hour by
    # default (DestinationRule connectionPool.http.idleTimeout), past the ALB's 60 s idle timeout, so
    # a copy could be written into a connection the ALB is closing. 50 s closes them first.
    # The cap on copies in flight, as Envoy's circuit breakers (Istio's default is 2^32-1 of each):
    # http2MaxRequests counts HTTP/1.1 requests too, despite its name (ConnectionPoolSettings.HTTPSettings).
    traffic_policy: dict[str, Any] = {
        "connectionPool": {
            "tcp": {"connectTimeout": go_duration(options.timeout_seconds), "maxConnections": options.max_connections},
            "http": {
                "idleTimeout": go_duration(ALB_IDLE_MARGIN_SECONDS),
                "http1MaxPendingRequests": options.max_connections,
                "http2MaxRequests": options.max_connections,
            },
        }
    }
    rule_comments = [
        "# Connections to the ALB: connect timeout, idle ones closed before the ALB's 60 s, and at most",
        f"# {options.max_connections} copies in flight per proxy (circuit breakers): the rest are shed at once.",
    ]
    if endpoint.is_tls:
        name = options.tls_name(endpoint)
        tls: dict[str, Any] = {"mode": "SIMPLE", "sni": name}
        if options.tls_verify:
            tls["subjectAltNames"] = [name]
            if options.tls_ca_file:
                tls["caCertificates"] = options.tls_ca_file
        else:
            tls["insecureSkipVerify"] = True
        traffic_policy["tls"] = tls
        rule_comments += [
            "# Originate TLS to the ALB. The SNI is set explicitly: the mirrored Host is the user's,",
            "# which auto-SNI would send instead of the ALB name.",
        ]
    documents.append(
        (
            rule_comments,
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "DestinationRule",
                "metadata": {"name": K8S_MIRROR_NAME},
                "spec": {"host": endpoint.host, "trafficPolicy": traffic_policy},
            },
        )
    )
    destination = {"destination": {"host": primary}}
    http_routes: list[dict[str, Any]] = [
        {
            "name": f"wallarm-mirror-{index}",
            "match": [{"uri": {"prefix": location}}],
            "route": [destination],
            "mirror": {"host": endpoint.host, "port": {"number": endpoint.port}},
            "mirrorPercentage": {"value": float(percent_text(options.sample_percent))},
        }
        for index, location in enumerate(options.locations, start=1)
    ]
    if "/" not in options.locations:
        http_routes.append({"name": "primary", "route": [destination]})
    documents.append(
        (
            [
                "# Your VirtualService for the app, with the mirror added to the listed paths. If you",
                "# already have one for these hosts, copy the mirror and mirrorPercentage fields into it",
                "# instead: two VirtualServices for one host do not merge reliably.",
            ],
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": {"name": K8S_MIRROR_NAME},
                "spec": {
                    "hosts": list(options.hosts) or [primary],
                    "gateways": list(options.istio_gateways),
                    "http": http_routes,
                },
            },
        )
    )
    head = [
        "# Wallarm mirror for Istio, generated by wallarm-mirror (same input, same text).",
        f"# {summary(endpoint, options)}",
        "# Mirroring is fire-and-forget: users never wait for the mirror. Istio before 1.28 appends",
        "# '-shadow' to the mirrored Host; 1.28+ does not unless istiod's DISABLE_SHADOW_HOST_SUFFIX is",
        "# false or a compatibilityVersion of 1.27 or older is set.",
    ]
    parts = ["\n".join(head)]
    for comments, document in documents:
        parts.append("---\n" + "\n".join(comments) + "\n" + yaml_text(document).rstrip("\n"))
    return "\n".join(parts) + "\n"
