"""Where the web tier sends its copies: the Wallarm ALB's mirror listener, parsed and checked once."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

__all__ = ["MirrorEndpoint", "is_dns_name", "is_ipv4"]

_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DNS_NAME_RE = re.compile(rf"^{_DNS_LABEL}(?:\.{_DNS_LABEL})*$")

_ENDPOINT_EXAMPLE = "http://internal-wallarm-123.eu-west-1.elb.amazonaws.com:8445"


def is_dns_name(value: str) -> bool:
    """A lower-case DNS name of letters, digits and hyphens (no wildcard, no trailing dot)."""
    return len(value) <= 253 and bool(_DNS_NAME_RE.match(value))


def is_ipv4(value: str) -> bool:
    """A dotted-quad IPv4 address."""
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
        if not (is_ipv4(host) or is_dns_name(host)):
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
        host = parts.hostname
        if not host:
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
        return cls(scheme="https" if scheme == "https" else "http", host=host, port=port)

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
        return is_ipv4(self.host)
