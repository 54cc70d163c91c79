"""The nativeNode analyser as `pulumi up` would register it: NLB, traffic mirroring, enrolment, nodes."""

from __future__ import annotations

import base64
import json

import pytest
from pulumi.runtime import rpc

from tests.conftest import NODE_SUBNETS, TOKEN, script_and_files
from wallarm_mirror.offline.engine import OfflineRun, unwrap

ENIS = ["eni-0123456789abcdef0", "eni-0123456789abcdef1"]
# A stack with fixed interfaces only, and one that enrols tagged instances too.
STATIC = {
    "analyzer": "nativeNode",
    "vpcId": "vpc-0123456789abcdef0",
    "nodeSubnetIds": NODE_SUBNETS[:2],
    "mirrorSourceCidrs": ["10.0.16.0/20"],
    "token": TOKEN,
    "nodeGroup": "aws-mirror",
    "trafficMirrorSourceEniIds": ENIS,
    "deletionProtection": False,
}
TAGGED = {
    **STATIC,
    "trafficMirrorSourceEniIds": [],
    "trafficMirrorSourceTags": {"role": "web"},
    "trafficMirrorPorts": [80, 8080],
}


@pytest.fixture(params=["static", "tagged"])
def stack(request: pytest.FixtureRequest, run_stack) -> tuple[str, OfflineRun]:
    return request.param, run_stack(STATIC if request.param == "static" else TAGGED)


def boot_script(run: OfflineRun) -> str:
    return base64.b64decode(unwrap(run.only("LaunchTemplate").inputs["userData"])).decode()


# --- load balancer -----------------------------------------------------------------------------


def test_nlb_is_internal_network_cross_zone_in_the_node_subnets(stack):
    _, run = stack
    nlb = run.only("LoadBalancer").inputs
    assert (nlb["loadBalancerType"], nlb["internal"]) == ("network", True)
    assert nlb["enableCrossZoneLoadBalancing"] is True
    assert nlb["subnets"] == NODE_SUBNETS[:2]
    assert nlb["enableDeletionProtection"] is False


def test_udp_4789_listener_forwards_to_the_node_target_group(stack):
    _, run = stack
    listener = run.only("Listener").inputs
    assert (listener["port"], listener["protocol"]) == (4789, "UDP")
    assert listener["defaultActions"] == [
        {"type": "forward", "targetGroupArn": run.state_of("TargetGroup", "wallarm-mirror-vxlan-tg")["arn"]}
    ]


def test_target_group_is_udp_sticky_by_source_ip_and_checks_the_documented_ready_endpoint(stack):
    _, run = stack
    group = run.only("TargetGroup").inputs
    assert (group["port"], group["protocol"], group["targetType"]) == (4789, "UDP", "instance")
    assert group["stickiness"] == {"enabled": True, "type": "source_ip"}
    check = group["healthCheck"]
    assert (check["protocol"], check["port"], check["path"]) == ("HTTP", "8080", "/ready")
    # A number, as the SDK types it (issue 25): it was the string "30", which only a coercion by the
    # provider would have saved. (The engine carries numbers as doubles: 30.0.)
    delay = group["deregistrationDelay"]
    assert isinstance(delay, int | float) and not isinstance(delay, bool) and delay == 30


def test_node_group_reports_its_metrics_by_name(stack):
    """enabled_metrics are the SDK's Metric enum members now (issue 25); the plan holds their names."""
    _, run = stack
    metrics = run.only("Group").inputs["enabledMetrics"]
    assert "GroupInServiceInstances" in metrics and "GroupDesiredCapacity" in metrics
    assert all(type(m) is str for m in metrics)


# --- traffic mirroring -------------------------------------------------------------------------


def test_mirror_target_is_the_nlb(stack):
    _, run = stack
    target = run.only("TrafficMirrorTarget").inputs
    assert target["networkLoadBalancerArn"] == run.state_of("LoadBalancer", "wallarm-mirror-nlb")["arn"]
    assert "networkInterfaceId" not in target


