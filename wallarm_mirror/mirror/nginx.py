"""NGINX (ngx_http_mirror_module): the `http {}` and `server {}` parts that copy requests to Wallarm.

Four properties decide whether a web tier can live with the mirror (issues 16 and 24), each proven
with the real NGINX binary in tests/mirror/test_nginx_*.py:

- Out of band under distress. NGINX finishes a request only when its mirror subrequest has ended,
  and the next request on that keep-alive connection waits for it. So the site's subrequest never
  goes to the ALB: it hands the copy to a relay `server {}` on the loopback interface, which answers
  at once (`empty_gif`, in the content phase) and sends the copy on with a mirror of its own. The
  relay's requests wait for the ALB; the site's never do. A stuck relay is cut off after
  RELAY_TIMEOUT.
- Bounded. The relay's connections to the ALB are capped (`max_conns` in a shared `zone`), so a hung
  analyser cannot take the workers' connections from the site; a copy beyond the cap is shed at
  once (502, sampled in the relay's log), never queued. No `max_fails` blackout: a slow ALB is never
  marked down, copies keep flowing through the slots it frees.
- Coverage. `mirror` sits at server level, so every location inherits it: the user's existing ones
  (`location /static/`), nested ones, and those added later. A location that sets its own `mirror`
  (or `mirror off`) replaces the inherited one and escapes; so do requests answered before NGINX's
  precontent phase (`return`, `rewrite ... redirect`, `deny`, `auth_basic` refusals, `limit_req`).
- Quiet logs and kept connections. The relay's failures land in its own logs, never in the site's
  error log (NGINX logs a subrequest's upstream errors to the main request's log). Copies travel
  to the ALB over kept-alive HTTP/1.1 connections with resumed TLS sessions.
"""

from __future__ import annotations

import re

from .endpoint import MirrorEndpoint
from .options import (
    DEFAULT_OPTIONS,
    NGINX_MIRROR_LOCATION,
    NGINX_UPSTREAM_RESOLVE,
    MirrorOptions,
    nginx_duration,
    percent_text,
    summary,
)

__all__ = ["MIRROR_LOG", "MIRROR_UPSTREAM", "RELAY_UPSTREAM", "render_nginx"]

MIRROR_UPSTREAM = "wallarm_mirror"
RELAY_UPSTREAM = "wallarm_mirror_relay"
SENDER_UPSTREAM = "wallarm_mirror_sender"
# Where the relay logs its failed copies (a sample) and its own errors; next to NGINX's default logs.
MIRROR_LOG = "/var/log/nginx/wallarm-mirror.log"
MIRROR_ERROR_LOG = "/var/log/nginx/wallarm-mirror.error.log"

# Idle connections kept per worker. A connection is busy while a copy is in flight, so this is about
# the copies in flight at once per worker; more are opened when needed and closed after use.
KEEPALIVE_CONNECTIONS = 32
# The ALB closes a connection idle for 60 s (its default idle timeout). NGINX must drop idle ones
# first, or a copy may be written into a connection the ALB is closing at that moment.
KEEPALIVE_TIMEOUT = "50s"
UPSTREAM_KEEPALIVE_TIMEOUT_SINCE = (1, 15, 3)
# The longest the site's subrequest may take to hand a copy to the relay (connect, send, read). The
# relay is this NGINX on the loopback interface and answers as soon as it has read the copy (well
# under a millisecond); this only bounds a relay that cannot keep up, so users never wait for it.
RELAY_TIMEOUT = "50ms"
# The relay's internal location that hands the copy to its sending part.
RELAY_SEND_LOCATION = "/_wallarm_mirror_send"


def _prefix_regex(location: str) -> str:
    # Locations hold letters, digits and . _ ~ % / : @ + , = ! - only (MirrorOptions checks that);
    # of those, . and + mean something in a PCRE.
    return "~^" + re.sub(r"([.+])", r"\\\1", location)


