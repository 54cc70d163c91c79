"""Mirror snippets for NGINX, Envoy, Istio and Traefik: what makes them mirror, and what they refuse.

NGINX runs for real in tests/mirror/test_nginx_runs.py, Envoy in tests/mirror/test_envoy_traffic.py. Istio and
Traefik are not installed here, so their output is parsed as YAML and the fields that make each one mirror
are checked one by one (their connection settings in tests/mirror/test_connection_policies.py).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from wallarm_mirror.mirror import (
    DEFAULT_CA_FILE,
    MIRROR_NAME,
    SERVERS,
    TRAEFIK_MAX_BODY_BYTES,
    MirrorEndpoint,
    MirrorOptions,
    render_all,
    render_envoy,
    render_istio,
    render_mirror_config,
    render_nginx,
    render_traefik,
)

ALB = "internal-wallarm-123.eu-west-1.elb.amazonaws.com"
HTTP = MirrorEndpoint.parse(f"http://{ALB}:8445")
HTTPS = MirrorEndpoint.parse(f"https://{ALB}:8445")


def parse_yaml(text: str) -> Any:
    """yaml.safe_load through libyaml: the same safe constructors, parsed in C (the pure-Python
    parser was most of this module's time, the property test's above all)."""
    return yaml.load(text, Loader=yaml.CSafeLoader)


def parse_yaml_all(text: str) -> list[Any]:
    """yaml.safe_load_all through libyaml, as parse_yaml."""
    return list(yaml.load_all(text, Loader=yaml.CSafeLoader))


# ----------------------------------------------------------------------------------- the endpoint


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"http://{ALB}:8445", ("http", ALB, 8445)),
        (f"https://{ALB.upper()}:8445/", ("https", ALB, 8445)),
        ("HTTP://10.0.3.17", ("http", "10.0.3.17", 80)),
        ("https://wallarm-mirror.example.com", ("https", "wallarm-mirror.example.com", 443)),
    ],
)
def test_endpoint_parses_good_urls(url: str, expected: tuple[str, str, int]) -> None:
    endpoint = MirrorEndpoint.parse(url)
    assert (endpoint.scheme, endpoint.host, endpoint.port) == expected
    assert endpoint.url == f"{expected[0]}://{expected[1]}:{expected[2]}"
    assert MirrorEndpoint.parse(endpoint.url) == endpoint


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "is not a URL: give scheme, host and port"),
        (f" http://{ALB}:8445", "contains whitespace"),
        ("http://bad host:8445", "contains whitespace"),
        (f"ftp://{ALB}:8445", "has scheme 'ftp': start it with http:// or https://"),
        (f"{ALB}:8445", "start it with http:// or https://"),
        ("http://", "has no host"),
        (f"http://user:secret@{ALB}:8445", "contains user information"),
        (f"http://{ALB}:8445/wallarm", "has the path '/wallarm': give only scheme://host:port"),
        (f"http://{ALB}:8445?x=1", "has a query or fragment"),
        (f"http://{ALB}:8445/#top", "has a query or fragment"),
        (f"http://{ALB}:99999", "has an invalid port: use a number from 1 to 65535"),
        (f"http://{ALB}:http", "has an invalid port"),
        (f"http://{ALB}:", "has an empty port"),
        (f"http://{ALB}:0", "port 0 is not a TCP port"),
        ("http://[fd00::1]:8445", "IPv6 literal"),
        ("http://under_score.example.com:8445", "is not a valid DNS name or IPv4 address"),
        ("http://-bad.example.com:8445", "is not a valid DNS name or IPv4 address"),
    ],
)
def test_endpoint_rejects_bad_urls_with_a_sentence(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("?", r"\?")):
        MirrorEndpoint.parse(url)


def test_endpoint_rejects_a_non_string() -> None:
    with pytest.raises(ValueError, match="is not a URL"):
        MirrorEndpoint.parse(8445)  # type: ignore[arg-type]  # a wrong type on purpose: the sentence is the test


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scheme": "tcp", "host": ALB, "port": 8445}, "scheme 'tcp' is not supported: use 'http' or 'https'"),
        ({"scheme": "http", "host": "", "port": 8445}, "host '' is empty"),
        ({"scheme": "http", "host": ALB, "port": True}, "port True is not a TCP port"),
        ({"scheme": "http", "host": ALB, "port": 70000}, "port 70000 is not a TCP port"),
    ],
)
def test_endpoint_constructor_validates_too(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MirrorEndpoint(**fields)


# ------------------------------------------------------------------------------------ the options


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sample_percent": 0}, "sample_percent=0 is out of range: use a percentage greater than 0 and at most 100"),
        ({"sample_percent": 100.5}, "sample_percent=100.5 is out of range"),
        ({"sample_percent": -5}, "sample_percent=-5 is out of range"),
        ({"sample_percent": math.nan}, "sample_percent=nan is out of range"),
        ({"sample_percent": "50"}, "sample_percent='50' is not a number"),
        ({"sample_percent": True}, "sample_percent=True is not a number"),
        ({"sample_percent": 33.333}, "sample_percent=33.333 has more than two decimal places: round it"),
        ({"locations": ()}, "locations is empty: list at least one path prefix"),
        ({"locations": "/api"}, r"locations='/api' is a single string: give a list, e.g. \['/api'\]"),
        ({"locations": None}, "locations=None is not a list: give a list of strings"),
        ({"locations": ("api",)}, "locations entry 'api' does not start with '/': .* e.g. '/api'"),
        ({"locations": ("/a b",)}, "locations entry '/a b' contains ' ', which would break the generated"),
        ({"locations": ("/x;}",)}, r"locations entry '/x;}' contains ';}'"),
        ({"locations": ("/`rm`",)}, "contains '`', which would break"),
        ({"locations": ("/_wallarm_mirror",)}, "is reserved for the internal NGINX mirror location"),
        ({"locations": ("/api", "/api")}, "locations lists '/api' twice: list each prefix once"),
        ({"primary_upstream": ""}, "primary_upstream='' is empty: name the upstream, cluster or service"),
        ({"primary_upstream": "   "}, "primary_upstream='   ' is empty"),
        ({"primary_upstream": "app; return 200"}, "primary_upstream='app; return 200' contains characters"),
        ({"primary_upstream": "app}"}, r"primary_upstream='app}' contains characters"),
        ({"timeout_seconds": 0}, "timeout_seconds=0 is out of range: use 0.001 to 5 seconds"),
        ({"timeout_seconds": 30}, "timeout_seconds=30 is out of range"),
        ({"timeout_seconds": "1s"}, "timeout_seconds='1s' is not a number"),
        ({"max_connections": 0}, "max_connections=0 is not a whole number from 1 to 4096: use e.g. 32"),
        ({"max_connections": 4097}, "max_connections=4097 is not a whole number from 1 to 4096"),
        ({"max_connections": 8.5}, "max_connections=8.5 is not a whole number"),
        ({"max_connections": True}, "max_connections=True is not a whole number"),
        ({"max_connections": "32"}, "max_connections='32' is not a whole number"),
        ({"nginx_relay_port": 65535}, "nginx_relay_port=65535 is not a TCP port below 65535: .*nor the one after it"),
        ({"nginx_relay_port": 0}, "nginx_relay_port=0 is not a TCP port below 65535"),
        ({"hosts": ("shop example.com",)}, "hosts entry 'shop example.com' is not a DNS name"),
        (
            {"hosts": ("*.example.com",)},
            r"hosts entry '\*.example.com' is not a DNS name: .*no scheme, port or wildcard",
        ),
        ({"istio_gateways": ()}, "istio_gateways is empty: use \\['mesh'\\]"),
        ({"istio_gateways": ("Istio System/GW",)}, "istio_gateways entry 'Istio System/GW' is not a gateway reference"),
        ({"tls_verify": "yes"}, "tls_verify='yes' is not true or false"),
        ({"tls_ca_file": "certs/ca.pem"}, "tls_ca_file='certs/ca.pem' is not an absolute file path"),
        ({"tls_ca_file": "/etc/ca.pem; x"}, "tls_ca_file='/etc/ca.pem; x' is not an absolute file path"),
        ({"tls_server_name": "https://x"}, "tls_server_name='https://x' is not a DNS name"),
        ({"nginx_resolver": ""}, "nginx_resolver='' is not a list of DNS server addresses"),
        ({"nginx_resolver": "10.0.0.2;"}, "nginx_resolver='10.0.0.2;' is not a list of DNS server addresses"),
        ({"nginx_resolver": "10.0.0.2:99999"}, "nginx_resolver='10.0.0.2:99999' is not a list"),
    ],
)
def test_options_reject_bad_values_with_field_value_and_fix(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MirrorOptions(**fields)


def test_options_report_every_problem_at_once() -> None:
    with pytest.raises(ValueError) as error:
        MirrorOptions(sample_percent=0, locations=("api",), primary_upstream="")
    lines = str(error.value).splitlines()
    assert [line.split("=")[0].split(" ")[0] for line in lines] == ["sample_percent", "locations", "primary_upstream"]


@pytest.mark.parametrize("resolver", ["169.254.169.253", "10.0.0.2 10.0.1.2:53", "[fd00::2]:53", "kube-dns.local"])
def test_options_accept_resolver_addresses(resolver: str) -> None:
    assert MirrorOptions(nginx_resolver=resolver).nginx_resolver == resolver


def test_options_accept_lists_and_keep_them_as_tuples() -> None:
    options = MirrorOptions(locations=["/api", "/login"], hosts=["Shop.Example.com"])  # type: ignore[arg-type]  # lists, as YAML gives
    assert options.locations == ("/api", "/login")
    assert options.hosts == ("shop.example.com",)
    assert hash(options)  # frozen and hashable, so it can be a cache key


def test_defaults_are_the_safe_choice() -> None:
    options = MirrorOptions()
    assert (options.sample_percent, options.locations, options.tls_verify) == (100.0, ("/",), True)
    assert options.tls_ca == DEFAULT_CA_FILE
    assert 0 < options.timeout_seconds <= 1


@pytest.mark.parametrize("endpoint", [HTTP, HTTPS], ids=["http", "https"])
def test_defaults_render_for_every_server(endpoint: MirrorEndpoint) -> None:
    # The config check renders only options that were set: it relies on this.
    snippets = render_all(endpoint)
    assert set(snippets) == set(SERVERS)
    assert all(endpoint.url in text for text in snippets.values())


# ------------------------------------------------------------------------------------ dispatch


def test_unknown_server_is_refused_with_the_choices() -> None:
    with pytest.raises(
        ValueError, match="server 'apache' is not supported: choose one of nginx, envoy, istio, traefik"
    ):
        render_mirror_config("apache", HTTP)


def test_render_all_gives_each_server_in_order() -> None:
    options = MirrorOptions(sample_percent=25, locations=("/api",))
    snippets = render_all(HTTPS, options)
    assert tuple(snippets) == SERVERS
    for server, text in snippets.items():
        assert text == render_mirror_config(server, HTTPS, options)
        assert HTTPS.url in text


def test_same_input_gives_the_same_text() -> None:
    options = MirrorOptions(sample_percent=12.5, locations=("/api", "/login"), hosts=("shop.example.com",))
    first = render_all(HTTPS, options)
    again = render_all(MirrorEndpoint.parse(f"HTTPS://{ALB.upper()}:8445/"), MirrorOptions(**vars(options)))
    assert first == again


@pytest.mark.parametrize(
    ("render", "upstream", "message"),
    [
        (render_envoy, "http://10.0.0.5:8080", "is a URL, but Envoy routes to a cluster"),
        (render_istio, "http://10.0.0.5:8080", "is not a host name, but Istio routes to a destination host"),
        (render_traefik, "http://app", "is not a Traefik service name"),
    ],
)
def test_url_upstream_is_refused_where_a_name_is_needed(render: Any, upstream: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"primary_upstream='{upstream}' {message}"):
        render(HTTP, MirrorOptions(primary_upstream=upstream))


def test_nginx_needs_no_primary_upstream() -> None:
    """Server-level mirroring leaves the site's own locations (and their proxy_pass) as they are."""
    assert render_nginx(HTTP, MirrorOptions(primary_upstream="app@docker")) == render_nginx(HTTP)


