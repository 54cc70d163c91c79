"""Envoy (v3 API): a mirror cluster and routes with request_mirror_policies."""

from __future__ import annotations

from typing import Any

from .endpoint import MirrorEndpoint
from .options import DEFAULT_OPTIONS, MIRROR_NAME, MirrorOptions, envoy_duration, summary, yaml_text

__all__ = ["render_envoy"]

# Seconds an idle connection to the ALB is kept: under the ALB's default idle timeout of 60 s, like the
# NGINX relay's keepalive_timeout.
ALB_IDLE_MARGIN_SECONDS = 50


def _envoy_fraction(percent: float) -> dict[str, Any]:
    hundredths = round(percent * 100)
    if hundredths % 100 == 0:
        return {"numerator": hundredths // 100, "denominator": "HUNDRED"}
    return {"numerator": hundredths, "denominator": "TEN_THOUSAND"}


def render_envoy(endpoint: MirrorEndpoint, options: MirrorOptions = DEFAULT_OPTIONS) -> str:
    """Envoy v3 YAML: a `clusters` part and an HTTP connection manager part with the routes."""
    if "://" in options.primary_upstream:
        raise ValueError(
            f"primary_upstream={options.primary_upstream!r} is a URL, but Envoy routes to a cluster: use the "
            "name of the cluster that serves users today, e.g. 'app'."
        )
    cluster: dict[str, Any] = {
        "name": MIRROR_NAME,
        "type": "STRICT_DNS",
        "lb_policy": "ROUND_ROBIN",
        "connect_timeout": envoy_duration(options.timeout_seconds),
        "dns_lookup_family": "V4_PREFERRED",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "common_http_protocol_options": {
                    # Close an idle connection before the ALB's 60 s idle timeout does, so no copy is
                    # written into a connection the ALB is closing (Envoy's default is 1 hour).
                    "idle_timeout": envoy_duration(ALB_IDLE_MARGIN_SECONDS),
                    # A copy's stream otherwise lives as long as the route's timeout (15 s by default)
                    # and holds a connection that long when the ALB is slow: bound it like NGINX does.
                    "max_stream_duration": envoy_duration(options.timeout_seconds),
                },
                "explicit_http_config": {"http_protocol_options": {}},
            }
        },
        # Copies in flight to the ALB, over all worker threads (Envoy's defaults are 1,024 of each): a
        # hung analyser holds no more, and a copy beyond them fails at once (upstream_rq_pending_overflow,
        # upstream_cx_overflow) instead of waiting in memory.
        "circuit_breakers": {
            "thresholds": [
                {
                    "priority": "DEFAULT",
                    "max_connections": options.max_connections,
                    "max_pending_requests": options.max_connections,
                    "max_requests": options.max_connections,
                }
            ]
        },
        "load_assignment": {
            "cluster_name": MIRROR_NAME,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {"socket_address": {"address": endpoint.host, "port_value": endpoint.port}}
                            }
                        }
                    ]
                }
            ],
        },
    }
    if endpoint.is_tls:
        name = options.tls_name(endpoint)
        common: dict[str, Any] = {"tls_params": {"tls_minimum_protocol_version": "TLSv1_2"}}
        if options.tls_verify:
            common["validation_context"] = {
                "trusted_ca": {"filename": options.tls_ca},
                "match_typed_subject_alt_names": [{"san_type": "DNS", "matcher": {"exact": name}}],
            }
        cluster["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                "sni": name,
                "common_tls_context": common,
            },
        }

    mirror_policy = {
        "cluster": MIRROR_NAME,
        "runtime_fraction": {"default_value": _envoy_fraction(options.sample_percent)},
        "disable_shadow_host_suffix_append": True,
    }
    server_headers = [
        {
            "header": {"key": "x-server-addr", "value": "%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%"},
            "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
        },
        {
            "header": {"key": "x-server-port", "value": "%DOWNSTREAM_LOCAL_PORT%"},
            "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
        },
    ]
    routes: list[dict[str, Any]] = [
        {
            "match": {"prefix": location},
            "route": {"cluster": options.primary_upstream, "request_mirror_policies": [mirror_policy]},
            "request_headers_to_add": server_headers,
        }
        for location in options.locations
    ]
    if "/" not in options.locations:
        routes.append({"match": {"prefix": "/"}, "route": {"cluster": options.primary_upstream}})
    hcm = {
        "use_remote_address": True,
        "route_config": {
            "name": "wallarm_mirrored_routes",
            "virtual_hosts": [{"name": "wallarm_mirrored", "domains": list(options.hosts) or ["*"], "routes": routes}],
        },
    }
    tls_note = (
        [
            f"# TLS to the ALB: SNI {options.tls_name(endpoint)}, "
            + (
                f"certificate verified against {options.tls_ca}."
                if options.tls_verify
                else "certificate NOT verified (tls_verify=false)."
            )
        ]
        if endpoint.is_tls
        else []
    )
    placeholder = options.primary_upstream == DEFAULT_OPTIONS.primary_upstream
    upstream_note = (
        [
            f"# !!! PLACEHOLDER: the routes below send your users to a cluster named '{options.primary_upstream}', the",
            "# !!! default of mirrorOptions.primaryUpstream, not a name from your config. Put the name of the",
            "# !!! cluster that serves your users today there (or set primaryUpstream): Envoy refuses a static",
            "# !!! route_config that names an unknown cluster (validate_clusters).",
        ]
        if placeholder
        else [f"# The routes below send your users to your cluster '{options.primary_upstream}' (primaryUpstream)."]
    )
    head = [
        "# Wallarm mirror for Envoy (v3 API), generated by wallarm-mirror (same input, same text).",
        f"# {summary(endpoint, options)}",
        "# Shadow requests are fire-and-forget: users never wait for the mirror (bodies of 3 MB and more",
        "# were mirrored whole on Envoy 1.40). Copies share kept-alive connections to the ALB, closed after",
        f"# {ALB_IDLE_MARGIN_SECONDS} s idle (before the ALB's 60 s); a copy lives at most "
        f"{envoy_duration(options.timeout_seconds)} (max_stream_duration).",
        f"# At most {options.max_connections} copies in flight to the ALB (circuit_breakers); the rest are shed.",
        "# Failed copies are not logged at the default level: watch cluster.wallarm_mirror.upstream_rq_5xx,",
        "# upstream_cx_connect_fail, upstream_rq_max_duration_reached and upstream_rq_pending_overflow (shed).",
        "# disable_shadow_host_suffix_append needs Envoy 1.31 or newer; without it the node would see",
        "# '<host>-shadow' as the Host.",
        *tls_note,
        *upstream_note,
        "",
        # The YAML below is a `clusters:` list, so the text says to add its item, not to paste the key.
        f"# ===== Part 1 of 2: the `clusters:` list below holds one cluster, {MIRROR_NAME}: add that item to your",
        "# ===== static_resources.clusters list (do not paste a second `clusters:` key), or serve it over CDS =====",
    ]
    middle = [
        "",
        "# ===== Part 2 of 2: the fields under `http_connection_manager:` below go into the typed_config of your",
        "# ===== envoy.filters.network.http_connection_manager filter (not the `http_connection_manager:` key) =====",
        "# Only routes with request_mirror_policies are mirrored: put the routes before any catch-all route of",
        "# yours, or copy the policy into each of your routes. The last route here is the unmirrored rest.",
        "# x-server-addr/port also reach the app: harmless there.",
    ]
    clusters_part = yaml_text({"clusters": [cluster]}).rstrip("\n")
    hcm_part = _annotate(yaml_text({"http_connection_manager": hcm}), options.primary_upstream, placeholder)
    return "\n".join([*head, clusters_part, *middle, hcm_part])