def test_filter_accepts_exactly_tcp_to_and_from_each_port(stack):
    name, run = stack
    ports = [80] if name == "static" else [80, 8080]
    filter_id = run.id_of("TrafficMirrorFilter", "wallarm-mirror-filter")
    rules = [r.inputs for r in run.all("TrafficMirrorFilterRule")]
    assert all(r["trafficMirrorFilterId"] == filter_id for r in rules)
    assert all((r["ruleAction"], r["protocol"]) == ("accept", 6) for r in rules)

    def ports_of(side: dict | None) -> tuple[int, int] | None:
        return None if side is None else (int(side["fromPort"]), int(side["toPort"]))

    seen = sorted(
        (
            r["sourceCidrBlock"],
            r["trafficDirection"],
            ports_of(r.get("destinationPortRange")),
            ports_of(r.get("sourcePortRange")),
        )
        for r in rules
    )
    # IPv4 and (the default) IPv6: dual-stack sources' IPv6 copies pass the filter too.
    assert seen == sorted(
        (anywhere, *side)
        for anywhere in ("0.0.0.0/0", "::/0")
        for side in [("ingress", (p, p), None) for p in ports] + [("egress", None, (p, p)) for p in ports]
    )
    assert all(r["sourceCidrBlock"] == r["destinationCidrBlock"] for r in rules)
    assert "networkServices" not in run.only("TrafficMirrorFilter").inputs


def test_filter_is_ipv4_only_with_ipv6_off_and_keeps_the_ipv4_rule_names(run_stack):
    both = run_stack(TAGGED)
    ipv4 = run_stack(TAGGED, trafficMirrorIpv6=False, trafficMirrorPorts=[80, 443, 3000, 8080, 8443])
    assert {r.inputs["sourceCidrBlock"] for r in ipv4.all("TrafficMirrorFilterRule")} == {"0.0.0.0/0"}
    assert len(ipv4.all("TrafficMirrorFilterRule")) == 10  # AWS's limit per filter, exactly
    assert len(both.all("TrafficMirrorFilterRule")) == 8
    # Turning IPv6 on renames no IPv4 rule and leaves the filter's description (a new one would
    # replace the filter under the sessions): the names and numbers the IPv4-only filter had.
    v4_of_both = {
        r.name: int(r.inputs["ruleNumber"])
        for r in both.all("TrafficMirrorFilterRule")
        if r.inputs["sourceCidrBlock"] == "0.0.0.0/0"
    }
    assert v4_of_both == {
        "wallarm-mirror-filter-egress-tcp-80": 100,
        "wallarm-mirror-filter-egress-tcp-8080": 101,
        "wallarm-mirror-filter-ingress-tcp-80": 100,
        "wallarm-mirror-filter-ingress-tcp-8080": 101,
    }
    assert sorted(r.name for r in both.all("TrafficMirrorFilterRule") if r.name not in v4_of_both) == [
        "wallarm-mirror-filter-egress-tcp6-80",
        "wallarm-mirror-filter-egress-tcp6-8080",
        "wallarm-mirror-filter-ingress-tcp6-80",
        "wallarm-mirror-filter-ingress-tcp6-8080",
    ]
    assert both.only("TrafficMirrorFilter").inputs["description"].endswith(": TCP 80, 8080, both directions")


def test_filter_rule_numbers_are_unique_per_filter_and_direction(run_stack):
    """AWS: a rule number "must be unique for each Traffic Mirror rule in a given direction" (EC2 API,
    CreateTrafficMirrorFilterRule); two equal numbers make `pulumi up` fail on a multi-port stack."""
    run = run_stack(TAGGED, trafficMirrorPorts=[80, 8080])
    numbers: dict[tuple[str, str], list[int]] = {}
    for rule in run.all("TrafficMirrorFilterRule"):
        key = (rule.inputs["trafficMirrorFilterId"], rule.inputs["trafficDirection"])
        numbers.setdefault(key, []).append(int(rule.inputs["ruleNumber"]))
    assert {direction for _, direction in numbers} == {"ingress", "egress"}
    for (_, direction), seen in numbers.items():
        assert len(seen) == len(set(seen)) > 1, f"{direction} rule numbers repeat: {sorted(seen)}"
        assert all(1 <= n <= 32766 for n in seen)  # AWS's range for a rule number


def test_one_session_per_listed_interface_with_vni_number_and_stack_description(run_stack):
    run = run_stack(STATIC, trafficMirrorVni=777, trafficMirrorSessionNumber=3)
    sessions = sorted((r.inputs for r in run.all("TrafficMirrorSession")), key=lambda s: s["networkInterfaceId"])
    assert [s["networkInterfaceId"] for s in sessions] == ENIS
    for session in sessions:
        assert session["trafficMirrorTargetId"] == run.id_of("TrafficMirrorTarget", "wallarm-mirror-target")
        assert session["trafficMirrorFilterId"] == run.id_of("TrafficMirrorFilter", "wallarm-mirror-filter")
        assert (session["virtualNetworkId"], session["sessionNumber"]) == (777, 3)
        assert session["description"] == "wallarm-mirror test: copy to the Wallarm Native Nodes"
    assert sorted(run.outputs["traffic_mirror_session_ids"]) == sorted(
        run.id_of("TrafficMirrorSession", f"wallarm-mirror-session-{eni}") for eni in ENIS
    )