# ------------------------------------------------------------------------------------ NGINX text


def test_nginx_samples_only_below_100_percent() -> None:
    assert "split_clients" not in render_nginx(HTTP)
    sampled = render_nginx(HTTP, MirrorOptions(sample_percent=12.5))
    assert '"${request_id}" $wallarm_mirror_sampled' in sampled
    assert "    12.5%    1;" in sampled
    assert 'if ($wallarm_mirror_sampled = "")' in sampled


def test_nginx_tls_lines_appear_exactly_for_https() -> None:
    assert "proxy_ssl" not in render_nginx(HTTP)
    text = render_nginx(HTTPS, MirrorOptions(tls_server_name="mirror.example.com"))
    assert "proxy_ssl_server_name on;" in text
    assert "proxy_ssl_name mirror.example.com;" in text
    assert "proxy_ssl_verify on;" in text
    assert f"proxy_ssl_trusted_certificate {DEFAULT_CA_FILE};" in text
    assert "proxy_ssl_verify off;" in render_nginx(HTTPS, MirrorOptions(tls_verify=False))


def test_nginx_form_follows_the_version() -> None:
    """1.27.3+ re-resolves the ALB name in a kept-alive upstream; older versions keep connections only."""
    new = render_nginx(HTTP, MirrorOptions(nginx_version="1.27.3"))
    assert f"    server {ALB}:8445 max_conns=32 max_fails=0 resolve;" in new
    assert "    resolver 169.254.169.253 ipv6=off;" in new and "    zone wallarm_mirror 64k;" in new
    old = render_nginx(HTTP, MirrorOptions(nginx_version="1.27.2"))
    assert f"    server {ALB}:8445 max_conns=32 max_fails=0;" in old and "resolve" not in old.replace("resolved", "")
    assert "keepalive_timeout 50s;" in old
    assert "keepalive_timeout 50s" not in render_nginx(HTTP, MirrorOptions(nginx_version="1.15.2"))
    ip = render_nginx(MirrorEndpoint.parse("http://10.0.3.17:8445"), MirrorOptions(nginx_version="1.27.3"))
    assert "    server 10.0.3.17:8445 max_conns=32 max_fails=0;" in ip and "    resolver" not in ip


