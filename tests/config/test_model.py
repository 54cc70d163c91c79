"""Stack config: every bad input ends in a sentence naming its key; defaults are the safe choice."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from tests.conftest import CERT, DEV, TOKEN, as_pulumi_config
from wallarm_mirror.config import ConfigError, StackConfig, parse_stack_config


def bare(values: dict[str, Any]) -> dict[str, str]:
    return {k.split(":", 1)[1]: v for k, v in as_pulumi_config(values).items()}


def parse(secret_keys: frozenset[str] = frozenset({"token"}), **overrides: Any) -> StackConfig:
    values = {k: v for k, v in {**DEV, **overrides}.items() if v is not None}
    return parse_stack_config(bare(values), secret_keys)


def problems(**overrides: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(**overrides)
    return caught.value.problems


def test_dev_like_config_gets_safe_defaults():
    config = parse()
    assert config.mode == "monitoring"
    assert config.token_delivery == "secretsManager"
    assert config.node_version == "6.13" and config.profile.family == "5.x-6.x"
    assert config.instance_type == "t3.medium"
    assert (config.min_size, config.max_size, config.desired_capacity) == (1, 3, 1)
    assert config.cpu_target == 70
    assert config.nodes_subnets == DEV["albSubnetIds"]
    assert config.effective_ssl_policy is None
    assert config.api_host == "api.wallarm.com"
    assert StackConfig.model_fields["deletion_protection"].default is True
    assert config.libdetection is False


def test_ssl_policy_defaults_to_tls13_when_certificate_is_set():
    assert parse(certificateArn=CERT).effective_ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"


BAD_INPUTS = [
    # (key, bad value, words the message must contain)
    ("vpcId", "vpc-123", "is not a VPC id"),
    ("vpcId", None, "required but not set"),
    ("albSubnetIds", ["subnet-0123456789abcdef0"], "an ALB needs at least 2"),
    ("albSubnetIds", ["subnet-0123456789abcdef0", "subnet-0123456789abcdef0"], "more than once"),
    ("albSubnetIds", ["subnet-0123456789abcdef0", "subnet-nope"], "is not a subnet id"),
    ("albSubnetIds", "subnet-0123456789abcdef0", "valid list"),
    ("albSubnetIds", None, "required but not set"),
    ("nodeSubnetIds", [], "is empty"),
    ("nodeSubnetIds", ["subnet-12"], "is not a subnet id"),
    ("nodeSubnetIds", ["subnet-0123456789abcdef0"] * 2, "more than once"),
    ("mirrorSourceCidrs", ["10.0.0.300/24"], "is not a CIDR"),
    ("mirrorSourceCidrs", ["10.0.1.1/24"], "host bits set"),
    ("mirrorSourceCidrs", ["0.0.0.0/0"], "whole world"),
    ("mirrorSourceCidrs", ["::/0"], "whole world"),
    ("mirrorSourceCidrs", ["10.0.1.0/24", "10.0.1.0/24"], "more than once"),
    ("mirrorSourceSecurityGroupIds", ["sg-xyz"], "is not a security group id"),
    ("nodeEgressCidrs", ["not-a-cidr"], "is not a CIDR"),
    ("token", "two words", "whitespace"),
    ("token", "", "is empty"),
    ("token", None, "required but not set"),
    ("tokenDelivery", "s3", "Input should be"),
    ("tokenKmsKeyArn", "alias/mine", "is not a KMS key ARN"),
    ("nodeGroup", "has space", "is not a node group name"),
    ("apiHost", "https://api.wallarm.com", "is not a hostname"),
    ("apiHost", "-bad-.example", "is not a hostname"),
    ("nodeVersion", "6", "is not major.minor"),
    ("nodeVersion", "3.6", "older than 4.0"),
    ("nodeVersion", "8.0", "newer than the node families"),
    ("amiId", "ami-xyz", "is not an AMI id"),
    ("mode", "blocking", "Input should be 'off', 'monitoring', 'safe_blocking' or 'block'"),
    ("instanceType", "large", "does not look like an EC2 instance type"),
    ("instanceType", "m6g.large", "arm64 (Graviton)"),
    ("rootVolumeSize", 4, "greater than or equal to 8"),
    ("minSize", -1, "greater than or equal to 0"),
    ("maxSize", 0, "greater than or equal to 1"),
    ("maxSize", "three", "valid integer"),
    ("desiredCapacity", 9, "above maxSize 3"),
    ("cpuTarget", 0, "greater than 0"),
    ("cpuTarget", 100, "less than 100"),
    ("certificateArn", "arn:aws:iam::123456789012:server-certificate/x", "is not an ACM certificate ARN"),
    ("sslPolicy", "TLS13", "is not an ELB security policy name"),
    ("deletionProtection", "maybe", "valid boolean"),
    ("libdetection", "sometimes", "valid boolean"),
    ("nodePort", 70000, "less than or equal to 65535"),
    ("healthCheckPort", 0, "greater than or equal to 1"),
    ("healthCheckPath", "healthz", "URL path"),
    ("extraPolicyArns", ["CloudWatchAgentServerPolicy"], "is not an IAM policy ARN"),
    ("tags", {"app": "mine"}, "program sets itself"),
    ("tags", {"aws:owner": "x"}, "not starting with 'aws:'"),
    ("tags", ["env=dev"], "valid dictionary"),
    ("alarmsEnabled", "yes please", "valid boolean"),
    ("alarmTopicArn", "ops-oncall", "is not an SNS topic ARN"),
    ("dashboardEnabled", "2", "valid boolean"),
    ("requestsPerNodeTarget", 0, "greater than 0"),
    ("accessLogsBucket", "Corp_Logs", "is not an S3 bucket name"),
    ("accessLogsPrefix", "/logs/", "is not a usable prefix"),
    ("accessLogsPrefix", "x/AWSLogs", "is not a usable prefix"),
    ("accessLogsRetentionDays", 0, "greater than or equal to 1"),
]


@pytest.mark.parametrize(("key", "value", "words"), BAD_INPUTS, ids=[f"{k}={v!r}" for k, v, _ in BAD_INPUTS])
def test_bad_input_is_one_sentence_naming_the_key(key, value, words):
    found = problems(**{key: value})
    assert len(found) == 1, found
    assert found[0].startswith(f"wallarm-mirror:{key}"), found[0]
    assert words in found[0]
    assert "Fix:" in found[0] or "did you mean" in found[0]


def test_bad_value_is_quoted_in_the_message():
    (message,) = problems(vpcId="vpc-123")
    assert "(got 'vpc-123')" in message


def test_min_above_max_names_both_keys_with_their_values():
    found = problems(minSize=4, maxSize=2, desiredCapacity=2)
    assert found == [
        "wallarm-mirror:maxSize: is 2, below minSize 4; raise maxSize or lower minSize (got 2). "
        "Fix: pulumi config set wallarm-mirror:maxSize <value>",
        "wallarm-mirror:desiredCapacity: is 2, below minSize 4 (got 2). "
        "Fix: pulumi config set wallarm-mirror:desiredCapacity <value>",
    ]


def test_a_default_that_conflicts_is_called_the_default():
    max_size, desired = problems(minSize=5)
    assert max_size.startswith("wallarm-mirror:maxSize: is 3, below minSize 5")
    assert "(the default, 3)" in max_size
    assert desired.startswith("wallarm-mirror:desiredCapacity: is 1, below minSize 5 (the default, 1)")


def test_no_mirror_source_at_all_is_refused():
    (message,) = problems(mirrorSourceCidrs=None)
    assert message.startswith("wallarm-mirror:mirrorSourceSecurityGroupIds: no mirror source")
    assert "mirrorSourceCidrs" in message


def test_security_groups_alone_are_enough_sources():
    config = parse(mirrorSourceCidrs=None, mirrorSourceSecurityGroupIds=["sg-0123456789abcdef0"])
    assert config.mirror_source_cidrs == []


def test_ssl_policy_without_certificate_is_refused():
    (message,) = problems(sslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06")
    assert message.startswith("wallarm-mirror:sslPolicy: only applies to an HTTPS listener")


def test_kms_key_with_user_data_delivery_is_refused():
    key = "arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
    (message,) = problems(tokenDelivery="userData", tokenKmsKeyArn=key)
    assert message.startswith("wallarm-mirror:tokenKmsKeyArn: only applies when tokenDelivery is")


def test_topic_without_alarms_is_refused():
    (message,) = problems(alarmsEnabled=False, alarmTopicArn="arn:aws:sns:eu-west-1:123456789012:ops")
    assert message.startswith("wallarm-mirror:alarmTopicArn: only applies when alarmsEnabled is true")


def test_existing_and_created_log_bucket_together_are_refused():
    (message,) = problems(accessLogsBucket="corp-alb-logs", createAccessLogsBucket=True)
    assert message.startswith("wallarm-mirror:createAccessLogsBucket: is true while accessLogsBucket names")


def test_unknown_key_suggests_the_close_one():
    (message,) = problems(vpcID="vpc-0123456789abcdef0")
    assert message == "wallarm-mirror:vpcID: unknown key; did you mean wallarm-mirror:vpcId?"


def test_token_stored_without_secret_is_refused_with_the_command():
    with pytest.raises(ConfigError) as caught:
        parse(secret_keys=frozenset())
    (message,) = caught.value.problems
    assert message.startswith("wallarm-mirror:token: is stored in plain text")
    assert "pulumi config set --secret wallarm-mirror:token" in message
    assert TOKEN not in message


def test_secret_token_value_is_never_shown_in_any_message():
    with pytest.raises(ConfigError) as caught:
        parse(secret_keys=frozenset(), token="bad token with spaces", vpcId="nope")
    text = str(caught.value)
    assert "bad token" not in text and "spaces" not in text
    assert repr(parse().token) == "SecretStr('**********')"


def test_all_problems_of_one_config_are_reported_together():
    with pytest.raises(ConfigError) as caught:
        parse(vpcId="nope", instanceType="huge", mode="loud", cpuTarget=150, colour="blue")
    keys = sorted(p.split(":")[1] for p in caught.value.problems)
    assert keys == ["colour", "cpuTarget", "instanceType", "mode", "vpcId"]
    assert str(caught.value).startswith("the stack config has 5 problems:\n  - wallarm-mirror:")


@pytest.mark.parametrize("mode", ["safe_blocking", "block"])
def test_blocking_modes_are_accepted_with_a_warning(mode):
    notes = parse(mode=mode).advice("dev")
    assert any(n.startswith(f"wallarm-mirror:mode is {mode}") and "can only monitor" in n for n in notes)


def test_monitoring_with_tls_and_stored_token_gives_no_warning():
    assert parse(certificateArn=CERT, endpointHostname="mirror.internal.example.com").advice("dev") == []


def test_config_values_arrive_as_json_text_like_the_cli_sends_them():
    raw = bare(DEV) | {"minSize": "2", "maxSize": "4", "desiredCapacity": "2", "libdetection": "true"}
    config = parse_stack_config(raw, {"token"})
    assert (config.min_size, config.libdetection) == (2, True)
    assert json.loads(raw["albSubnetIds"]) == config.alb_subnet_ids


def test_snippet_text_that_looks_like_json_stays_text():
    assert parse(serverSnippet="123").server_snippet == "123"


def test_bad_config_stops_the_program_before_any_resource(run_stack):
    with pytest.raises(pulumi.RunError) as caught:
        run_stack(DEV, vpcId="vpc-1", maxSize=0)
    text = str(caught.value)
    assert "wallarm-mirror:vpcId" in text and "wallarm-mirror:maxSize" in text
    assert TOKEN not in text


def test_bad_config_registers_nothing(run_stack, monkeypatch: pytest.MonkeyPatch):
    from wallarm_mirror.offline import engine as offline

    recorded: list = []
    original = offline.RecordingMocks.new_resource

    def spy(self, args):
        recorded.append(args.typ)
        return original(self, args)

    monkeypatch.setattr(offline.RecordingMocks, "new_resource", spy)
    with pytest.raises(pulumi.RunError):
        run_stack(DEV, mode="loud")
    assert recorded == []
