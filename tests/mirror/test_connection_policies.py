"""Envoy, Istio and Traefik keep connections to the ALB, and close idle ones before the ALB does.

The ALB closes a connection after 60 s idle (its default idle timeout). A proxy that keeps an idle
connection longer may write a copy into a connection the ALB is closing, and that copy is lost.
Envoy and Istio keep idle upstream connections 1 hour by default, Traefik 90 s; Traefik's own
serversTransport also keeps only 2 idle connections unless told otherwise, which under load means
a new connection (and TLS handshake) for most copies: an ALB cost (new connections are an LCU
dimension). NGINX is covered by tests/mirror/test_nginx_traffic.py; Envoy also runs for real in
tests/mirror/test_envoy_traffic.py.
"""

from __future__ import annotations

import re

import pytest
import yaml

from wallarm_mirror.mirror import MirrorEndpoint, MirrorOptions, render_envoy, render_istio, render_traefik

ALB = "internal-wallarm-123.eu-west-1.elb.amazonaws.com"
ENDPOINTS = [MirrorEndpoint.parse(f"http://{ALB}:8445"), MirrorEndpoint.parse(f"https://{ALB}:8445")]
ALB_IDLE_TIMEOUT = 60.0  # seconds, the ALB default
GO_DEFAULT_IDLE_PER_HOST = 2  # Go's http.DefaultMaxIdleConnsPerHost, what Traefik uses for 0


def _seconds(duration: str) -> float:
    """Seconds of an Envoy ("0.5s") or Go ("500ms", "1m30s") duration."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a duration: {duration!r}"
    return sum(float(number) * units[unit] for number, unit in parts)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=["http", "https"])
def test_envoy_closes_idle_connections_before_the_alb_and_ends_copies_after_the_timeout(
    endpoint: MirrorEndpoint,
) -> None:
    [cluster] = yaml.safe_load(render_envoy(endpoint, MirrorOptions(timeout_seconds=0.5)))["clusters"]
    options = cluster["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
    common = options["common_http_protocol_options"]
    assert 0 < _seconds(common["idle_timeout"]) < ALB_IDLE_TIMEOUT
    assert _seconds(common["max_stream_duration"]) == 0.5
    assert "max_requests_per_connection" not in common, "every copy may reuse a connection"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=["http", "https"])
def test_istio_closes_idle_connections_before_the_alb(endpoint: MirrorEndpoint) -> None:
    documents = [doc for doc in yaml.safe_load_all(render_istio(endpoint, MirrorOptions(timeout_seconds=0.5))) if doc]
    [rule] = [doc for doc in documents if doc["kind"] == "DestinationRule"]
    assert rule["spec"]["host"] == ALB
    pool = rule["spec"]["trafficPolicy"]["connectionPool"]
    assert 0 < _seconds(pool["http"]["idleTimeout"]) < ALB_IDLE_TIMEOUT
    assert _seconds(pool["tcp"]["connectTimeout"]) == 0.5
    assert pool["http"].get("maxRequestsPerConnection", 0) != 1, "1 would switch keep-alive off"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=["http", "https"])
def test_traefik_keeps_enough_idle_connections_and_closes_them_before_the_alb(endpoint: MirrorEndpoint) -> None:
    http = yaml.safe_load(render_traefik(endpoint, MirrorOptions(timeout_seconds=0.5)))["http"]
    mirror = http["services"]["wallarm-mirror"]["loadBalancer"]
    transport = http["serversTransports"][mirror["serversTransport"]]
    assert transport["maxIdleConnsPerHost"] >= 32 > GO_DEFAULT_IDLE_PER_HOST
    timeouts = transport["forwardingTimeouts"]
    assert 0 < _seconds(timeouts["idleConnTimeout"]) < ALB_IDLE_TIMEOUT
    # A slow ALB holds a copy (and its connection) at most timeoutSeconds.
    assert _seconds(timeouts["dialTimeout"]) == _seconds(timeouts["responseHeaderTimeout"]) == 0.5


def test_traefik_mirrors_bodies_up_to_the_nodes_limit() -> None:
    """mirrorBody true and maxBodySize 1 MiB: Traefik's defaults would buffer any body whole (-1, unlimited)."""
    mirroring = yaml.safe_load(render_traefik(ENDPOINTS[0]))["http"]["services"]["with-wallarm-mirror"]["mirroring"]
    assert mirroring["mirrorBody"] is True
    assert 0 < mirroring["maxBodySize"] <= 1024 * 1024