@pytest.mark.parametrize("version", ["1.13.4", "1.27.2", "1.27.3"])
@pytest.mark.parametrize(
    "endpoint", [HTTP, HTTPS, MirrorEndpoint.parse("http://10.0.3.17:8445")], ids=["http", "https", "ip"]
)
def test_nginx_caps_the_copies_in_flight_in_every_form(endpoint: MirrorEndpoint, version: str) -> None:
    """max_conns in a shared zone (one cap over all workers), and no max_fails blackout, in every form."""
    text = render_nginx(endpoint, MirrorOptions(nginx_version=version, max_connections=7))
    upstream = text.split("upstream wallarm_mirror {")[1].split("}")[0]
    assert "    zone wallarm_mirror 64k;" in upstream
    [server] = [line for line in upstream.splitlines() if line.startswith("    server ")]
    assert " max_conns=7 max_fails=0" in server
    assert "At most 7 copies in flight" in text


def test_nginx_mirrors_at_server_level_and_hands_copies_to_the_relay() -> None:
    text = render_nginx(HTTPS, MirrorOptions(nginx_relay_port=20000))
    server_part = text.split("===== Part 2 of 2")[1]
    lines = server_part.splitlines()
    assert "mirror /_wallarm_mirror;" in lines and "mirror_request_body on;" in lines, "at server level, unindented"
    assert "location /" not in server_part.replace("location = /_wallarm_mirror", "")
    # The site's subrequest goes to the relay only, with timeouts of milliseconds, never to the ALB.
    mirror_location = server_part.split("location = /_wallarm_mirror {")[1].split("}")[0]
    assert "proxy_pass http://wallarm_mirror_relay$request_uri;" in mirror_location
    timeouts = [line.split()[1] for line in mirror_location.splitlines() if "_timeout " in line]
    assert timeouts == ["50ms;", "50ms;", "50ms;"]
    # The relay: part 1 on the port answers at once and mirrors on to part 2 on the next port, which
    # alone talks to the ALB, over kept connections.
    assert "listen 127.0.0.1:20000;" in text and "listen 127.0.0.1:20001;" in text
    hand_off = text.split("listen 127.0.0.1:20000;")[1].split("listen 127.0.0.1:20001;")[0]
    assert "mirror /_wallarm_mirror_send;" in hand_off and "empty_gif;" in hand_off
    assert "keepalive_timeout 0;" in hand_off and "wallarm_mirror_sender" in hand_off
    sender = text.split("listen 127.0.0.1:20001;")[1]
    assert "proxy_pass https://wallarm_mirror;" in sender
    assert text.count("    keepalive 32;") == 1, "kept connections to the ALB only"
    assert text.count('proxy_set_header Connection "";') == 2
    assert "proxy_ssl_session_reuse on;" in sender


