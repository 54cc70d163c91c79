"""Ready-to-paste configuration that makes an existing web tier mirror its traffic to Wallarm.

The web tier (NGINX, Envoy, Istio or Traefik) keeps serving users from its own upstream and sends a
copy of each request to the internal ALB in front of the Wallarm nodes (`mirror_endpoint`). Every
function here is pure: the same endpoint and options always give the same text, so the snippets can
be stack outputs, compared in reviews and tested without the Pulumi engine.

What the node needs from a copy (see the Wallarm facts, sections 3 and 4): the original method, path,
query, body and Host, the client address in X-Forwarded-For, and X-Server-Addr / X-Server-Port /
X-Request-ID. What the user's traffic must never get from the mirror: errors or long waits. Each
renderer documents, inside the text it returns, where that server puts which cost.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

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

# Envoy cluster names conventionally use underscores; Kubernetes and Traefik names may not.
MIRROR_NAME = "wallarm_mirror"
_K8S_MIRROR_NAME = "wallarm-mirror"

NGINX_MIRROR_LOCATION = "/_wallarm_mirror"

# Debian/Ubuntu and the official Envoy images keep the system CA bundle here; NGINX and Envoy have no
# built-in trust store, so verification needs an explicit file. It holds the Amazon roots that ACM
# public certificates chain to.
DEFAULT_CA_FILE = "/etc/ssl/certs/ca-certificates.crt"

# The Amazon-provided DNS server, reachable from every instance in a VPC.
AWS_VPC_RESOLVER = "169.254.169.253"

# Matches the node's NGINX default client_max_body_size (1m): a larger copy would be refused with 413
# and never analysed, so buffering it in Traefik's memory would only cost.
TRAEFIK_MAX_BODY_BYTES = 1024 * 1024

_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DNS_NAME_RE = re.compile(rf"^{_DNS_LABEL}(?:\.{_DNS_LABEL})*$")
# Letters, digits and the path characters that are literal in an NGINX location, an Envoy prefix, an
# Istio prefix and a Traefik PathPrefix alike (no quotes, braces, semicolons, $ or backticks).
_LOCATION_RE = re.compile(r"^/[A-Za-z0-9._~%/:@+,=!-]*$")
_UPSTREAM_NAME_RE = re.compile(r"^[A-Za-z0-9._@-]+(?::[0-9]{1,5})?$")
_UPSTREAM_URL_RE = re.compile(r"^https?://[A-Za-z0-9._-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%/:@+,=!-]*)?$")
_ISTIO_GATEWAY_RE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?:/[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)?$")
_PATH_RE = re.compile(r"^/[A-Za-z0-9._/+-]*$")
_TRAEFIK_SERVICE_RE = re.compile(r"^[A-Za-z0-9._-]+(?:@[A-Za-z0-9._-]+)?$")

_ENDPOINT_EXAMPLE = "http://internal-wallarm-123.eu-west-1.elb.amazonaws.com:8445"


def _is_dns_name(value: str) -> bool:
    return len(value) <= 253 and bool(_DNS_NAME_RE.match(value))


def _is_ipv4(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class MirrorEndpoint:
    """Where the web tier sends mirrored copies: the Wallarm ALB listener, `scheme://host:port`.

    Build it with `MirrorEndpoint.parse(url)` from the stack output `mirror_endpoint`. The host is a
    DNS name (the ALB's, or an alias that matches its certificate) or an IPv4 address; it is stored
    lower-case so equal endpoints render equal text.
    """

    scheme: Literal["http", "https"]
    host: str
    port: int

    def __post_init__(self) -> None:
        if self.scheme not in ("http", "https"):
            raise ValueError(
                f"mirror endpoint scheme {self.scheme!r} is not supported: use 'http' or 'https' "
                "(the ALB mirror listener speaks HTTP, or HTTPS with an ACM certificate)."
            )
        if not isinstance(self.host, str) or not self.host:
            raise ValueError(
                f"mirror endpoint host {self.host!r} is empty: give the ALB's DNS name, "
                "e.g. internal-wallarm-123.eu-west-1.elb.amazonaws.com."
            )
        host = self.host.lower()
        if ":" in host or host.startswith("["):
            raise ValueError(
                f"mirror endpoint host {self.host!r} is an IPv6 literal, which these snippets do not "
                "support: use the ALB's DNS name."
            )
        if not (_is_ipv4(host) or _is_dns_name(host)):
            raise ValueError(
                f"mirror endpoint host {self.host!r} is not a valid DNS name or IPv4 address: use the "
                "ALB's DNS name, e.g. internal-wallarm-123.eu-west-1.elb.amazonaws.com."
            )
        object.__setattr__(self, "host", host)
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise ValueError(
                f"mirror endpoint port {self.port!r} is not a TCP port: use a number from 1 to 65535, "
                "e.g. 8445 (the ALB mirror listener)."
            )

    @classmethod
    def parse(cls, url: str) -> MirrorEndpoint:
        """Parse `http(s)://host[:port][/]`; a missing port means 80 or 443."""
        if not isinstance(url, str) or not url.strip():
            raise ValueError(
                f"mirror endpoint {url!r} is not a URL: give scheme, host and port, e.g. {_ENDPOINT_EXAMPLE}."
            )
        if url != url.strip() or any(ch.isspace() for ch in url):
            raise ValueError(f"mirror endpoint {url!r} contains whitespace: remove it, e.g. {_ENDPOINT_EXAMPLE}.")
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            shown = parts.scheme or "none"
            raise ValueError(
                f"mirror endpoint {url!r} has scheme {shown!r}: start it with http:// or https://, "
                f"e.g. {_ENDPOINT_EXAMPLE}."
            )
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                f"mirror endpoint {url!r} contains user information: remove the 'user@' part; the ALB "
                "takes no credentials."
            )
        if parts.path not in ("", "/"):
            raise ValueError(
                f"mirror endpoint {url!r} has the path {parts.path!r}: give only scheme://host:port, "
                "because each mirrored request keeps its own path."
            )
        if parts.query or parts.fragment or url.endswith(("?", "#")):
            raise ValueError(f"mirror endpoint {url!r} has a query or fragment: give only scheme://host:port.")
        if not parts.hostname:
            raise ValueError(f"mirror endpoint {url!r} has no host: give the ALB's DNS name, e.g. {_ENDPOINT_EXAMPLE}.")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(
                f"mirror endpoint {url!r} has an invalid port: use a number from 1 to 65535, e.g. {_ENDPOINT_EXAMPLE}."
            ) from None
        if port is None:
            if parts.netloc.endswith(":"):
                raise ValueError(
                    f"mirror endpoint {url!r} has an empty port: write the port after the colon, "
                    f"e.g. {_ENDPOINT_EXAMPLE}."
                )
            port = 443 if scheme == "https" else 80
        return cls(scheme=scheme, host=parts.hostname, port=port)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        """The canonical URL, always with an explicit port."""
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def is_tls(self) -> bool:
        """True when copies travel over TLS to the ALB."""
        return self.scheme == "https"

    @property
    def is_ip(self) -> bool:
        """True when the host is an IPv4 literal, so no DNS lookup is involved."""
        return _is_ipv4(self.host)


@dataclass(frozen=True)
class MirrorOptions:
    """How the web tier mirrors: which paths, how much of it, and how hard it may lean on the mirror.

    Every field has a safe default. Construction validates all fields at once and raises one
    ValueError whose lines each name a field, its value and the fix.

    - `sample_percent`: share of requests copied, greater than 0 and at most 100, in 0.01 steps.
      Start small on a busy site and raise it while watching latency (README, "Mirroring from your web tier").
    - `locations`: URL path prefixes to mirror, each starting with "/"; "/" mirrors everything.
    - `primary_upstream`: what serves users today. NGINX: an upstream name or an http(s) URL; Envoy: a
      cluster name; Istio: the destination host; Traefik: a service name (`name@provider` allowed).
    - `timeout_seconds`: how long the mirror leg may hold a request. NGINX makes the client connection
      wait for the copy, so this bounds the added latency; Envoy, Istio and Traefik use it to bound
      connection attempts only.
    - `hosts`: host names the mirrored routes answer for (Istio VirtualService hosts, Envoy domains,
      Traefik Host rule). Empty means any host; for Istio it means the primary host (mesh traffic).
    - `istio_gateways`: the VirtualService `gateways`: "mesh" for sidecar traffic, or
      "namespace/gateway" for ingress traffic.
    - `tls_verify`: verify the ALB certificate when the endpoint is https. On by default: mirrored
      requests carry users' cookies and credentials, and an unverified peer could be anyone in the VPC.
    - `tls_ca_file`: CA bundle path on the mirroring host. None means the system bundle
      (DEFAULT_CA_FILE for NGINX and Envoy, the built-in trust store for Istio and Traefik).
    - `tls_server_name`: the name sent as SNI and checked against the certificate. None means the
      endpoint host. ACM cannot issue a certificate for the ALB's amazonaws.com name, so with
      verification on set this to the certificate's domain (or use that domain as the endpoint).
    - `nginx_resolver`: DNS server(s) NGINX uses to re-resolve the ALB name at run time, because ALB
      addresses change. The default is the Amazon VPC resolver; use kube-dns or a local resolver
      elsewhere. "address[:port]" entries separated by spaces.
    """

    sample_percent: float = 100.0
    locations: tuple[str, ...] = ("/",)
    primary_upstream: str = "app"
    timeout_seconds: float = 1.0
    hosts: tuple[str, ...] = ()
    istio_gateways: tuple[str, ...] = ("mesh",)
    tls_verify: bool = True
    tls_ca_file: str | None = None
    tls_server_name: str | None = None
    nginx_resolver: str = AWS_VPC_RESOLVER

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in ("locations", "hosts", "istio_gateways"):
            value = getattr(self, name)
            if isinstance(value, str):
                problems.append(f"{name}={value!r} is a single string: give a list, e.g. [{value!r}].")
                value = (value,)
            elif not isinstance(value, list | tuple):
                problems.append(f"{name}={value!r} is not a list: give a list of strings, e.g. ['/'].")
                value = ()
            object.__setattr__(self, name, tuple(value))
        # Host names are case-insensitive; one spelling keeps the rendered text stable.
        object.__setattr__(self, "hosts", tuple(h.lower() if isinstance(h, str) else h for h in self.hosts))
        problems += self._sample_problems()
        problems += self._location_problems()
        problems += self._upstream_problems()
        problems += self._timeout_problems()
        problems += self._host_problems()
        problems += self._tls_problems()
        problems += self._resolver_problems()
        if problems:
            raise ValueError("\n".join(problems))

    def _sample_problems(self) -> list[str]:
        value = self.sample_percent
        if isinstance(value, bool) or not isinstance(value, int | float):
            return [f"sample_percent={value!r} is not a number: use a percentage such as 100 or 12.5."]
        if not math.isfinite(value) or not 0 < value <= 100:
            return [
                f"sample_percent={value!r} is out of range: use a percentage greater than 0 and at most "
                "100 (100 mirrors every request)."
            ]
        if abs(value * 100 - round(value * 100)) > 1e-6:
            return [
                f"sample_percent={value!r} has more than two decimal places: round it to a multiple of "
                "0.01 (NGINX split_clients and Envoy's TEN_THOUSAND denominator count in 0.01 % steps)."
            ]
        return []

    def _location_problems(self) -> list[str]:
        if not self.locations:
            return ["locations is empty: list at least one path prefix, e.g. '/' (everything) or '/api'."]
        problems: list[str] = []
        seen: set[str] = set()
        for location in self.locations:
            if not isinstance(location, str) or not location.startswith("/"):
                problems.append(
                    f"locations entry {location!r} does not start with '/': write it as a path prefix, "
                    f"e.g. '/{str(location).lstrip('/')}'."
                )
            elif not _LOCATION_RE.match(location):
                bad = sorted({ch for ch in location if not _LOCATION_RE.match("/" + ch)})
                problems.append(
                    f"locations entry {location!r} contains {''.join(bad)!r}, which would break the "
                    "generated NGINX/Envoy/Istio/Traefik config: use letters, digits and - . _ ~ / % "
                    "(percent-encode anything else)."
                )
            elif location == NGINX_MIRROR_LOCATION or location.startswith(NGINX_MIRROR_LOCATION + "/"):
                problems.append(
                    f"locations entry {location!r} is reserved for the internal NGINX mirror location: "
                    "mirror a different path."
                )
            elif location in seen:
                problems.append(f"locations lists {location!r} twice: list each prefix once.")
            else:
                seen.add(location)
        return problems

    def _upstream_problems(self) -> list[str]:
        value = self.primary_upstream
        if not isinstance(value, str) or not value.strip():
            return [
                f"primary_upstream={value!r} is empty: name the upstream, cluster or service that "
                "serves users today, e.g. 'app'."
            ]
        if not (_UPSTREAM_NAME_RE.match(value) or _UPSTREAM_URL_RE.match(value)):
            return [
                f"primary_upstream={value!r} contains characters that would break the generated config "
                "(spaces, quotes, ; { } $ or similar): use a plain name such as 'app' or, for NGINX, a "
                "URL such as 'http://10.0.0.5:8080'."
            ]
        return []

    def _timeout_problems(self) -> list[str]:
        value = self.timeout_seconds
        if isinstance(value, bool) or not isinstance(value, int | float):
            return [f"timeout_seconds={value!r} is not a number: use seconds, e.g. 1 or 0.5."]
        if not math.isfinite(value) or not 0.001 <= value <= 60:
            return [
                f"timeout_seconds={value!r} is out of range: use 0.001 to 60 seconds; 1 is a good start "
                "(NGINX clients wait up to this long when the mirror endpoint is slow or down)."
            ]
        return []

    def _host_problems(self) -> list[str]:
        problems: list[str] = []
        for host in self.hosts:
            if not isinstance(host, str) or not _is_dns_name(host.lower()):
                problems.append(
                    f"hosts entry {host!r} is not a DNS name: use names such as 'shop.example.com' "
                    "(no scheme, port or wildcard)."
                )
        if not self.istio_gateways:
            problems.append(
                "istio_gateways is empty: use ['mesh'] for sidecar traffic or ['namespace/gateway'] "
                "for ingress traffic."
            )
        for gateway in self.istio_gateways:
            if not isinstance(gateway, str) or not _ISTIO_GATEWAY_RE.match(gateway):
                problems.append(
                    f"istio_gateways entry {gateway!r} is not a gateway reference: use 'mesh' or "
                    "'namespace/gateway-name' (lower-case)."
                )
        return problems

    def _tls_problems(self) -> list[str]:
        problems: list[str] = []
        if not isinstance(self.tls_verify, bool):
            problems.append(f"tls_verify={self.tls_verify!r} is not true or false: use true (the default).")
        ca = self.tls_ca_file
        if ca is not None and (not isinstance(ca, str) or not _PATH_RE.match(ca)):
            problems.append(
                f"tls_ca_file={ca!r} is not an absolute file path of plain characters: give the CA "
                f"bundle's full path on the mirroring host, e.g. {DEFAULT_CA_FILE!r}."
            )
        name = self.tls_server_name
        if name is not None and (not isinstance(name, str) or not _is_dns_name(name.lower())):
            problems.append(
                f"tls_server_name={name!r} is not a DNS name: use the name on the ALB's certificate, "
                "e.g. 'wallarm-mirror.example.com'."
            )
        return problems

    def _resolver_problems(self) -> list[str]:
        value = self.nginx_resolver
        tokens = value.split() if isinstance(value, str) else []
        if not tokens or not all(_is_resolver_address(token) for token in tokens):
            return [
                f"nginx_resolver={value!r} is not a list of DNS server addresses: use e.g. "
                f"'{AWS_VPC_RESOLVER}' (the Amazon VPC resolver) or '10.0.0.2 10.0.1.2:53'."
            ]
        return []

    @property
    def tls_ca(self) -> str:
        """The CA bundle NGINX and Envoy read when verifying the ALB certificate."""
        return self.tls_ca_file or DEFAULT_CA_FILE

    def tls_name(self, endpoint: MirrorEndpoint) -> str:
        """The SNI / certificate name for `endpoint`."""
        return (self.tls_server_name or endpoint.host).lower()


_RESOLVER_RE = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(?P<port>[0-9]{1,5}))?$")


def _is_resolver_address(token: str) -> bool:
    match = _RESOLVER_RE.match(token)
    if match is None or (match["port"] is not None and not 1 <= int(match["port"]) <= 65535):
        return False
    host = match["host"]
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    return _is_ipv4(host) or _is_dns_name(host.lower())


def _percent_text(value: float) -> str:
    """12.5 -> '12.5', 50.0 -> '50': the shortest exact form, same text for equal values."""
    return format(Decimal(str(round(value, 2))).normalize(), "f")


def _duration_ms(seconds: float) -> int:
    return max(1, int(Decimal(str(seconds)).scaleb(3).quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def _nginx_duration(seconds: float) -> str:
    ms = _duration_ms(seconds)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def _envoy_duration(seconds: float) -> str:
    # Envoy reads google.protobuf.Duration and accepts only seconds ("0.5s", never "500ms").
    ms = _duration_ms(seconds)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms / 1000:.3f}".rstrip("0") + "s"


def _go_duration(seconds: float) -> str:
    return _nginx_duration(seconds)  # Istio and Traefik parse Go durations: "1s" and "500ms" both work.


def _summary(endpoint: MirrorEndpoint, options: MirrorOptions) -> str:
    where = ", ".join(options.locations)
    return f"Endpoint: {endpoint.url}. Mirrors {_percent_text(options.sample_percent)}% of {where}."


# The C emitter when PyYAML has it (same output, several times faster), else the pure-Python one.
_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _PlainDumper(_SafeDumper):  # type: ignore[misc,valid-type]
    """SafeDumper without anchors: a pasted snippet must read the same in every place it repeats."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_PlainDumper, sort_keys=False, default_flow_style=False, width=1000)


# --------------------------------------------------------------------------------------------- NGINX


def _nginx_upstream(primary: str) -> str:
    return primary if "://" in primary else f"http://{primary}"


def render_nginx(endpoint: MirrorEndpoint, options: MirrorOptions = MirrorOptions()) -> str:
    """NGINX (1.13.4+, ngx_http_mirror_module): an `http {}` part and a `server {}` part."""
    if "@" in options.primary_upstream:
        raise ValueError(
            f"primary_upstream={options.primary_upstream!r} contains '@', which NGINX would read as user "
            "information: use the upstream name or URL your proxy_pass uses today, e.g. 'app'."
        )
    sampled = options.sample_percent < 100
    timeout = _nginx_duration(options.timeout_seconds)
    lines: list[str] = [
        "# Wallarm mirror for NGINX, generated by wallarm-mirror (same input, same text).",
        f"# {_summary(endpoint, options)}",
        "# NGINX finishes a request only after its mirror subrequest ends: the user gets the app's",
        "# response at once, but a slow or dead endpoint holds the connection (and the next keep-alive",
        f"# request on it) for up to about {timeout} per phase: DNS, connect, send, read.",
        "# Needs the mirror module (NGINX 1.13.4 or newer).",
        "",
        "# ===== Part 1 of 2: paste inside http { } =====",
        "",
    ]
    if sampled:
        lines += [
            "# NGINX cannot sample mirrors by itself. $request_id is random per request, so this split is",
            "# uniform and no client can steer itself in or out of the sample.",
            'split_clients "${request_id}" $wallarm_mirror_sampled {',
            f"    {_percent_text(options.sample_percent)}%    1;",
            '    *    "";',
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
        "# ===== Part 2 of 2: paste inside the server { } that serves these paths =====",
        "# If a location below already exists, merge: keep your directives and add the two mirror lines.",
        "",
    ]
    upstream = _nginx_upstream(options.primary_upstream)
    for location in options.locations:
        lines += [
            f"location {location} {{",
            f"    mirror {NGINX_MIRROR_LOCATION};",
            "    # The default, set here so a global 'off' cannot strip bodies from the copies. NGINX reads",
            "    # the whole body before proxying (overriding proxy_request_buffering off); the node",
            "    # analyses bodies up to its client_max_body_size (1m by default).",
            "    mirror_request_body on;",
            f"    proxy_pass {upstream};",
            "}",
            "",
        ]
    lines += [
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
    if endpoint.is_ip:
        lines += ["    # The endpoint is an IP address, so no resolver is needed."]
    else:
        lines += [
            "    # proxy_pass below contains a variable, so NGINX resolves the ALB name at run time and",
            "    # follows its changing addresses (an upstream{} block would freeze them at start-up).",
            "    # IPv4 only: a dual-stack ALB also has IPv4 addresses, and an IPv4-only host would fail",
            "    # every copy sent to an IPv6 one (copies are never retried).",
            f"    resolver {options.nginx_resolver} ipv6=off;",
            f"    resolver_timeout {timeout};",
        ]
    lines += [
        f"    proxy_pass {endpoint.url}$request_uri;",
        "    proxy_http_version 1.1;",
        "    # The client connection waits for this subrequest: keep every phase short, and never retry.",
        f"    proxy_connect_timeout {timeout};",
        f"    proxy_send_timeout {timeout};",
        f"    proxy_read_timeout {timeout};",
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
    ]
    if endpoint.is_tls:
        name = options.tls_name(endpoint)
        lines += [
            "    proxy_ssl_server_name on;",
            f"    proxy_ssl_name {name};",
            "    proxy_ssl_protocols TLSv1.2 TLSv1.3;",
        ]
        if options.tls_verify:
            lines += [
                "    # Copies carry users' cookies and tokens: only talk to the holder of the certificate.",
                "    # The certificate must name the host above (ACM cannot issue one for *.elb.amazonaws.com).",
                "    proxy_ssl_verify on;",
                f"    proxy_ssl_trusted_certificate {options.tls_ca};",
                "    # ACM chains: leaf, intermediate, Amazon root (possibly cross-signed by Starfield).",
                "    proxy_ssl_verify_depth 3;",
            ]
        else:
            lines += [
                "    # Verification is OFF (tls_verify=false): anyone who can answer on this address gets",
                "    # copies of users' requests. Turn it on once the certificate's CA is in place.",
                "    proxy_ssl_verify off;",
            ]
    lines += ["}", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- Envoy


def _envoy_fraction(percent: float) -> dict[str, Any]:
    hundredths = round(percent * 100)
    if hundredths % 100 == 0:
        return {"numerator": hundredths // 100, "denominator": "HUNDRED"}
    return {"numerator": hundredths, "denominator": "TEN_THOUSAND"}


def render_envoy(endpoint: MirrorEndpoint, options: MirrorOptions = MirrorOptions()) -> str:
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
        "connect_timeout": _envoy_duration(options.timeout_seconds),
        "dns_lookup_family": "V4_PREFERRED",
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
    head = [
        "# Wallarm mirror for Envoy (v3 API), generated by wallarm-mirror (same input, same text).",
        f"# {_summary(endpoint, options)}",
        "# Shadow requests are fire-and-forget: users never wait for the mirror. Bodies larger than the",
        "# request buffer limit (1 MiB by default) are not mirrored.",
        "# disable_shadow_host_suffix_append needs Envoy 1.31 or newer; without it the node would see",
        "# '<host>-shadow' as the Host.",
        *tls_note,
        "",
        "# ===== Part 1 of 2: add to static_resources.clusters (or serve it over CDS) =====",
    ]
    middle = [
        "",
        "# ===== Part 2 of 2: fields of your envoy.filters.network.http_connection_manager typed_config =====",
        "# use_remote_address: Envoy appends the peer address to X-Forwarded-For, so the copy carries",
        "# the client address (behind an ALB: the client, then the ALB). List your proxies in the node's",
        "# set_real_ip_from. Put the routes before any catch-all route of yours; the last route here is",
        "# the unmirrored rest. x-server-addr/port also reach the app: they are harmless there.",
    ]
    clusters_part = _yaml({"clusters": [cluster]}).rstrip("\n")
    return "\n".join([*head, clusters_part, *middle, _yaml({"http_connection_manager": hcm})])


# --------------------------------------------------------------------------------------------- Istio


def render_istio(endpoint: MirrorEndpoint, options: MirrorOptions = MirrorOptions()) -> str:
    """Istio: ServiceEntry, DestinationRule (https only) and VirtualService, as one multi-document YAML."""
    primary = options.primary_upstream
    if not _is_dns_name(primary.lower()):
        raise ValueError(
            f"primary_upstream={primary!r} is not a host name, but Istio routes to a destination host: "
            "use the Kubernetes service name, e.g. 'app' or 'app.shop.svc.cluster.local'."
        )
    service_entry = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": _K8S_MIRROR_NAME},
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
    if endpoint.is_tls:
        name = options.tls_name(endpoint)
        tls: dict[str, Any] = {"mode": "SIMPLE", "sni": name}
        if options.tls_verify:
            tls["subjectAltNames"] = [name]
            if options.tls_ca_file:
                tls["caCertificates"] = options.tls_ca_file
        else:
            tls["insecureSkipVerify"] = True
        documents.append(
            (
                [
                    "# Originate TLS to the ALB. The SNI is set explicitly: the mirrored Host is the user's,",
                    "# which auto-SNI would send instead of the ALB name.",
                ],
                {
                    "apiVersion": "networking.istio.io/v1",
                    "kind": "DestinationRule",
                    "metadata": {"name": _K8S_MIRROR_NAME},
                    "spec": {
                        "host": endpoint.host,
                        "trafficPolicy": {
                            "connectionPool": {"tcp": {"connectTimeout": _go_duration(options.timeout_seconds)}},
                            "tls": tls,
                        },
                    },
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
            "mirrorPercentage": {"value": float(_percent_text(options.sample_percent))},
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
                "metadata": {"name": _K8S_MIRROR_NAME},
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
        f"# {_summary(endpoint, options)}",
        "# Mirroring is fire-and-forget: users never wait for the mirror. Istio before 1.28 appends",
        "# '-shadow' to the mirrored Host; 1.28+ does not unless istiod's DISABLE_SHADOW_HOST_SUFFIX is",
        "# false or a compatibilityVersion of 1.27 or older is set.",
    ]
    parts = ["\n".join(head)]
    for comments, document in documents:
        parts.append("---\n" + "\n".join(comments) + "\n" + _yaml(document).rstrip("\n"))
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------------------------------- Traefik


def _traefik_percent(percent: float) -> int:
    # Traefik mirrors whole percents only: round half up, and never down to 0, which would silently
    # switch the mirror off.
    return max(1, int(Decimal(_percent_text(percent)).quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def _traefik_rule(options: MirrorOptions) -> str:
    paths = " || ".join(f"PathPrefix(`{location}`)" for location in options.locations)
    if not options.hosts:
        return paths
    hosts = " || ".join(f"Host(`{host}`)" for host in options.hosts)
    if len(options.hosts) > 1:
        hosts = f"({hosts})"
    if len(options.locations) > 1:
        paths = f"({paths})"
    return f"{hosts} && {paths}"


def render_traefik(endpoint: MirrorEndpoint, options: MirrorOptions = MirrorOptions()) -> str:
    """Traefik dynamic configuration (file provider) YAML: a router and two services."""
    primary = options.primary_upstream
    if not _TRAEFIK_SERVICE_RE.match(primary):
        raise ValueError(
            f"primary_upstream={primary!r} is not a Traefik service name: use the name of the service "
            "that serves users today, e.g. 'app' or 'app@docker'."
        )
    percent = _traefik_percent(options.sample_percent)
    transport: dict[str, Any] = {
        "forwardingTimeouts": {
            "dialTimeout": _go_duration(options.timeout_seconds),
            "responseHeaderTimeout": _go_duration(options.timeout_seconds),
        }
    }
    if endpoint.is_tls:
        transport["serverName"] = options.tls_name(endpoint)
        transport["insecureSkipVerify"] = not options.tls_verify
        if options.tls_verify and options.tls_ca_file:
            transport["rootCAs"] = [options.tls_ca_file]
    config = {
        "http": {
            "routers": {_K8S_MIRROR_NAME: {"rule": _traefik_rule(options), "service": f"with-{_K8S_MIRROR_NAME}"}},
            "services": {
                f"with-{_K8S_MIRROR_NAME}": {
                    "mirroring": {
                        "service": primary,
                        "mirrorBody": True,
                        "maxBodySize": TRAEFIK_MAX_BODY_BYTES,
                        "mirrors": [{"name": _K8S_MIRROR_NAME, "percent": percent}],
                    }
                },
                _K8S_MIRROR_NAME: {
                    "loadBalancer": {
                        "servers": [{"url": endpoint.url}],
                        "passHostHeader": True,
                        "serversTransport": _K8S_MIRROR_NAME,
                    }
                },
            },
            "serversTransports": {_K8S_MIRROR_NAME: transport},
        }
    }
    rounded = (
        [
            f"# sample_percent {_percent_text(options.sample_percent)} became {percent}: Traefik mirrors whole "
            "percents only (rounded half up, at least 1)."
        ]
        if _percent_text(options.sample_percent) != str(percent)
        else []
    )
    head = [
        "# Wallarm mirror for Traefik (dynamic configuration, file provider), generated by wallarm-mirror.",
        f"# {_summary(endpoint, options)}",
        *rounded,
        "# Mirrors are sent in the background: users never wait for them. Bodies over maxBodySize (1 MiB,",
        "# the node's own limit) are not mirrored. The router needs your router's entryPoints and tls",
        "# settings if it serves HTTPS; Traefik picks the router with the longest rule, so give it a Host",
        "# (the hosts option) or a priority above your catch-all router. mirrorBody exists in newer",
        "# Traefik v3 releases only; older ones mirror bodies anyway, delete the line if yours rejects it.",
        "# Behind a load balancer, list it in the entryPoint's forwardedHeaders.trustedIPs so the client",
        "# address in X-Forwarded-For survives.",
    ]
    return "\n".join(head) + "\n" + _yaml(config)


# ------------------------------------------------------------------------------------------ dispatch

_RENDERERS = {
    "nginx": render_nginx,
    "envoy": render_envoy,
    "istio": render_istio,
    "traefik": render_traefik,
}


def render_mirror_config(server: str, endpoint: MirrorEndpoint, options: MirrorOptions = MirrorOptions()) -> str:
    """The snippet for one server, by name (one of SERVERS)."""
    renderer = _RENDERERS.get(server)
    if renderer is None:
        raise ValueError(f"server {server!r} is not supported: choose one of {', '.join(SERVERS)}.")
    return renderer(endpoint, options)


def render_all(endpoint: MirrorEndpoint, options: MirrorOptions = MirrorOptions()) -> dict[str, str]:
    """Snippets for every server in SERVERS, keyed by server name, in SERVERS order."""
    return {server: render_mirror_config(server, endpoint, options) for server in SERVERS}