# --- enrolment of tagged instances -------------------------------------------------------------


def test_static_stack_has_no_enrolment_function(run_stack):
    run = run_stack(STATIC)
    assert run.all("Function") == [] and run.all("EventRule") == []


def test_enrolment_function_runs_on_running_instances_and_on_a_schedule(run_stack):
    run = run_stack(TAGGED)
    function = run.only("Function").inputs
    variables = function["environment"]["variables"]
    assert variables["TRAFFIC_MIRROR_SOURCE_TAGS"] == '{"role": "web"}'
    assert variables["TRAFFIC_MIRROR_TARGET_ID"] == run.id_of("TrafficMirrorTarget", "wallarm-mirror-target")
    assert variables["TRAFFIC_MIRROR_FILTER_ID"] == run.id_of("TrafficMirrorFilter", "wallarm-mirror-filter")
    assert (variables["TRAFFIC_MIRROR_VNI"], variables["TRAFFIC_MIRROR_SESSION_NUMBER"]) == ("4242", "1")
    assert variables["TRAFFIC_MIRROR_METHOD"] == "auto", "the default: sessions where AWS can, the script elsewhere"
    assert function["handler"] == "enrolment.handler" and function["runtime"].startswith("python3")
    rules = {r.name: r.inputs for r in run.all("EventRule")}
    pattern = json.loads(rules["wallarm-mirror-enrolment-running"]["eventPattern"])
    assert pattern == {
        "detail": {"state": ["running"]},
        "detail-type": ["EC2 Instance State-change Notification"],
        "source": ["aws.ec2"],
    }
    assert rules["wallarm-mirror-enrolment-reconcile"]["scheduleExpression"] == "rate(5 minutes)"
    # The schedule invokes the function; launch events wait in a queue that feeds it in batches.
    targets = {t.name: t.inputs["arn"] for t in run.all("EventTarget")}
    assert targets == {
        "wallarm-mirror-enrolment-reconcile-target": run.state_of("Function", "wallarm-mirror-enrolment")["arn"],
        "wallarm-mirror-enrolment-running-target": run.state_of("Queue", "wallarm-mirror-enrolment-events")["arn"],
    }
    [permission] = run.all("Permission")
    assert permission.inputs["sourceArn"] == run.state_of("EventRule", "wallarm-mirror-enrolment-reconcile")["arn"]


def test_enrolment_logs_to_its_own_group_with_retention_and_dead_letters_to_an_encrypted_queue(run_stack):
    run = run_stack(TAGGED)
    logs = run.only("LogGroup").inputs
    assert logs["name"] == "/wallarm-mirror/test/enrolment" and logs["retentionInDays"] == 30
    function = run.only("Function").inputs
    assert function["loggingConfig"]["logGroup"] == logs["name"]
    assert function["deadLetterConfig"]["targetArn"] == run.state_of("Queue", "wallarm-mirror-enrolment-dlq")["arn"]
    assert all(queue.inputs["sqsManagedSseEnabled"] is True for queue in run.all("Queue"))