def _http_part(endpoint: MirrorEndpoint, options: MirrorOptions, timeout: str) -> list[str]:
    sampled = options.sample_percent < 100
    every_path = "/" in options.locations
    lines: list[str] = []
    if sampled:
        lines += [
            "# NGINX cannot sample mirrors by itself. $request_id is random per request, so this split is",
            "# uniform and no client can steer itself in or out of the sample.",
            'split_clients "${request_id}" $wallarm_mirror_sampled {',
            f"    {percent_text(options.sample_percent)}%    1;",
            '    *    "";',
            "}",
            "",
        ]
    if not every_path:
        lines += [
            "# The listed path prefixes, matched like prefix locations against the normalised URI",
            "# (%-decoded, // merged, dot segments resolved), so /%61pi is /api here too.",
            "map $uri $wallarm_mirror_path_listed {",
            *(f'    "{_prefix_regex(location)}"    1;' for location in options.locations),
            '    default    "";',
            "}",
            "",
        ]
    lines += [
        "# The node needs the Host the user sent. HTTP/1.0 clients (scanners, often) may send none; the",
        "# ALB refuses a request without one, so name the address they connected to instead.",
        "map $http_host $wallarm_mirror_host {",
        '    ""         $server_addr;',
        "    default    $http_host;",
        "}",
        "",
        "# Keep what a load balancer in front of this NGINX reported; describe this hop otherwise.",
        "map $http_x_forwarded_proto $wallarm_mirror_forwarded_proto {",
        '    ""         $scheme;',
        "    default    $http_x_forwarded_proto;",
        "}",
        "map $http_x_forwarded_port $wallarm_mirror_forwarded_port {",
        '    ""         $server_port;',
        "    default    $http_x_forwarded_port;",
        "}",
        "",
        "# A failed copy is one the relay answered with 5xx (ALB or node down, timeout, TLS refused).",
        "# One in 16 of them is logged, picked by the last digit of the request id: enough to see an",
        "# outage within a second, too little to fill a disk while one lasts.",
        "map $status$http_x_request_id $wallarm_mirror_failure_logged {",
        '    "~^5..[0-9a-f]{31}0$"    1;',
        "    default    0;",
        "}",
        "log_format wallarm_mirror_failure '$time_iso8601 status=$status upstream=$upstream_addr '",
        "                                  'upstream_status=$upstream_status connect=$upstream_connect_time '",
        "                                  'request_id=$http_x_request_id';",
        "",
        *_upstreams(endpoint, options, timeout),
        *_relay_servers(endpoint, options, timeout),
    ]
    return lines


def _upstreams(endpoint: MirrorEndpoint, options: MirrorOptions, timeout: str) -> list[str]:
    version = options.nginx
    idle_timeout = (
        [f"    keepalive_timeout {KEEPALIVE_TIMEOUT};"] if version >= UPSTREAM_KEEPALIVE_TIMEOUT_SINCE else []
    )
    # max_conns: copies in flight to the ALB, counted over all workers (the zone). A copy beyond it is
    # shed at once (502 in the relay's log), never queued. max_fails=0: a slow ALB is never marked down
    # for fail_timeout (10 s of no copies at all); a dead address costs at most its timeouts per copy.
    limits = f"max_conns={options.max_connections} max_fails=0"
    address = f"{endpoint.host}:{endpoint.port}"
    cap = [
        f"    # At most {options.max_connections} copies in flight to the ALB, over all workers: a hung analyser",
        "    # holds no more of the workers' connections than that. Copies beyond it are shed at once.",
        f"    zone {MIRROR_UPSTREAM} 64k;",
    ]
    if endpoint.is_ip:
        servers = [*cap, "    # An IP address: nothing to resolve.", f"    server {address} {limits};"]
    elif version >= NGINX_UPSTREAM_RESOLVE:
        servers = [
            *cap,
            "    # NGINX 1.27.3+ re-resolves the ALB name in the background (its addresses change) and",
            "    # keeps the connections: `resolve` in an upstream arrived in open-source NGINX 1.27.3.",
            "    # IPv4 only: a dual-stack ALB also has IPv4 addresses, and an IPv4-only host would fail",
            "    # every copy sent to an IPv6 one.",
            f"    resolver {options.nginx_resolver} ipv6=off;",
            f"    resolver_timeout {timeout};",
            f"    server {address} {limits} resolve;",
        ]
    else:
        servers = [
            *cap,
            f"    # NGINX before 1.27.3 (nginx_version {options.nginx_version}) cannot both keep connections and",
            "    # follow a name's changing addresses. This keeps connections: the ALB name is resolved",
            "    # when NGINX starts or reloads, NGINX refuses to start if it cannot be resolved then, and",
            "    # copies go to those addresses until the next reload. Reload regularly (docs/web-servers.md, NGINX).",
            f"    server {address} {limits};",
        ]
    return [
        "# The ALB: connections are kept and reused, instead of one new TCP (and TLS) connection per copy.",
        f"upstream {MIRROR_UPSTREAM} {{",
        *servers,
        f"    keepalive {KEEPALIVE_CONNECTIONS};",
        *idle_timeout,
        "}",
        "",
        "# The relay's two servers below, on the loopback interface. No keepalive: each keeps a connection",
        "# until its copy has left, so a reused one would make the next copy wait.",
        f"upstream {RELAY_UPSTREAM} {{",
        f"    server 127.0.0.1:{options.nginx_relay_port};",
        "}",
        f"upstream {SENDER_UPSTREAM} {{",
        f"    server 127.0.0.1:{options.nginx_relay_port + 1};",
        "}",
        "",
    ]