# use_remote_address is the one field of part 2 that is not about the mirror: it is a setting of the
# user's own connection manager, so it changes every request that manager handles. Said where it appears.
USE_REMOTE_ADDRESS_NOTE = (
    "use_remote_address CHANGES YOUR CONNECTION MANAGER, not only the copies. With it, Envoy appends the",
    "peer's address to X-Forwarded-For of every request (your app sees it too; for a loopback peer,",
    "Envoy's own address; the copy carries that entry twice: behind an ALB client, ALB, ALB) and takes",
    "the peer, not X-Forwarded-For, as the trusted client address (x-envoy-external-address,",
    "x-envoy-internal). Without it Envoy leaves X-Forwarded-For as it came, and a copy from an edge",
    "Envoy names no client. Envoy's docs: true for an edge (front) proxy, maybe false for an internal",
    "one behind a proxy that appends X-Forwarded-For: if yours is false for that reason, keep yours and",
    "drop this line. List your proxies in the node's set_real_ip_from.",
)


def _annotate(hcm_text: str, primary_upstream: str, placeholder: bool) -> str:
    """The dumped connection manager with comments at the lines they are about (YAML keeps no comments)."""
    primary_line = yaml_text({"cluster": primary_upstream}).strip()
    mark = (
        "# <- PLACEHOLDER: your users' cluster goes here (primaryUpstream)"
        if placeholder
        else "# <- your users' cluster (primaryUpstream)"
    )
    lines: list[str] = []
    for line in hcm_text.rstrip("\n").split("\n"):
        stripped = line.lstrip(" ")
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith("use_remote_address:"):
            lines += [f"{indent}# {text}" for text in USE_REMOTE_ADDRESS_NOTE]
        if stripped == primary_line:
            line = f"{line}  {mark}"
        lines.append(line)
    return "\n".join(lines) + "\n"