def test_enrolment_role_may_only_manage_its_own_sessions_and_write_its_own_logs(run_stack):
    run = run_stack(TAGGED)
    document = json.loads(run.only_named("RolePolicy", "wallarm-mirror-enrolment-policy").inputs["policy"])
    actions = {
        a for s in document["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert "ec2:CreateTrafficMirrorSession" in actions and "ec2:DeleteTrafficMirrorSession" in actions
    assert not any(a.endswith("*") for a in actions), "no wildcard actions"
    assert "logs:CreateLogGroup" not in actions
    logs = next(s for s in document["Statement"] if s.get("Sid") == "WriteOwnLogs")
    assert logs["Resource"] == run.state_of("LogGroup", "wallarm-mirror-enrolment-logs")["arn"] + ":*"
    deletes = [s for s in document["Statement"] if "ec2:DeleteTrafficMirrorSession" in json.dumps(s["Action"])]
    assert deletes and all("Condition" in s for s in deletes), "deletes only sessions carrying our tag"


# --- nodes ---------------------------------------------------------------------------------------


def test_nodes_accept_vxlan_only_from_the_sources_and_health_checks_only_from_the_nlb_subnets(stack):
    _, run = stack
    group_id = run.id_of("SecurityGroup", "wallarm-mirror-node-sg")
    ingress = [r.inputs for r in run.all("SecurityGroupIngressRule") if r.inputs["securityGroupId"] == group_id]
    vxlan = [r for r in ingress if r["ipProtocol"] == "udp"]
    assert [(r["fromPort"], r["toPort"], r["cidrIpv4"]) for r in vxlan] == [(4789, 4789, "10.0.16.0/20")]
    health = [r for r in ingress if r["ipProtocol"] == "tcp"]
    assert sorted(r["fromPort"] for r in health) == [8080, 8080]
    assert all(r["cidrIpv4"].startswith("10.0.") and r["cidrIpv4"].endswith("/24") for r in health)
    assert not any(r.get("cidrIpv4") == "0.0.0.0/0" for r in ingress)
    assert not any(r["fromPort"] <= 22 <= r["toPort"] for r in ingress)


def test_node_egress_is_exactly_tcp_443_to_each_node_egress_cidr(run_stack):
    cidrs = ["0.0.0.0/0", "::/0", "203.0.113.0/24"]
    run = run_stack(STATIC, nodeEgressCidrs=cidrs)
    group_id = run.id_of("SecurityGroup", "wallarm-mirror-node-sg")
    egress = [r.inputs for r in run.all("SecurityGroupEgressRule") if r.inputs["securityGroupId"] == group_id]
    assert sorted(r.get("cidrIpv4") or r["cidrIpv6"] for r in egress) == sorted(cidrs)
    for rule in egress:
        assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 443, 443), rule
        assert "referencedSecurityGroupId" not in rule and "prefixListId" not in rule
    assert all(("cidrIpv4" in r) != ("cidrIpv6" in r) for r in egress)


def test_graviton_nodes_run_the_arm64_debian_image_and_the_aarch64_installer(run_stack):
    run = run_stack(STATIC, instanceType="c7g.large")
    ((_, call),) = [c for c in run.mocks.calls if c[0] == "aws:ec2/getAmi:getAmi"]
    filters = {f["name"]: f["values"] for f in call["filters"]}
    assert call["owners"] == ["136693071363"]
    assert filters["name"] == ["debian-12-arm64-*"] and filters["architecture"] == ["arm64"]
    assert "aio-native-0.25.12.aarch64.sh" in boot_script(run)


def test_x86_nodes_run_the_amd64_debian_image(run_stack):
    run = run_stack(STATIC)
    ((_, call),) = [c for c in run.mocks.calls if c[0] == "aws:ec2/getAmi:getAmi"]
    filters = {f["name"]: f["values"] for f in call["filters"]}
    assert filters["name"] == ["debian-12-amd64-*"] and filters["architecture"] == ["x86_64"]
    assert "aio-native-0.25.12.x86_64.sh" in boot_script(run)


def test_nodes_keep_the_asg_shape_imdsv2_encrypted_root_elb_health(stack):
    _, run = stack
    template = run.only("LaunchTemplate").inputs
    assert template["metadataOptions"]["httpTokens"] == "required"
    assert template["metadataOptions"]["httpPutResponseHopLimit"] == 1
    assert template["blockDeviceMappings"][0]["ebs"]["encrypted"] == "true"
    group = run.only("Group").inputs
    assert group["healthCheckType"] == "ELB"
    assert group["targetGroupArns"] == [run.state_of("TargetGroup", "wallarm-mirror-vxlan-tg")["arn"]]


def test_boot_script_fetches_the_stored_token_and_never_holds_it(stack):
    _, run = stack
    user_data = run.only("LaunchTemplate").inputs["userData"]
    assert not rpc.is_rpc_secret(user_data)
    script = script_and_files(boot_script(run))
    assert TOKEN not in script
    assert "secretsmanager" in script.lower()
    assert "group=aws-mirror" in script


def test_inline_token_makes_the_native_user_data_secret(run_stack):
    run = run_stack(STATIC, tokenDelivery="userData")
    assert rpc.is_rpc_secret(run.only("LaunchTemplate").inputs["userData"])


# --- alarms and outputs ------------------------------------------------------------------------


def test_native_dashboard_shows_nlb_traffic_healthy_nodes_and_enrolment(run_stack):
    run = run_stack(TAGGED, dashboardEnabled=True, stack="staging")
    dashboard = run.only("Dashboard").inputs
    assert dashboard["dashboardName"] == "wallarm-mirror-staging"
    body = json.loads(dashboard["dashboardBody"])
    metrics = [m for w in body["widgets"] for m in w["properties"]["metrics"]]
    nlb = run.state_of("LoadBalancer", "wallarm-mirror-nlb")["arnSuffix"]
    group = run.state_of("TargetGroup", "wallarm-mirror-vxlan-tg")["arnSuffix"]
    asg = run.state_of("Group", run.only("Group").name)["name"]
    assert nlb.startswith("net/") and group.startswith("targetgroup/")
    assert metrics == [
        ["AWS/NetworkELB", "ProcessedBytes", "LoadBalancer", nlb],
        ["AWS/NetworkELB", "ProcessedPackets", "LoadBalancer", nlb],
        ["AWS/NetworkELB", "HealthyHostCount", "TargetGroup", group, "LoadBalancer", nlb],
        ["AWS/NetworkELB", "UnHealthyHostCount", "TargetGroup", group, "LoadBalancer", nlb],
        ["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", asg],
        # The enrolment function's own metrics: namespace, names and dimension are its contract.
        ["WallarmMirror", "EnrolmentPending", "Stack", "staging"],
        ["WallarmMirror", "EnrolmentFailed", "Stack", "staging"],
    ]
    assert {w["properties"]["region"] for w in body["widgets"]} == {"eu-west-1"}
    assert run.outputs["dashboard_name"] == "wallarm-mirror-staging"


def test_native_dashboard_without_tagged_sources_has_no_enrolment_widget(run_stack):
    run = run_stack(STATIC, dashboardEnabled=True)
    body = json.loads(run.only("Dashboard").inputs["dashboardBody"])
    names = [m[1] for w in body["widgets"] for m in w["properties"]["metrics"]]
    assert names == ["ProcessedBytes", "ProcessedPackets", "HealthyHostCount", "UnHealthyHostCount", "CPUUtilization"]


def test_no_native_dashboard_unless_dashboard_enabled(run_stack):
    for run in (run_stack(TAGGED), run_stack(TAGGED, dashboardEnabled=False)):
        assert run.all("Dashboard") == []
        assert run.all("MetricAlarm")  # the alarms stay: only the dashboard is off
        assert run.outputs.get("dashboard_name") is None


def test_alarms_watch_the_udp_target_group_and_the_enrolment_function(run_stack):
    run = run_stack(TAGGED)
    alarms = {r.inputs["name"].removeprefix("wallarm-mirror-test-"): r.inputs for r in run.all("MetricAlarm")}
    assert set(alarms) == {
        "no-healthy-nodes",
        "unhealthy-nodes",
        "cpu-high",
        "enrolment-errors",
        "enrolment-dead-letters",
        "enrolment-pending",
    }
    healthy = alarms["no-healthy-nodes"]
    assert healthy["namespace"] == "AWS/NetworkELB"
    assert healthy["dimensions"]["LoadBalancer"].startswith("net/")
    assert healthy["dimensions"]["TargetGroup"].startswith("targetgroup/")
    assert alarms["enrolment-errors"]["dimensions"] == {
        "FunctionName": run.state_of("Function", "wallarm-mirror-enrolment")["name"]
    }


def test_static_stack_alarms_have_no_enrolment_alarms(run_stack):
    names = {r.inputs["name"] for r in run_stack(STATIC).all("MetricAlarm")}
    assert names == {f"wallarm-mirror-test-{s}" for s in ("no-healthy-nodes", "unhealthy-nodes", "cpu-high")}


def test_outputs_name_every_id_a_user_wires_elsewhere(stack):
    name, run = stack
    expected = {
        "nlb_arn",
        "nlb_dns_name",
        "target_group_arn",
        "traffic_mirror_target_id",
        "traffic_mirror_filter_id",
        "traffic_mirror_session_ids",
        # What a spoke reads from a hub (issue 23).
        "traffic_mirror_target_arn",
        "nlb_zone_addresses",
        "traffic_mirror_vni",
        "traffic_mirror_ports",
        "mirror_source_cidrs",
        "asg_name",
        "launch_template_id",
        "launch_template_version",
        "node_role_arn",
        "ami_id",
        "node_security_group_id",
        "token_store_arn",
        "alarm_topic_arn",
    }
    if name == "tagged":
        expected |= {"enrolment_function_name", "host_mirror_document_name", "host_mirror_association_id"}
    assert set(run.outputs) == expected


def test_no_alb_and_no_web_tier_config_on_a_native_stack(stack):
    _, run = stack
    assert [r.inputs["loadBalancerType"] for r in run.all("LoadBalancer")] == ["network"]
    assert "mirror_configs" not in run.outputs and "mirror_endpoint" not in run.outputs
