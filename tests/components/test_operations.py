"""Operations: alarms, access logs, request-based scaling, dashboard, production warnings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import DEV, PROD, as_pulumi_config, run_values
from wallarm_mirror.components.access_logs import ELB_LOG_ACCOUNTS, access_log_bucket_policy
from wallarm_mirror.components.alarms import ALARMS
from wallarm_mirror.config import parse_stack_config
from wallarm_mirror.offline.engine import OfflineFacts, OfflineRun

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ops-oncall"


def alarm(run: OfflineRun, suffix: str) -> dict:
    return run.only_named("MetricAlarm", f"wallarm-mirror-{suffix}").inputs


def suffixes(run: OfflineRun) -> tuple[str, str]:
    alb = run.state_of("LoadBalancer", "wallarm-mirror-alb")["arnSuffix"]
    tg = run.state_of("TargetGroup", "wallarm-mirror-tg")["arnSuffix"]
    return alb, tg


EXPECTED = {
    # suffix: (namespace, metric, statistic, comparison, threshold, period, periods, dimension keys)
    "no-healthy-nodes": ("AWS/ApplicationELB", "HealthyHostCount", "Minimum", "LessThanThreshold", 1, 60, 3, "tg"),
    "unhealthy-nodes": ("AWS/ApplicationELB", "UnHealthyHostCount", "Maximum", "GreaterThanThreshold", 0, 60, 10, "tg"),
    "cpu-high": ("AWS/EC2", "CPUUtilization", "Average", "GreaterThanThreshold", 85, 300, 3, "asg"),
    "target-5xx": ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", "GreaterThanThreshold", 10, 300, 1, "tg"),
    "elb-5xx": ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", "GreaterThanThreshold", 10, 300, 1, "alb"),
    "target-connection-errors": (
        "AWS/ApplicationELB",
        "TargetConnectionErrorCount",
        "Sum",
        "GreaterThanThreshold",
        0,
        300,
        1,
        "tg",
    ),
}


def test_every_alarm_is_tested():
    assert sorted(spec.suffix for spec in ALARMS) == sorted(EXPECTED)


@pytest.mark.parametrize("suffix", sorted(EXPECTED))
def test_alarm_watches_the_real_resources_and_notifies_the_created_topic(run_stack, suffix):
    run = run_stack(DEV, stack="staging")
    namespace, metric, stat, comparison, threshold, period, periods, dims = EXPECTED[suffix]
    inputs = alarm(run, suffix)
    assert inputs["name"] == f"wallarm-mirror-staging-{suffix}"
    assert (inputs["namespace"], inputs["metricName"], inputs["statistic"]) == (namespace, metric, stat)
    assert (inputs["comparisonOperator"], inputs["threshold"]) == (comparison, threshold)
    assert (inputs["period"], inputs["evaluationPeriods"], inputs["datapointsToAlarm"]) == (period, periods, periods)
    alb, tg = suffixes(run)
    expected_dimensions = {
        "tg": {"TargetGroup": tg, "LoadBalancer": alb},
        "alb": {"LoadBalancer": alb},
        "asg": {"AutoScalingGroupName": run.outputs["asg_name"]},
    }[dims]
    assert inputs["dimensions"] == expected_dimensions
    topic = run.only("Topic")
    topic_arn = run.state_of("Topic", topic.name)["arn"]
    assert inputs["alarmActions"] == [topic_arn] and inputs["okActions"] == [topic_arn]
    assert run.outputs["alarm_topic_arn"] == topic_arn


def test_no_healthy_nodes_treats_missing_data_as_breaching(run_stack):
    run = run_stack(DEV)
    assert alarm(run, "no-healthy-nodes")["treatMissingData"] == "breaching"
    assert alarm(run, "cpu-high")["treatMissingData"] == "notBreaching"


def test_created_topic_is_encrypted(run_stack):
    assert run_stack(DEV).only("Topic").inputs["kmsMasterKeyId"] == "alias/aws/sns"


def test_configured_topic_is_used_and_none_is_created(run_stack):
    run = run_stack(DEV, alarmTopicArn=TOPIC)
    assert run.all("Topic") == []
    assert all(a.inputs["alarmActions"] == [TOPIC] for a in run.all("MetricAlarm"))
    assert run.outputs["alarm_topic_arn"] == TOPIC


def test_alarms_can_be_turned_off(run_stack):
    run = run_stack(DEV, alarmsEnabled=False)
    assert run.all("MetricAlarm") == [] and run.all("Topic") == []
    assert "alarm_topic_arn" not in run.outputs


def test_dashboard_shows_requests_health_cpu_and_response_time(run_stack):
    run = run_stack(DEV, dashboardEnabled=True, stack="staging")
    dashboard = run.only("Dashboard").inputs
    assert dashboard["dashboardName"] == "wallarm-mirror-staging"
    body = json.loads(dashboard["dashboardBody"])
    metrics = [m[1] for w in body["widgets"] for m in w["properties"]["metrics"]]
    assert metrics == ["RequestCount", "HealthyHostCount", "UnHealthyHostCount", "CPUUtilization", "TargetResponseTime"]
    alb, tg = suffixes(run)
    assert body["widgets"][1]["properties"]["metrics"][0][3:] == [tg, "LoadBalancer", alb]
    assert {w["properties"]["region"] for w in body["widgets"]} == {"eu-west-1"}
    assert run.outputs["dashboard_name"] == "wallarm-mirror-staging"


def test_no_dashboard_by_default(run_stack):
    assert run_stack(DEV).all("Dashboard") == []


# --- access logs -------------------------------------------------------------------------------


def test_existing_bucket_gets_the_alb_access_logs(run_stack):
    run = run_stack(DEV, accessLogsBucket="corp-alb-logs", accessLogsPrefix="mirror/dev")
    logs = run.only("LoadBalancer").inputs["accessLogs"]
    assert logs == {"bucket": "corp-alb-logs", "prefix": "mirror/dev", "enabled": True}
    assert run.all("Bucket") == []


def test_no_access_logs_by_default(run_stack):
    assert "accessLogs" not in run_stack(DEV).only("LoadBalancer").inputs


def test_created_log_bucket_is_private_encrypted_and_expiring(run_stack):
    run = run_stack(DEV, createAccessLogsBucket=True, accessLogsRetentionDays=30)
    bucket = run.only("Bucket")
    bucket_id = run.id_of("Bucket", bucket.name)
    block = run.only("BucketPublicAccessBlock").inputs
    assert block == {
        "bucket": bucket_id,
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    sse = run.only("BucketServerSideEncryptionConfiguration").inputs["rules"][0]
    assert sse["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert run.only("BucketOwnershipControls").inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    (rule,) = run.only("BucketLifecycleConfiguration").inputs["rules"]
    assert rule["status"] == "Enabled" and rule["expiration"] == {"days": 30}
    assert run.only("LoadBalancer").inputs["accessLogs"] == {
        "bucket": bucket_id,
        "prefix": "wallarm-mirror",
        "enabled": True,
    }
    assert run.outputs["access_logs_bucket"] == bucket_id


@pytest.mark.parametrize(
    ("region", "principal"),
    [
        ("eu-west-1", {"AWS": "arn:aws:iam::156460612806:root"}),
        ("us-east-1", {"AWS": "arn:aws:iam::127311923021:root"}),
        ("ap-southeast-5", {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
    ],
)
def test_log_bucket_policy_lets_only_elb_write_under_the_prefix(region, principal):
    # The policy is a function of the bucket and the stack's account, Region and partition; the plan
    # sets it as it is, with the stack's own (test_the_log_bucket_policy_is_the_stacks_own).
    arn = "arn:aws:s3:::wallarm-mirror-access-logs-0123abcd"
    policy = access_log_bucket_policy(arn, "lb/mirror", "210987654321", region, "aws")
    allow, deny = json.loads(policy)["Statement"]
    assert allow == {
        "Sid": "AlbAccessLogDelivery",
        "Effect": "Allow",
        "Principal": principal,
        "Action": "s3:PutObject",
        "Resource": f"{arn}/lb/mirror/AWSLogs/210987654321/*",
    }
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [arn, f"{arn}/*"]


def test_the_log_bucket_policy_is_the_stacks_own(run_stack):
    """In a Region without an ELB account (the service principal's branch), in another account."""
    facts = OfflineFacts(region="ap-southeast-5", account="210987654321")
    run = run_stack(DEV, facts=facts, createAccessLogsBucket=True, accessLogsPrefix="lb/mirror")
    arn = run.state_of("Bucket", run.only("Bucket").name)["arn"]
    assert arn.startswith("arn:aws:s3:::")
    policy = run.only("BucketPolicy").inputs["policy"]
    assert policy == access_log_bucket_policy(arn, "lb/mirror", "210987654321", "ap-southeast-5", "aws")
    [allow, _] = json.loads(policy)["Statement"]
    assert allow["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    assert allow["Resource"] == f"{arn}/lb/mirror/AWSLogs/210987654321/*"


def test_elb_account_table_has_the_regions_opened_before_august_2022():
    assert len(ELB_LOG_ACCOUNTS) == 24
    assert all(len(account) == 12 and account.isdigit() for account in ELB_LOG_ACCOUNTS.values())


# --- scaling -----------------------------------------------------------------------------------


def test_request_based_scaling_tracks_requests_per_node(run_stack):
    run = run_stack(DEV, requestsPerNodeTarget=1200)
    policy = run.only_named("Policy", "wallarm-mirror-request-scaling").inputs
    alb, tg = suffixes(run)
    spec = policy["targetTrackingConfiguration"]["predefinedMetricSpecification"]
    assert spec == {"predefinedMetricType": "ALBRequestCountPerTarget", "resourceLabel": f"{alb}/{tg}"}
    assert policy["targetTrackingConfiguration"]["targetValue"] == 1200
    assert policy["estimatedInstanceWarmup"] == 300
    assert policy["autoscalingGroupName"] == run.outputs["asg_name"]


def test_no_request_scaling_unless_asked(run_stack):
    assert [p.name for p in run_stack(DEV).all("Policy")] == ["wallarm-mirror-cpu-scaling"]


def test_scale_in_protection_is_off_and_warmup_set(run_stack):
    asg = run_stack(DEV).only("Group").inputs
    assert asg["protectFromScaleIn"] is False
    assert asg["defaultInstanceWarmup"] == 300


# --- production warnings -----------------------------------------------------------------------


PROD_WARNINGS = [
    "stack prod looks like production, but wallarm-mirror:minSize is 1",
    "stack prod looks like production, but the nodes have one subnet",
    "stack prod looks like production, but wallarm-mirror:deletionProtection is false",
    "stack prod looks like production, but wallarm-mirror:alarmsEnabled is false",
]


def test_production_stack_with_one_node_one_subnet_no_protection_no_alarms_warns(run_stack):
    run = run_stack(
        DEV, stack="prod", nodeSubnetIds=[DEV["albSubnetIds"][0]], deletionProtection=False, alarmsEnabled=False
    )
    for expected in PROD_WARNINGS:
        assert any(w.startswith(expected) for w in run.warnings), expected
    assert run.resources, "a warning never stops the program"


def advice(stack: str, base: dict[str, Any], **overrides: Any) -> list[str]:
    """The warnings the plan of this stack shows about its settings: the config's advice for the stack's
    name, which the plan passes on as it is (test_the_plan_warns_with_the_advice_for_its_own_stack_name),
    so each name is checked here without planning the stack again."""
    values = {key.split(":", 1)[1]: value for key, value in as_pulumi_config(run_values(base, overrides)).items()}
    return parse_stack_config(values, frozenset({"token"})).advice(stack)


def test_the_plan_warns_with_the_advice_for_its_own_stack_name(run_stack):
    one_zone = {"nodeSubnetIds": [DEV["albSubnetIds"][0]], "alarmsEnabled": False}
    run = run_stack(DEV, stack="staging", **one_zone)
    assert run.warnings == advice("staging", DEV, **one_zone)
    assert not any("looks like production" in w for w in run.warnings)


@pytest.mark.parametrize("stack", ["dev", "staging", "product-demo"])
def test_other_stacks_get_no_production_warning(stack):
    warnings = advice(stack, DEV, nodeSubnetIds=[DEV["albSubnetIds"][0]], alarmsEnabled=False)
    assert warnings and not any("looks like production" in w for w in warnings)


@pytest.mark.parametrize("stack", ["prod", "eu-prod", "production", "prod-2"])
def test_ha_production_stack_gets_no_production_warning(stack):
    warnings = advice(stack, PROD, deletionProtection=True)
    assert not any("looks like production" in w for w in warnings), warnings
    # The same config under an unwise setting does warn under this name.
    assert any(w.startswith(f"stack {stack} looks like production") for w in advice(stack, PROD, minSize=1))


def test_prod_example_plan_shows_alarms_logs_and_request_scaling(capsys):
    from wallarm_mirror.__main__ import main

    assert main(["plan", "--stack", "prod", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    types = [r["type"] for r in document["resources"]]
    assert types.count("aws:cloudwatch/metricAlarm:MetricAlarm") == len(ALARMS)
    assert "aws:sns/topic:Topic" not in types  # prod sends alarms to its existing on-call topic
    assert "aws:s3/bucketPolicy:BucketPolicy" in types and "aws:cloudwatch/dashboard:Dashboard" in types
    names = [r["name"] for r in document["resources"]]
    assert "wallarm-mirror-request-scaling" in names
    assert not any("looks like production" in w for w in document["warnings"])