@pytest.mark.parametrize("version", ["1.13.3", "1.x", "", "latest"])
def test_nginx_version_is_checked(version: str) -> None:
    with pytest.raises(ValueError, match=f"nginx_version={version!r}"):
        MirrorOptions(nginx_version=version)


# ------------------------------------------------------------------------------------ Envoy


def _envoy(endpoint: MirrorEndpoint, options: MirrorOptions | None = None) -> tuple[dict, list[dict]]:
    return _envoy_of(render_envoy(endpoint, options or MirrorOptions()))


def _envoy_of(text: str) -> tuple[dict, list[dict]]:
    """The mirror cluster and the routes of an Envoy snippet."""
    doc = parse_yaml(text)
    [cluster] = doc["clusters"]
    [vhost] = doc["http_connection_manager"]["route_config"]["virtual_hosts"]
    return cluster, vhost["routes"]


@pytest.mark.parametrize("endpoint", [HTTP, HTTPS], ids=["http", "https"])
def test_envoy_cluster_points_at_the_endpoint(endpoint: MirrorEndpoint) -> None:
    cluster, _ = _envoy(endpoint)
    assert (cluster["name"], cluster["type"], cluster["lb_policy"]) == (MIRROR_NAME, "STRICT_DNS", "ROUND_ROBIN")
    [locality] = cluster["load_assignment"]["endpoints"]
    [lb_endpoint] = locality["lb_endpoints"]
    address = lb_endpoint["endpoint"]["address"]["socket_address"]
    assert (address["address"], address["port_value"]) == (endpoint.host, endpoint.port)
    assert ("transport_socket" in cluster) is endpoint.is_tls


def test_envoy_originates_verified_tls_for_https() -> None:
    cluster, _ = _envoy(HTTPS, MirrorOptions(tls_server_name="mirror.example.com", tls_ca_file="/etc/pki/ca.pem"))
    socket = cluster["transport_socket"]
    assert socket["name"] == "envoy.transport_sockets.tls"
    tls = socket["typed_config"]
    assert tls["@type"].endswith("envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext")
    assert tls["sni"] == "mirror.example.com"
    validation = tls["common_tls_context"]["validation_context"]
    assert validation["trusted_ca"] == {"filename": "/etc/pki/ca.pem"}
    assert validation["match_typed_subject_alt_names"] == [
        {"san_type": "DNS", "matcher": {"exact": "mirror.example.com"}}
    ]