def _relay_limits() -> list[str]:
    return [
        "    # The copy passed your server's limits already: take it whole, with every header it has.",
        "    client_max_body_size 0;",
        "    large_client_header_buffers 8 64k;",
        "    underscores_in_headers on;",
        "    ignore_invalid_headers off;",
    ]


def _relay_servers(endpoint: MirrorEndpoint, options: MirrorOptions, timeout: str) -> list[str]:
    # The sender answers within about 2 timeouts (connect, then one read); the slack is for a loaded host.
    total = nginx_duration(2 * options.timeout_seconds + 1)
    hand_off = [
        "# The relay, part 1: it takes each copy from your site and answers at once (empty_gif, in the",
        "# content phase, after its own mirror has started), so your users never wait for the ALB. Its",
        "# mirror hands the copy to part 2. ngx_http_empty_gif_module is built into NGINX by default.",
        "server {",
        f"    listen 127.0.0.1:{options.nginx_relay_port};",
        "    access_log off;",
        f"    error_log {MIRROR_ERROR_LOG} crit;",
        *_relay_limits(),
        "    # One copy per connection: NGINX keeps it until the copy has reached part 2.",
        "    keepalive_timeout 0;",
        "    location / {",
        f"        mirror {RELAY_SEND_LOCATION};",
        "        mirror_request_body on;",
        "        empty_gif;",
        "    }",
        f"    location = {RELAY_SEND_LOCATION} {{",
        "        internal;",
        f"        proxy_pass http://{SENDER_UPSTREAM}$request_uri;",
        "        proxy_set_header Host $http_host;",
        "        # Your site has its answer and has gone: hand the copy on all the same. (NGINX 1.22 did not",
        "        # abort such a copy without it either; stated, so no other version or setting does.)",
        "        proxy_ignore_client_abort on;",
        "        proxy_connect_timeout 1s;",
        f"        proxy_send_timeout {total};",
        f"        proxy_read_timeout {total};",
        "        proxy_next_upstream off;",
        "    }",
        "}",
        "",
    ]
    sender = [
        "# The relay, part 2: it sends the copy to the ALB over kept connections (a copy of part 1's is a",
        "# subrequest, which NGINX would not keep a connection for), and logs what fails there in the",
        "# relay's own logs: NGINX would log it in your site's error log otherwise, one line per copy.",
        "server {",
        f"    listen 127.0.0.1:{options.nginx_relay_port + 1};",
        f"    access_log {MIRROR_LOG} wallarm_mirror_failure if=$wallarm_mirror_failure_logged;",
        "    # crit: NGINX's own line per failed copy stays out. Set it to error while you look for a cause.",
        f"    error_log {MIRROR_ERROR_LOG} crit;",
        *_relay_limits(),
        "    location / {",
        f"        proxy_pass {endpoint.scheme}://{MIRROR_UPSTREAM};",
        "        proxy_http_version 1.1;",
        '        proxy_set_header Connection "";',
        "        # Every other header arrives from the mirror location as the ALB must see it.",
        "        proxy_set_header Host $http_host;",
        "        # Part 1 hangs up once it has the answer's headers: finish reading the answer all the same,",
        "        # so the connection to the ALB stays reusable.",
        "        proxy_ignore_client_abort on;",
        f"        proxy_connect_timeout {timeout};",
        f"        proxy_send_timeout {timeout};",
        f"        proxy_read_timeout {timeout};",
        "        proxy_next_upstream off;",
    ]
    if endpoint.is_tls:
        name = options.tls_name(endpoint)
        sender += [
            "        proxy_ssl_server_name on;",
            f"        proxy_ssl_name {name};",
            "        proxy_ssl_protocols TLSv1.2 TLSv1.3;",
            "        # The default, stated: a new connection resumes the last TLS session (no full handshake).",
            "        proxy_ssl_session_reuse on;",
        ]
        if options.tls_verify:
            sender += [
                "        # Copies carry users' cookies and tokens: only talk to the holder of the certificate.",
                "        # It must name the host above (ACM cannot issue one for *.elb.amazonaws.com).",
                "        proxy_ssl_verify on;",
                f"        proxy_ssl_trusted_certificate {options.tls_ca};",
                "        # ACM chains: leaf, intermediate, Amazon root (possibly cross-signed by Starfield).",
                "        proxy_ssl_verify_depth 3;",
            ]
        else:
            sender += [
                "        # Verification is OFF (tls_verify=false): anyone who can answer on this address gets",
                "        # copies of users' requests. Turn it on once the certificate's CA is in place.",
                "        proxy_ssl_verify off;",
            ]
    return [*hand_off, *sender, "    }", "}", ""]


