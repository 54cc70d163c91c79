"""The web tier's mirroring configs as stack outputs and through `python -m wallarm_mirror mirror-config`."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import CERT, DEV, as_pulumi_config
from wallarm_mirror.__main__ import main
from wallarm_mirror.config import ConfigError, parse_stack_config
from wallarm_mirror.mirror import MirrorEndpoint, MirrorOptions, render_all

SERVERS = ["nginx", "envoy", "istio", "traefik"]


def test_outputs_hold_every_servers_config_for_the_real_endpoint(run_stack):
    run = run_stack(DEV)
    configs = run.outputs["mirror_configs"]
    assert sorted(configs) == sorted(SERVERS)
    endpoint = MirrorEndpoint.parse(run.outputs["mirror_endpoint"])
    assert configs == render_all(endpoint, MirrorOptions())
    assert f"server {run.outputs['alb_dns_name']}:8445 max_conns=32 max_fails=0;" in configs["nginx"]


def test_mirror_options_from_config_reach_the_outputs(run_stack):
    options = {"samplePercent": 25, "locations": ["/api"], "primaryUpstream": "shop", "hosts": ["shop.example.com"]}
    run = run_stack(DEV, mirrorOptions=options)
    configs = run.outputs["mirror_configs"]
    expected = MirrorOptions(
        sample_percent=25, locations=("/api",), primary_upstream="shop", hosts=("shop.example.com",)
    )
    assert configs == render_all(MirrorEndpoint.parse(run.outputs["mirror_endpoint"]), expected)
    traefik = yaml.safe_load(configs["traefik"])
    assert traefik["http"]["services"]["with-wallarm-mirror"]["mirroring"]["mirrors"][0]["percent"] == 25
    assert "split_clients" in configs["nginx"]


def test_endpoint_hostname_becomes_the_https_mirror_endpoint(run_stack):
    run = run_stack(DEV, certificateArn=CERT, endpointHostname="mirror.internal.example.com")
    assert run.outputs["mirror_endpoint"] == "https://mirror.internal.example.com:8445"
    assert "proxy_ssl_name mirror.internal.example.com;" in run.outputs["mirror_configs"]["nginx"]
    assert not any("endpointHostname" in w for w in run.warnings)


def test_tls_without_endpoint_hostname_warns():
    # The config's advice, which the plan shows as it is (tests/components/test_operations.py).
    raw = {key.split(":", 1)[1]: value for key, value in as_pulumi_config({**DEV, "certificateArn": CERT}).items()}
    config = parse_stack_config(raw, {"token"})
    assert any(w.startswith("wallarm-mirror:endpointHostname is not set") for w in config.advice("test"))


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"samplePercent": 0}, "samplePercent=0"),
        ({"locations": ["api"]}, "locations"),
        ({"primaryUpstream": "http://app:8080"}, "primaryUpstream"),
        ({"sample": 5}, "unknown key(s) sample"),
    ],
)
def test_bad_mirror_options_are_refused_naming_the_key(options, words):
    raw = {"vpcId": DEV["vpcId"], "albSubnetIds": '["subnet-0123456789abcdef0","subnet-0123456789abcdef1"]'}
    raw |= {"mirrorSourceCidrs": '["10.0.0.0/16"]', "token": "t", "mirrorOptions": __import__("json").dumps(options)}
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw, {"token"})
    (message,) = caught.value.problems
    assert message.startswith("wallarm-mirror:mirrorOptions: ")
    assert words in message
    assert "sample_percent" not in message and "primary_upstream" not in message


def test_bad_endpoint_hostname_is_refused():
    raw = {"vpcId": DEV["vpcId"], "albSubnetIds": '["subnet-0123456789abcdef0","subnet-0123456789abcdef1"]'}
    raw |= {"mirrorSourceCidrs": '["10.0.0.0/16"]', "token": "t", "endpointHostname": "https://x"}
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw, {"token"})
    assert caught.value.problems[0].startswith("wallarm-mirror:endpointHostname: 'https://x' is not a DNS name")


def test_cli_prints_the_stacks_config_for_one_server(capsys):
    assert main(["mirror-config", "--stack", "prod", "--server", "istio"]) == 0
    documents = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    entry = next(d for d in documents if d["kind"] == "ServiceEntry")
    assert entry["spec"]["hosts"] == ["wallarm-mirror.prod.internal.example.com"]
    service = next(d for d in documents if d["kind"] == "VirtualService")
    assert service["spec"]["http"][0]["mirrorPercentage"] == {"value": 10.0}


def test_cli_renders_for_a_given_endpoint_without_running_the_program(capsys):
    assert main(["mirror-config", "--server", "nginx", "--endpoint", "http://10.0.5.9:8445"]) == 0
    assert "server 10.0.5.9:8445 max_conns=32 max_fails=0;" in capsys.readouterr().out


def test_cli_refuses_a_bad_endpoint(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["mirror-config", "--server", "envoy", "--endpoint", "ftp://x"])
    assert exited.value.code == 2
    assert "has scheme 'ftp'" in capsys.readouterr().err


def test_cli_tries_options_without_a_stack_file_and_warns_as_plan_does(tmp_path, capsys) -> None:
    """--option needs no stack file; an HTTPS endpoint on the ALB's own name gets plan's TLS warning."""
    url = "https://internal-x.eu-west-1.elb.amazonaws.com:8445"
    argv = ["mirror-config", "--server", "nginx", "--project-dir", str(tmp_path), "--endpoint", url]
    assert main([*argv, "--option", "samplePercent=10", "--option", "locations=[/api]"]) == 0
    out, err = capsys.readouterr()
    assert "Mirrors 10% of /api." in out
    assert "endpointHostname" in err and err.startswith("warning: ")
    with pytest.raises(SystemExit):
        main([*argv, "--option", "samplePercent=0"])
    assert "samplePercent=0 is out of range" in capsys.readouterr().err
