"""How the web tier mirrors (MirrorOptions), and the helpers every server's renderer shares.

Every function here is pure: the same endpoint and options always give the same text, so the snippets
can be stack outputs, compared in reviews and tested without the Pulumi engine.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import yaml

from .endpoint import MirrorEndpoint, is_dns_name, is_ipv4

__all__ = [
    "AWS_VPC_RESOLVER",
    "DEFAULT_CA_FILE",
    "DEFAULT_OPTIONS",
    "K8S_MIRROR_NAME",
    "MAX_CONNECTIONS",
    "MIRROR_NAME",
    "NGINX_MIRROR_LOCATION",
    "NGINX_OLDEST",
    "NGINX_RELAY_PORT",
    "NGINX_UPSTREAM_RESOLVE",
    "MirrorOptions",
]

# Envoy cluster names conventionally use underscores; Kubernetes and Traefik names may not.
MIRROR_NAME = "wallarm_mirror"
K8S_MIRROR_NAME = "wallarm-mirror"

NGINX_MIRROR_LOCATION = "/_wallarm_mirror"

# Debian/Ubuntu and the official Envoy images keep the system CA bundle here; NGINX and Envoy have no
# built-in trust store, so verification needs an explicit file. It holds the Amazon roots that ACM
# public certificates chain to.
DEFAULT_CA_FILE = "/etc/ssl/certs/ca-certificates.crt"

# The mirror module arrived in NGINX 1.13.4: the oldest version the snippet supports, and the default.
NGINX_OLDEST_VERSION = (1, 13, 4)
NGINX_OLDEST = ".".join(map(str, NGINX_OLDEST_VERSION))
# `server ... resolve` and `resolver` inside `upstream` reached open-source NGINX in 1.27.3
# (https://nginx.org/en/CHANGES, "Changes with nginx 1.27.3", 26 Nov 2024); before, only NGINX Plus.
NGINX_UPSTREAM_RESOLVE = (1, 27, 3)
# Copies in flight to the ALB at once (NGINX max_conns, Envoy circuit breakers). At a healthy ALB's
# few milliseconds per copy that is thousands of copies a second; when the analyser slows down, the
# copies beyond it are shed instead of holding the web tier's connections (issue 24).
MAX_CONNECTIONS = 32
MAX_CONNECTIONS_LIMIT = 4096
# The longest timeoutSeconds: 5 s per phase. An internal ALB in the same VPC answers a healthy node's
# copy in milliseconds, and even a TLS handshake from a peered region takes well under 1 s, so 1 s
# (the default) is already generous. Beyond a few seconds a slow analyser gets almost nothing:
# copies flow at maxConnections / timeoutSeconds (32/5, about 6 a second at 5 s), and Traefik,
# which cannot cap copies in flight, holds rate x timeout of them (5,000 at 1,000 requests/s).
MAX_TIMEOUT_SECONDS = 5
# Below the ephemeral port range (32768-60999 on Linux), so an outgoing connection never holds it.
NGINX_RELAY_PORT = 18445

# The Amazon-provided DNS server, reachable from every instance in a VPC.
AWS_VPC_RESOLVER = "169.254.169.253"

# Letters, digits and the path characters that are literal in an NGINX location, an Envoy prefix, an
# Istio prefix and a Traefik PathPrefix alike (no quotes, braces, semicolons, $ or backticks).
_LOCATION_RE = re.compile(r"^/[A-Za-z0-9._~%/:@+,=!-]*$")
_UPSTREAM_NAME_RE = re.compile(r"^[A-Za-z0-9._@-]+(?::[0-9]{1,5})?$")
_UPSTREAM_URL_RE = re.compile(r"^https?://[A-Za-z0-9._-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%/:@+,=!-]*)?$")
_ISTIO_GATEWAY_RE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?:/[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)?$")
_PATH_RE = re.compile(r"^/[A-Za-z0-9._/+-]*$")


@dataclass(frozen=True)
class MirrorOptions:
    """How the web tier mirrors: which paths, how much of it, and how hard it may lean on the mirror.

    Every field has a safe default. Construction validates all fields at once and raises one
    ValueError whose lines each name a field, its value and the fix.

    - `sample_percent`: share of requests copied, greater than 0 and at most 100, in 0.01 steps.
      Start small on a busy site and raise it while watching latency (docs/web-servers.md).
    - `locations`: URL path prefixes to mirror, each starting with "/"; "/" mirrors everything.
    - `primary_upstream`: what serves users today. NGINX: an upstream name or an http(s) URL; Envoy: a
      cluster name; Istio: the destination host; Traefik: a service name (`name@provider` allowed).
    - `timeout_seconds`: how long a copy may wait on the ALB, per phase (connect, send, read). No
      user request waits for it: it bounds how long a slow or dead analyser holds a copy's slot.
    - `max_connections`: copies in flight to the ALB at once (NGINX `max_conns` over all workers,
      Envoy's circuit breakers). A copy beyond it is shed at once, never queued, so a hung analyser
      holds at most this many copies' connections of the web tier (four each on NGINX: the relay's
      end of the site's hand-off, both ends of the relay's part 1 to part 2, and part 2 to the ALB).
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
      elsewhere. "address[:port]" entries separated by spaces. Used by NGINX 1.27.3 or newer only.
    - `nginx_version`: the oldest NGINX version that runs the snippet. 1.27.3 and newer keep connections
      to the ALB and follow its changing addresses (`server ... resolve`); older versions keep connections
      to the addresses the name had when NGINX started or last reloaded (docs/web-servers.md, "NGINX").
    - `nginx_relay_port`: the first of the two loopback ports of the snippet's relay, which takes each
      copy from your site at once, holds the connections to the ALB and logs their failures apart
      from your site's error log. Pick a port that nothing else uses, nor the one after it.
    """

    sample_percent: float = 100.0
    locations: tuple[str, ...] = ("/",)
    primary_upstream: str = "app"
    timeout_seconds: float = 1.0
    max_connections: int = MAX_CONNECTIONS
    hosts: tuple[str, ...] = ()
    istio_gateways: tuple[str, ...] = ("mesh",)
    tls_verify: bool = True
    tls_ca_file: str | None = None
    tls_server_name: str | None = None
    nginx_resolver: str = AWS_VPC_RESOLVER
    nginx_version: str = NGINX_OLDEST
    nginx_relay_port: int = NGINX_RELAY_PORT

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
        problems += self._connection_problems()
        problems += self._host_problems()
        problems += self._tls_problems()
        problems += self._resolver_problems()
        problems += self._nginx_problems()
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
        if not math.isfinite(value) or not 0.001 <= value <= MAX_TIMEOUT_SECONDS:
            return [
                f"timeout_seconds={value!r} is out of range: use 0.001 to {MAX_TIMEOUT_SECONDS} seconds; 1 or "
                "less is right for an ALB in the same network "
                "(a copy holds one of max_connections that long when the analyser is slow or down)."
            ]
        return []

    def _connection_problems(self) -> list[str]:
        value = self.max_connections
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONNECTIONS_LIMIT:
            return [
                f"max_connections={value!r} is not a whole number from 1 to {MAX_CONNECTIONS_LIMIT}: use e.g. "
                f"{MAX_CONNECTIONS} (copies in flight to the ALB; more are shed, each holds up to four of "
                "NGINX's worker_connections)."
            ]
        return []

    def _host_problems(self) -> list[str]:
        problems: list[str] = []
        for host in self.hosts:
            if not isinstance(host, str) or not is_dns_name(host.lower()):
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
        if name is not None and (not isinstance(name, str) or not is_dns_name(name.lower())):
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

    def _nginx_problems(self) -> list[str]:
        problems: list[str] = []
        version = self.nginx_version
        parsed = parse_nginx_version(version) if isinstance(version, str) else None
        if parsed is None:
            problems.append(
                f"nginx_version={version!r} is not an NGINX version: write it as `nginx -v` prints it, "
                "e.g. '1.22.1' or '1.27.3'."
            )
        elif parsed < NGINX_OLDEST_VERSION:
            problems.append(
                f"nginx_version={version!r} is too old: the mirror module arrived in NGINX {NGINX_OLDEST}; "
                "upgrade NGINX."
            )
        port = self.nginx_relay_port
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65534:
            problems.append(
                f"nginx_relay_port={port!r} is not a TCP port below 65535: use a loopback port from 1 to "
                f"65534 that nothing uses, nor the one after it (the relay listens on both), e.g. {NGINX_RELAY_PORT}."
            )
        return problems

    @property
    def nginx(self) -> tuple[int, int, int]:
        """`nginx_version` as numbers, for comparisons."""
        return parse_nginx_version(self.nginx_version) or (0, 0, 0)

    @property
    def tls_ca(self) -> str:
        """The CA bundle NGINX and Envoy read when verifying the ALB certificate."""
        return self.tls_ca_file or DEFAULT_CA_FILE

    def tls_name(self, endpoint: MirrorEndpoint) -> str:
        """The SNI / certificate name for `endpoint`."""
        return (self.tls_server_name or endpoint.host).lower()


_RESOLVER_RE = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(?P<port>[0-9]{1,5}))?$")


_NGINX_VERSION_RE = re.compile(r"^(?:nginx/)?([0-9]{1,3})\.([0-9]{1,3})(?:\.([0-9]{1,3}))?$")


def parse_nginx_version(text: str) -> tuple[int, int, int] | None:
    """'1.22.1' (or 'nginx/1.22.1', or '1.22') as (1, 22, 1); None when it is not a version."""
    match = _NGINX_VERSION_RE.match(text.strip())
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3] or 0)


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
    return is_ipv4(host) or is_dns_name(host.lower())


def percent_text(value: float) -> str:
    """12.5 -> '12.5', 50.0 -> '50': the shortest exact form, same text for equal values."""
    return format(Decimal(str(round(value, 2))).normalize(), "f")


def duration_ms(seconds: float) -> int:
    return max(1, int(Decimal(str(seconds)).scaleb(3).quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def nginx_duration(seconds: float) -> str:
    ms = duration_ms(seconds)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def envoy_duration(seconds: float) -> str:
    # Envoy reads google.protobuf.Duration and accepts only seconds ("0.5s", never "500ms").
    ms = duration_ms(seconds)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms / 1000:.3f}".rstrip("0") + "s"


def go_duration(seconds: float) -> str:
    return nginx_duration(seconds)  # Istio and Traefik parse Go durations: "1s" and "500ms" both work.


def summary(endpoint: MirrorEndpoint, options: MirrorOptions) -> str:
    where = ", ".join(options.locations)
    return f"Endpoint: {endpoint.url}. Mirrors {percent_text(options.sample_percent)}% of {where}."


# The C emitter when PyYAML has it (same output, several times faster), else the pure-Python one.
_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _no_aliases(_dumper: object, _data: object) -> bool:
    return True


# SafeDumper without anchors: a pasted snippet must read the same in every place it repeats. Made
# with type(), because its base is chosen at run time (the C dumper where PyYAML has it).
_PlainDumper = type("_PlainDumper", (_SafeDumper,), {"ignore_aliases": _no_aliases})


def yaml_text(data: Any) -> str:
    return yaml.dump(data, Dumper=_PlainDumper, sort_keys=False, default_flow_style=False, width=1000)


# The renderers' default argument: the options are frozen, so one shared instance is safe.
DEFAULT_OPTIONS = MirrorOptions()