def _server_part(options: MirrorOptions) -> list[str]:
    sampled = options.sample_percent < 100
    every_path = "/" in options.locations
    lines = [
        "# Server level: every location of this server inherits it, including nested ones and those you",
        "# add later. A location with its own `mirror` (or `mirror off`) does not: add these two lines",
        "# there too.",
        f"mirror {NGINX_MIRROR_LOCATION};",
        "# The default, set here so a global 'off' cannot strip bodies from the copies. NGINX reads the",
        "# whole body before proxying (overriding proxy_request_buffering off); the node analyses bodies",
        "# up to its client_max_body_size (1m by default).",
        "mirror_request_body on;",
    ]
    if not every_path:
        lines += [
            "# Decide on the user's URI now: the mirror subrequest shares this request's cached variables,",
            f"# while its own $uri is {NGINX_MIRROR_LOCATION}.",
            "set $wallarm_mirror_path_checked $wallarm_mirror_path_listed;",
        ]
    lines += [
        "",
        "# Exact match, so no regex location of yours can take these subrequests.",
        f"location = {NGINX_MIRROR_LOCATION} {{",
        "    internal;",
    ]
    if sampled:
        lines += [
            "    # Not sampled: answer the subrequest at once, the endpoint never sees it.",
            '    if ($wallarm_mirror_sampled = "") {',
            "        return 204;",
            "    }",
        ]
    if not every_path:
        lines += [
            "    # Not a listed path: the same.",
            '    if ($wallarm_mirror_path_listed = "") {',
            "        return 204;",
            "    }",
        ]
    lines += [
        f"    proxy_pass http://{RELAY_UPSTREAM}$request_uri;",
        "    proxy_http_version 1.1;",
        '    proxy_set_header Connection "";',
        "    # The client connection waits for this subrequest, which only hands the copy to the relay on",
        "    # the loopback interface (it answers at once, whatever the ALB does). These bound a relay",
        "    # that cannot keep up.",
        f"    proxy_connect_timeout {RELAY_TIMEOUT};",
        f"    proxy_send_timeout {RELAY_TIMEOUT};",
        f"    proxy_read_timeout {RELAY_TIMEOUT};",
        "    proxy_next_upstream off;",
        "    proxy_set_header Host $wallarm_mirror_host;",
        "    # $proxy_add_x_forwarded_for keeps the chain the request arrived with and appends the peer.",
        "    # Behind an ALB that chain already ends with the client address. $realip_remote_addr would",
        "    # be the ALB itself, and $remote_addr is the ALB too unless realip is set up here. List your",
        "    # proxies and ALBs in the node's set_real_ip_from, with real_ip_recursive on.",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "    proxy_set_header X-Forwarded-Proto $wallarm_mirror_forwarded_proto;",
        "    proxy_set_header X-Forwarded-Port $wallarm_mirror_forwarded_port;",
        "    proxy_set_header X-Scheme $scheme;",
        "    # Read by the node's wallarm_force server_addr / server_port.",
        "    proxy_set_header X-Server-Addr $server_addr;",
        "    proxy_set_header X-Server-Port $server_port;",
        "    proxy_set_header X-Request-ID $request_id;",
        "}",
        "",
    ]
    return lines


def render_nginx(endpoint: MirrorEndpoint, options: MirrorOptions = DEFAULT_OPTIONS) -> str:
    """NGINX (1.13.4+, ngx_http_mirror_module): an `http {}` part and a `server {}` part."""
    timeout = nginx_duration(options.timeout_seconds)
    head = [
        "# Wallarm mirror for NGINX, generated by wallarm-mirror (same input, same text).",
        f"# {summary(endpoint, options)} For NGINX {options.nginx_version} or newer.",
        "# Your users never wait for the ALB: a relay on the loopback interface takes each copy and",
        f"# answers at once. It holds at most {options.max_connections} copies in flight to the ALB, each for at most",
        f"# {timeout} per phase (connect, send, read), and sheds the rest when the analyser is slow or down.",
        f"# Failed and shed copies are logged apart: {MIRROR_LOG} (one in 16) and {MIRROR_ERROR_LOG}.",
        "",
        "# ===== Part 1 of 2: paste inside http { } =====",
        "",
    ]
    middle = [
        "# ===== Part 2 of 2: paste inside the server { } that serves your site, before its locations =====",
        "",
    ]
    return "\n".join([*head, *_http_part(endpoint, options, timeout), *middle, *_server_part(options)])