def test_envoy_without_verification_has_no_validation_context_but_keeps_sni() -> None:
    cluster, _ = _envoy(HTTPS, MirrorOptions(tls_verify=False))
    tls = cluster["transport_socket"]["typed_config"]
    assert tls["sni"] == ALB
    assert "validation_context" not in tls["common_tls_context"]


@pytest.mark.parametrize(
    ("percent", "fraction"),
    [
        (100, {"numerator": 100, "denominator": "HUNDRED"}),
        (5, {"numerator": 5, "denominator": "HUNDRED"}),
        (12.5, {"numerator": 1250, "denominator": "TEN_THOUSAND"}),
        (0.01, {"numerator": 1, "denominator": "TEN_THOUSAND"}),
    ],
)
def test_envoy_routes_mirror_the_listed_locations_at_the_configured_share(percent: float, fraction: dict) -> None:
    options = MirrorOptions(sample_percent=percent, locations=("/api", "/login"), primary_upstream="shop")
    _, routes = _envoy(HTTP, options)
    assert [route["match"] for route in routes] == [{"prefix": "/api"}, {"prefix": "/login"}, {"prefix": "/"}]
    for route in routes[:2]:
        assert route["route"]["cluster"] == "shop"
        assert route["route"]["request_mirror_policies"] == [
            {
                "cluster": MIRROR_NAME,
                "runtime_fraction": {"default_value": fraction},
                "disable_shadow_host_suffix_append": True,
            }
        ]
        added = {h["header"]["key"]: h["header"]["value"] for h in route["request_headers_to_add"]}
        assert added == {
            "x-server-addr": "%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%",
            "x-server-port": "%DOWNSTREAM_LOCAL_PORT%",
        }
    assert routes[2] == {"match": {"prefix": "/"}, "route": {"cluster": "shop"}}, "the rest is not mirrored"


def test_envoy_keeps_client_address_and_original_host() -> None:
    text = render_envoy(HTTPS)
    hcm = parse_yaml(text)["http_connection_manager"]
    assert hcm["use_remote_address"] is True
    [route] = hcm["route_config"]["virtual_hosts"][0]["routes"]
    assert route["route"]["request_mirror_policies"][0]["disable_shadow_host_suffix_append"] is True
    assert "host_rewrite" not in text


@pytest.mark.parametrize(("seconds", "duration"), [(1, "1s"), (0.3, "0.3s"), (2.25, "2.25s"), (0.001, "0.001s")])
def test_envoy_durations_are_in_seconds(seconds: float, duration: str) -> None:
    cluster, _ = _envoy(HTTP, MirrorOptions(timeout_seconds=seconds))
    assert cluster["connect_timeout"] == duration


def test_envoy_domains_follow_hosts() -> None:
    doc = parse_yaml(render_envoy(HTTP, MirrorOptions(hosts=("shop.example.com",))))
    assert doc["http_connection_manager"]["route_config"]["virtual_hosts"][0]["domains"] == ["shop.example.com"]
    doc = parse_yaml(render_envoy(HTTP))
    assert doc["http_connection_manager"]["route_config"]["virtual_hosts"][0]["domains"] == ["*"]


def _envoy_parts(text: str) -> list[tuple[list[str], str]]:
    """(the comment lines that introduce it, its YAML text) for each of the two parts a user pastes."""
    parts = []
    for chunk in text.split("# ===== Part ")[1:]:
        lines = ("# ===== Part " + chunk).split("\n")
        comments = list(itertools.takewhile(lambda line: line.startswith("#"), lines))
        prose = [line.strip("#= ") for line in comments]
        parts.append((prose, "\n".join(lines[len(comments) :])))
    return parts


def test_envoy_part_headers_name_the_key_that_follows_them() -> None:
    """Issue 22: part 1 said "add to static_resources.clusters" above a `clusters:` key, so pasting it
    as told nests a second `clusters:` inside the list. Each header must name the key it introduces
    and say that the key's content, not the key, goes into the user's config."""
    parts = _envoy_parts(render_envoy(HTTP))
    assert len(parts) == 2
    for comments, body in parts:
        [key] = parse_yaml(body)
        header = " ".join(comments)
        assert f"`{key}:`" in header, f"the header of the {key!r} part does not name its key: {header}"
    (clusters_header, _), (hcm_header, _) = parts
    assert "add that item to your static_resources.clusters list" in " ".join(clusters_header)
    assert "not the `http_connection_manager:` key" in " ".join(hcm_header)


def _comments_above(lines: list[str], index: int) -> list[str]:
    above = list(itertools.takewhile(lambda line: line.lstrip().startswith("#"), reversed(lines[:index])))
    return [line.strip().removeprefix("# ") for line in reversed(above)]


def test_envoy_use_remote_address_says_it_changes_the_user_s_connection_manager() -> None:
    """use_remote_address is a field of the user's own connection manager: it changes what every
    request gets (X-Forwarded-For, the trusted client address), not only the copies. Said right above it."""
    lines = render_envoy(HTTP).split("\n")
    [index] = [i for i, line in enumerate(lines) if line.strip() == "use_remote_address: true"]
    note = " ".join(_comments_above(lines, index))
    assert "CHANGES YOUR CONNECTION MANAGER" in note
    assert "X-Forwarded-For of every request (your app sees it too" in note
    assert "trusted client address" in note
    assert "keep yours and drop this line" in note, "when the user's own false is right, say so"


def test_envoy_placeholder_cluster_is_flagged_where_it_appears() -> None:
    """'app' is mirrorOptions.primaryUpstream's default, not the user's cluster: each route that sends
    users there says so on its line, and the head says so once; a cluster the user named is not flagged."""
    text = render_envoy(HTTP, MirrorOptions(locations=("/api", "/login")))
    routes = [line for line in text.split("\n") if line.strip().startswith("cluster: app")]
    assert len(routes) == 3, routes
    assert all(line.endswith("# <- PLACEHOLDER: your users' cluster goes here (primaryUpstream)") for line in routes)
    assert "# !!! PLACEHOLDER: the routes below send your users to a cluster named 'app'" in text
    assert [route["route"]["cluster"] for route in _envoy(HTTP)[1]] == ["app"], "comments change no value"

    named = render_envoy(HTTP, MirrorOptions(primary_upstream="shop"))
    assert "PLACEHOLDER" not in named
    [route] = [line for line in named.split("\n") if line.strip().startswith("cluster: shop")]
    assert route.endswith("# <- your users' cluster (primaryUpstream)")


ENVOY_SCHEMA_CASES = {
    "http-everything": (HTTP, MirrorOptions()),
    "https-verified-sampled": (HTTPS, MirrorOptions(sample_percent=0.5, locations=("/api", "/login"))),
    "https-unverified-hosts": (HTTPS, MirrorOptions(tls_verify=False, hosts=("shop.example.com",))),
}


@pytest.mark.parametrize("case", ENVOY_SCHEMA_CASES)
def test_envoy_output_fits_the_envoy_api(case: str) -> None:
    """Every key and enum value must exist in Envoy's v3 protos (a typo or stale field fails loading)."""
    schema_reason = "envoy_data_plane (Envoy's v3 API as dataclasses) is not installed"
    cluster_v3 = pytest.importorskip("envoy_data_plane.envoy.config.cluster.v3", reason=schema_reason)
    hcm_v3 = pytest.importorskip(
        "envoy_data_plane.envoy.extensions.filters.network.http_connection_manager.v3", reason=schema_reason
    )
    # Registers UpstreamTlsContext, so the typed_config inside transport_socket is checked too.
    pytest.importorskip("envoy_data_plane.envoy.extensions.transport_sockets.tls.v3", reason=schema_reason)
    # Registers HttpProtocolOptions (idle timeout, max stream duration) in typed_extension_protocol_options.
    pytest.importorskip("envoy_data_plane.envoy.extensions.upstreams.http.v3", reason=schema_reason)
    endpoint, options = ENVOY_SCHEMA_CASES[case]
    doc = parse_yaml(render_envoy(endpoint, options))
    cluster = cluster_v3.Cluster.from_dict(doc["clusters"][0])
    manager = hcm_v3.HttpConnectionManager.from_dict(doc["http_connection_manager"])
    assert cluster.name == MIRROR_NAME
    assert (cluster.transport_socket is not None) is endpoint.is_tls
    policy = manager.route_config.virtual_hosts[0].routes[0].route.request_mirror_policies[0]
    assert policy.disable_shadow_host_suffix_append is True
    with pytest.raises(KeyError, match="Unknown field"):
        cluster_v3.Cluster.from_dict({**doc["clusters"][0], "conect_timeout": "1s"})


# ------------------------------------------------------------------------------------ Istio


def _istio(endpoint: MirrorEndpoint, options: MirrorOptions | None = None) -> dict[str, dict]:
    return _istio_of(render_istio(endpoint, options or MirrorOptions()))


def _istio_of(text: str) -> dict[str, dict]:
    """An Istio snippet's objects by kind (each kind once, all networking.istio.io/v1)."""
    docs = [doc for doc in parse_yaml_all(text) if doc is not None]
    kinds = [doc["kind"] for doc in docs]
    assert len(set(kinds)) == len(kinds)
    assert all(doc["apiVersion"] == "networking.istio.io/v1" for doc in docs)
    return {doc["kind"]: doc for doc in docs}


@pytest.mark.parametrize(
    ("endpoint", "kinds"),
    [(endpoint, ["ServiceEntry", "DestinationRule", "VirtualService"]) for endpoint in (HTTP, HTTPS)],
    ids=["http", "https"],
)
def test_istio_objects_and_service_entry(endpoint: MirrorEndpoint, kinds: list[str]) -> None:
    objects = _istio(endpoint)
    assert list(objects) == kinds
    spec = objects["ServiceEntry"]["spec"]
    assert spec["hosts"] == [endpoint.host]
    assert (spec["location"], spec["resolution"]) == ("MESH_EXTERNAL", "DNS")
    assert spec["ports"] == [{"number": endpoint.port, "name": "http-wallarm-mirror", "protocol": "HTTP"}]


def test_istio_virtual_service_routes_to_primary_and_mirrors_listed_paths() -> None:
    options = MirrorOptions(
        sample_percent=12.5,
        locations=("/api", "/login"),
        primary_upstream="shop.prod.svc.cluster.local",
        hosts=("shop.example.com",),
        istio_gateways=("istio-system/public", "mesh"),
    )
    spec = _istio(HTTP, options)["VirtualService"]["spec"]
    assert spec["hosts"] == ["shop.example.com"]
    assert spec["gateways"] == ["istio-system/public", "mesh"]
    mirrored, rest = spec["http"][:2], spec["http"][2:]
    for route, prefix in zip(mirrored, ("/api", "/login"), strict=True):
        assert route["match"] == [{"uri": {"prefix": prefix}}]
        assert route["route"] == [{"destination": {"host": "shop.prod.svc.cluster.local"}}]
        assert route["mirror"] == {"host": ALB, "port": {"number": 8445}}
        assert route["mirrorPercentage"] == {"value": 12.5}
    assert rest == [{"name": "primary", "route": [{"destination": {"host": "shop.prod.svc.cluster.local"}}]}]


def test_istio_defaults_to_mesh_traffic_for_the_primary_host() -> None:
    spec = _istio(HTTP)["VirtualService"]["spec"]
    assert (spec["hosts"], spec["gateways"]) == (["app"], ["mesh"])
    [route] = spec["http"]
    assert route["mirrorPercentage"] == {"value": 100.0}


def test_istio_destination_rule_originates_tls_with_explicit_sni() -> None:
    objects = _istio(HTTPS, MirrorOptions(tls_server_name="mirror.example.com", tls_ca_file="/etc/istio/ca.pem"))
    spec = objects["DestinationRule"]["spec"]
    assert spec["host"] == ALB
    assert spec["trafficPolicy"]["tls"] == {
        "mode": "SIMPLE",
        "sni": "mirror.example.com",
        "subjectAltNames": ["mirror.example.com"],
        "caCertificates": "/etc/istio/ca.pem",
    }
    unverified = _istio(HTTPS, MirrorOptions(tls_verify=False))["DestinationRule"]["spec"]["trafficPolicy"]["tls"]
    assert unverified == {"mode": "SIMPLE", "sni": ALB, "insecureSkipVerify": True}
    assert "tls" not in _istio(HTTP)["DestinationRule"]["spec"]["trafficPolicy"], "plain HTTP stays plain"


# ------------------------------------------------------------------------------------ Traefik


def _traefik(endpoint: MirrorEndpoint, options: MirrorOptions | None = None) -> dict:
    options = options or MirrorOptions()
    return parse_yaml(render_traefik(endpoint, options))["http"]


@pytest.mark.parametrize("endpoint", [HTTP, HTTPS], ids=["http", "https"])
def test_traefik_mirroring_service_and_endpoint(endpoint: MirrorEndpoint) -> None:
    http = _traefik(endpoint, MirrorOptions(primary_upstream="shop@docker", sample_percent=40))
    assert http["services"]["wallarm-mirror"]["loadBalancer"]["servers"] == [{"url": endpoint.url}]
    assert http["services"]["wallarm-mirror"]["loadBalancer"]["passHostHeader"] is True
    assert http["services"]["with-wallarm-mirror"]["mirroring"] == {
        "service": "shop@docker",
        "mirrorBody": True,
        "maxBodySize": TRAEFIK_MAX_BODY_BYTES,
        "mirrors": [{"name": "wallarm-mirror", "percent": 40}],
    }
    assert http["routers"]["wallarm-mirror"]["service"] == "with-wallarm-mirror"
    transport = http["serversTransports"]["wallarm-mirror"]
    assert ("serverName" in transport) is endpoint.is_tls


def test_traefik_verifies_tls_by_default() -> None:
    transport = _traefik(HTTPS, MirrorOptions(tls_ca_file="/etc/traefik/ca.pem"))["serversTransports"]["wallarm-mirror"]
    assert (transport["serverName"], transport["insecureSkipVerify"], transport["rootCAs"]) == (
        ALB,
        False,
        ["/etc/traefik/ca.pem"],
    )
    assert _traefik(HTTPS, MirrorOptions(tls_verify=False))["serversTransports"]["wallarm-mirror"]["insecureSkipVerify"]


@pytest.mark.parametrize(
    ("locations", "hosts", "rule"),
    [
        (("/",), (), "PathPrefix(`/`)"),
        (("/api", "/login"), (), "PathPrefix(`/api`) || PathPrefix(`/login`)"),
        (("/api",), ("shop.example.com",), "Host(`shop.example.com`) && PathPrefix(`/api`)"),
        (
            ("/api", "/login"),
            ("a.example.com", "b.example.com"),
            "(Host(`a.example.com`) || Host(`b.example.com`)) && (PathPrefix(`/api`) || PathPrefix(`/login`))",
        ),
    ],
)
def test_traefik_router_rule_from_locations_and_hosts(locations: tuple, hosts: tuple, rule: str) -> None:
    assert _traefik(HTTP, MirrorOptions(locations=locations, hosts=hosts))["routers"]["wallarm-mirror"]["rule"] == rule


@pytest.mark.parametrize(
    ("percent", "traefik_percent", "noted"),
    [(50, 50, False), (12.5, 13, True), (12.49, 12, True), (0.4, 1, True), (0.01, 1, True), (99.5, 100, True)],
)
def test_traefik_takes_whole_percents_rounded_half_up_never_zero(
    percent: float, traefik_percent: int, noted: bool
) -> None:
    text = render_traefik(HTTP, MirrorOptions(sample_percent=percent))
    mirrors = parse_yaml(text)["http"]["services"]["with-wallarm-mirror"]["mirroring"]["mirrors"]
    assert mirrors == [{"name": "wallarm-mirror", "percent": traefik_percent}]
    assert (f"became {traefik_percent}: Traefik mirrors whole percents only" in text) is noted


# ------------------------------------------------------------------------------------ properties


@settings(max_examples=60, deadline=None)
@given(
    hundredths=st.integers(min_value=1, max_value=10_000),
    locations=st.lists(st.from_regex(r"/[a-z0-9_-]{0,12}", fullmatch=True), min_size=1, max_size=4, unique=True),
    https=st.booleans(),
)
def test_any_valid_options_render_parseable_mirroring_config(
    hundredths: int, locations: list[str], https: bool
) -> None:
    locations = [loc for loc in locations if not loc.startswith("/_wallarm_mirror")] or ["/"]
    percent = hundredths / 100
    endpoint = HTTPS if https else HTTP
    options = MirrorOptions(sample_percent=percent, locations=tuple(locations))
    snippets = render_all(endpoint, options)
    assert snippets == render_all(endpoint, options)

    _, routes = _envoy_of(snippets["envoy"])
    fraction = routes[0]["route"]["request_mirror_policies"][0]["runtime_fraction"]["default_value"]
    scale = {"HUNDRED": 1, "TEN_THOUSAND": 100}[fraction["denominator"]]
    assert fraction["numerator"] / scale == pytest.approx(percent)
    assert sum("request_mirror_policies" in route["route"] for route in routes) == len(locations)

    virtual_service = _istio_of(snippets["istio"])["VirtualService"]["spec"]
    assert [r["mirrorPercentage"]["value"] for r in virtual_service["http"] if "mirror" in r] == [
        pytest.approx(percent)
    ] * len(locations)

    traefik = parse_yaml(snippets["traefik"])["http"]
    [traefik_mirror] = traefik["services"]["with-wallarm-mirror"]["mirroring"]["mirrors"]
    traefik_percent = traefik_mirror["percent"]
    assert 1 <= traefik_percent <= 100
    assert abs(traefik_percent - percent) <= 0.5 or traefik_percent == 1
    for text in snippets.values():
        assert "&id" not in text, "no YAML anchors: every pasted block must read on its own"


def test_envoy_and_istio_cap_the_copies_in_flight() -> None:
    """maxConnections becomes Envoy's circuit breakers and Istio's connection pool limits."""
    options = MirrorOptions(max_connections=7)
    cluster, _ = _envoy(HTTP, options)
    [thresholds] = cluster["circuit_breakers"]["thresholds"]
    assert thresholds == {"priority": "DEFAULT", "max_connections": 7, "max_pending_requests": 7, "max_requests": 7}
    documents = parse_yaml_all(render_istio(HTTP, options))
    [rule] = [doc for doc in documents if doc and doc["kind"] == "DestinationRule"]
    pool = rule["spec"]["trafficPolicy"]["connectionPool"]
    assert pool["tcp"]["maxConnections"] == 7
    assert (pool["http"]["http1MaxPendingRequests"], pool["http"]["http2MaxRequests"]) == (7, 7)


def test_oldest_nginx_version_is_one_fact() -> None:
    from wallarm_mirror.mirror.options import NGINX_OLDEST, NGINX_OLDEST_VERSION, parse_nginx_version

    assert parse_nginx_version(NGINX_OLDEST) == NGINX_OLDEST_VERSION
    with pytest.raises(ValueError, match=r"nginx_version='1\.13\.3' is too old"):
        MirrorOptions(nginx_version="1.13.3")
    assert MirrorOptions(nginx_version="1.13.4").nginx == NGINX_OLDEST_VERSION
