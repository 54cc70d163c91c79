"""What `pulumi up` registers, read back from the mock engine after the program ran."""

from __future__ import annotations

import base64
import json

import pytest
from pulumi.runtime import rpc

from tests.conftest import CERT, DEV, NODE_SUBNETS, PROD, SOURCE_SG, SUBNETS, TOKEN, script_and_files
from wallarm_mirror.offline.engine import OfflineFacts, OfflineRun, unwrap


@pytest.fixture(params=["dev", "prod"])
def stack(request: pytest.FixtureRequest, run_stack) -> tuple[str, OfflineRun]:
    return request.param, run_stack(DEV if request.param == "dev" else PROD)


# The stack each test of one node profile plans (nodeVersion added): mode and apiHost set away from
# their defaults reach only cloud-init's flags, which the boot script test reads, so every test of a
# profile reads one run of it.
PROFILED = {**DEV, "apiHost": "us1.api.wallarm.com", "mode": "off"}


def boot_script(run: OfflineRun) -> str:
    user_data = unwrap(run.only("LaunchTemplate").inputs["userData"])
    return base64.b64decode(user_data).decode()


def rules(run: OfflineRun, kind: str, group_name: str) -> list[dict]:
    """The rules of one security group (by its logical name), as captured inputs."""
    group_id = run.id_of("SecurityGroup", group_name)
    return [r.inputs for r in run.all(kind) if r.inputs["securityGroupId"] == group_id]


# --- load balancer -----------------------------------------------------------------------------


def test_alb_is_internal_application_and_drops_invalid_headers(stack):
    name, run = stack
    alb = run.only("LoadBalancer").inputs
    assert alb["internal"] is True
    assert alb["loadBalancerType"] == "application"
    assert alb["dropInvalidHeaderFields"] is True
    assert alb["subnets"] == (SUBNETS[:2] if name == "dev" else SUBNETS)
    assert alb["enableDeletionProtection"] is (name == "prod")


def test_listener_is_8445_http_without_certificate(run_stack):
    listener = run_stack(DEV).only("Listener").inputs
    assert listener["port"] == 8445
    assert listener["protocol"] == "HTTP"
    assert "certificateArn" not in listener and "sslPolicy" not in listener
    assert listener["defaultActions"][0]["type"] == "forward"


def test_listener_is_https_with_tls13_policy_when_certificate_set(run_stack):
    listener = run_stack(PROD).only("Listener").inputs
    assert (listener["port"], listener["protocol"]) == (8445, "HTTPS")
    assert listener["certificateArn"] == CERT
    assert listener["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"


@pytest.mark.parametrize("version", ["4.8", "4.10", "6.13", "7.1"])
def test_listener_stays_on_8445_for_every_node_profile(run_stack, version):
    assert run_stack(PROFILED, nodeVersion=version).only("Listener").inputs["port"] == 8445


@pytest.mark.parametrize(
    ("version", "node_port", "health_port"),
    [("4.8", 8445, "9445"), ("4.10", 8445, "9445"), ("6.13", 80, "9447"), ("7.1", 80, "9447")],
)
def test_target_group_uses_node_profile_ports(run_stack, version, node_port, health_port):
    tg = run_stack(PROFILED, nodeVersion=version).only("TargetGroup").inputs
    assert (tg["port"], tg["protocol"], tg["targetType"]) == (node_port, "HTTP", "instance")
    assert tg["healthCheck"]["port"] == health_port
    assert tg["healthCheck"]["path"] == "/-/healthcheck"
    assert tg["healthCheck"]["protocol"] == "HTTP"
    assert tg["deregistrationDelay"] <= 60


def test_node_port_and_health_check_overrides_reach_target_group_and_node_sg(run_stack):
    run = run_stack(DEV, nodePort=8080, healthCheckPort=8081, healthCheckPath="/ready")
    tg = run.only("TargetGroup").inputs
    assert (tg["port"], tg["healthCheck"]["port"], tg["healthCheck"]["path"]) == (8080, "8081", "/ready")
    node_in = rules(run, "SecurityGroupIngressRule", "wallarm-mirror-node-sg")
    assert sorted(r["fromPort"] for r in node_in) == [8080, 8081]
    script = boot_script(run)
    assert "listen 8080;" in script or "listen 8080;" in script_and_files(script)


# --- security groups ---------------------------------------------------------------------------


def test_alb_accepts_mirror_port_only_from_listed_sources(stack):
    name, run = stack
    ingress = rules(run, "SecurityGroupIngressRule", "wallarm-mirror-alb-sg")
    sources = sorted(r.get("cidrIpv4") or r.get("cidrIpv6") or r["referencedSecurityGroupId"] for r in ingress)
    expected = ["10.0.16.0/20"] if name == "dev" else ["10.40.0.0/19", "2600:1f18:abcd::/56", SOURCE_SG]
    assert sources == sorted(expected)
    assert {(r["fromPort"], r["toPort"], r["ipProtocol"]) for r in ingress} == {(8445, 8445, "tcp")}


def test_no_security_group_rule_opens_to_the_world_or_ssh(stack):
    _, run = stack
    for rule in run.all("SecurityGroupIngressRule"):
        assert rule.inputs.get("cidrIpv4") != "0.0.0.0/0" and rule.inputs.get("cidrIpv6") != "::/0"
        assert not rule.inputs["fromPort"] <= 22 <= rule.inputs["toPort"]
    for group in run.all("SecurityGroup"):
        assert "ingress" not in group.inputs and "egress" not in group.inputs  # no inline rules


def test_nodes_accept_traffic_and_health_ports_only_from_alb(stack):
    _, run = stack
    alb_sg = run.id_of("SecurityGroup", "wallarm-mirror-alb-sg")
    node_in = rules(run, "SecurityGroupIngressRule", "wallarm-mirror-node-sg")
    assert sorted(r["fromPort"] for r in node_in) == [80, 9447]
    assert all(r["referencedSecurityGroupId"] == alb_sg for r in node_in)
    assert all("cidrIpv4" not in r and "cidrIpv6" not in r for r in node_in)


def test_alb_egress_goes_to_nodes_only_and_nodes_egress_is_https(stack):
    _, run = stack
    node_sg = run.id_of("SecurityGroup", "wallarm-mirror-node-sg")
    alb_out = rules(run, "SecurityGroupEgressRule", "wallarm-mirror-alb-sg")
    assert sorted(r["fromPort"] for r in alb_out) == [80, 9447]
    assert all(r["referencedSecurityGroupId"] == node_sg for r in alb_out)
    node_out = rules(run, "SecurityGroupEgressRule", "wallarm-mirror-node-sg")
    assert [(r["fromPort"], r["toPort"], r.get("cidrIpv4")) for r in node_out] == [(443, 443, "0.0.0.0/0")]


# --- launch template ---------------------------------------------------------------------------


def test_launch_template_requires_imdsv2_with_one_hop(stack):
    _, run = stack
    metadata = run.only("LaunchTemplate").inputs["metadataOptions"]
    assert metadata == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
        "instanceMetadataTags": "disabled",
    }


@pytest.mark.parametrize("root_device", ["/dev/xvda", "/dev/sda1"])
def test_root_volume_is_encrypted_gp3_on_the_amis_root_device(run_stack, root_device):
    run = run_stack(DEV, facts=OfflineFacts(ami_root_device=root_device))
    mappings = run.only("LaunchTemplate").inputs["blockDeviceMappings"]
    assert len(mappings) == 1
    assert mappings[0]["deviceName"] == root_device
    assert mappings[0]["ebs"] == {
        "volumeSize": 30,
        "volumeType": "gp3",
        "encrypted": "true",
        "deleteOnTermination": "true",
    }


def test_pinned_ami_is_used_and_still_looked_up_for_its_root_device(run_stack):
    run = run_stack(DEV, amiId="ami-0fedcba9876543210", facts=OfflineFacts(ami_root_device="/dev/sda1"))
    lt = run.only("LaunchTemplate").inputs
    assert lt["imageId"] == "ami-0fedcba9876543210"
    assert lt["blockDeviceMappings"][0]["deviceName"] == "/dev/sda1"
    ami_calls = [args for token, args in run.mocks.calls if token == "aws:ec2/getAmi:getAmi"]
    assert ami_calls == [{"filters": [{"name": "image-id", "values": ["ami-0fedcba9876543210"]}]}]


@pytest.mark.parametrize(("version", "pattern"), [("6.13", "wallarm-node-6-13-*"), ("4.8", "wallarm-node-4-8-*")])
def test_ami_is_looked_up_by_marketplace_owner_name_and_x86_64(run_stack, version, pattern):
    run = run_stack(PROFILED, nodeVersion=version)
    (args,) = [args for token, args in run.mocks.calls if token == "aws:ec2/getAmi:getAmi"]
    assert args["owners"] == ["679593333241"] and args["mostRecent"] is True
    filters = {f["name"]: f["values"] for f in args["filters"]}
    assert filters["name"] == [pattern]
    assert filters["architecture"] == ["x86_64"]
    expected_ami = OfflineFacts().ami_for(pattern)[0]
    assert run.only("LaunchTemplate").inputs["imageId"] == run.outputs["ami_id"] == expected_ami
    assert (expected_ami == OfflineFacts().ami_id) is (version == "6.13")


def test_launch_template_has_profile_node_sg_monitoring_and_type(stack):
    name, run = stack
    lt = run.only("LaunchTemplate").inputs
    assert lt["instanceType"] == ("t3.medium" if name == "dev" else "m5.xlarge")
    assert lt["monitoring"] == {"enabled": True}
    assert lt["iamInstanceProfile"]["arn"].endswith("instanceprofile/wallarm-mirror-node-profile")
    node_sg = run.id_of("SecurityGroup", "wallarm-mirror-node-sg")
    assert lt["vpcSecurityGroupIds"] == [node_sg]
    assert "keyName" not in lt  # no SSH key: operators use SSM Session Manager


@pytest.mark.parametrize(
    ("version", "script_path", "preset"),
    [
        ("4.8", "/usr/share/wallarm-common/cloud-init.py", "mirror"),
        ("4.10", "/opt/wallarm/usr/share/wallarm-common/cloud-init.py", "mirror"),
        ("6.13", "/opt/wallarm/usr/share/wallarm-common/cloud-init.py", "custom"),
        ("7.1", "/opt/wallarm/usr/share/wallarm-common/cloud-init.py", "custom"),
    ],
)
def test_boot_script_runs_the_profiles_cloud_init_with_preset_mode_and_host(run_stack, version, script_path, preset):
    script = boot_script(run_stack(PROFILED, nodeVersion=version))
    assert script.startswith("#!/bin/bash")
    assert script_path in script
    flags = _cloud_init_flags(script)
    assert flags["-p"] == preset
    assert flags["-m"] == "off"
    assert flags["-H"] == "us1.api.wallarm.com"


def test_boot_script_defaults_to_monitoring_mode(run_stack):
    assert _cloud_init_flags(boot_script(run_stack(DEV)))["-m"] == "monitoring"


def test_custom_preset_snippet_makes_node_analyse_mirrored_copies_only(run_stack):
    snippets = script_and_files(boot_script(run_stack(PROFILED, nodeVersion="6.13")))
    for line in (
        "wallarm_force server_addr $http_x_server_addr;",
        "wallarm_force server_port $http_x_server_port;",
        "wallarm_force response_status 0;",
        "wallarm_force response_time 0;",
        "wallarm_force response_size 0;",
    ):
        assert line in snippets


def test_mirror_preset_leaves_wallarm_force_to_the_preset(run_stack):
    snippets = script_and_files(boot_script(run_stack(PROFILED, nodeVersion="4.8")))
    assert "wallarm_force" not in snippets
    assert "real_ip_recursive on;" in snippets


def test_real_ip_trusts_vpc_ranges_and_mirror_sources_only(run_stack):
    facts = OfflineFacts(vpc_cidrs=("10.40.0.0/16", "100.64.0.0/16"), vpc_ipv6_cidrs=("2600:1f18:abcd::/56",))
    snippets = script_and_files(boot_script(run_stack(PROD, facts=facts, mirrorSourceCidrs=["192.168.7.0/24"])))
    trusted = [line.split()[1].rstrip(";") for line in snippets.splitlines() if line.startswith("set_real_ip_from")]
    assert trusted == ["10.40.0.0/16", "100.64.0.0/16", "192.168.7.0/24", "2600:1f18:abcd::/56"]
    assert "real_ip_header X-Forwarded-For;" in snippets and "real_ip_recursive on;" in snippets


def test_seven_x_health_check_proxies_the_daemons_readiness(run_stack):
    snippets = script_and_files(boot_script(run_stack(PROFILED, nodeVersion="7.1")))
    assert "listen 9447;" in snippets
    assert "proxy_pass http://127.0.0.1:9446/ready;" in snippets


# --- auto scaling ------------------------------------------------------------------------------


def test_asg_sizes_health_checks_and_target_group(stack):
    name, run = stack
    asg = run.only("Group").inputs
    expected = (1, 3, 1) if name == "dev" else (2, 6, 3)
    assert (asg["minSize"], asg["maxSize"], asg["desiredCapacity"]) == expected
    assert asg["healthCheckType"] == "ELB"
    assert asg["healthCheckGracePeriod"] >= 300
    assert asg["targetGroupArns"] == [run.outputs["target_group_arn"]]
    assert asg["vpcZoneIdentifiers"] == (SUBNETS[:2] if name == "dev" else NODE_SUBNETS)


def test_asg_uses_newest_launch_template_version_and_rolling_refresh(stack):
    _, run = stack
    asg = run.only("Group").inputs
    assert asg["launchTemplate"] == {"id": run.outputs["launch_template_id"], "version": "1"}
    refresh = asg["instanceRefresh"]
    assert refresh["strategy"] == "Rolling"
    assert refresh["preferences"]["minHealthyPercentage"] == 100
    assert refresh["preferences"]["maxHealthyPercentage"] == 200


def test_asg_tags_propagate_and_cpu_policy_tracks_target(run_stack):
    run = run_stack(PROD, cpuTarget=55)
    tags = {t["key"]: (t["value"], t["propagateAtLaunch"]) for t in run.only("Group").inputs["tags"]}
    assert tags["app"] == ("wallarm-mirror", True) and tags["env"] == ("prod", True)
    assert tags["stack"] == ("test", True)
    policy = run.only("Policy").inputs
    assert policy["policyType"] == "TargetTrackingScaling"
    tracking = policy["targetTrackingConfiguration"]
    assert tracking["predefinedMetricSpecification"]["predefinedMetricType"] == "ASGAverageCPUUtilization"
    assert tracking["targetValue"] == 55


# --- identity and token ------------------------------------------------------------------------


def test_node_role_is_for_ec2_with_ssm_core_and_extra_policies(run_stack):
    extra = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
    run = run_stack(DEV, extraPolicyArns=[extra])
    trust = json.loads(run.only("Role").inputs["assumeRolePolicy"])
    assert trust["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    attached = sorted(r.inputs["policyArn"] for r in run.all("RolePolicyAttachment"))
    assert attached == ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", extra]


def test_user_data_delivery_makes_launch_template_user_data_secret(run_stack):
    run = run_stack(DEV, tokenDelivery="userData")
    user_data = run.only("LaunchTemplate").inputs["userData"]
    assert rpc.is_rpc_secret(user_data)
    assert TOKEN in script_and_files(base64.b64decode(unwrap(user_data)).decode())


# --- tags and components -----------------------------------------------------------------------


def test_every_taggable_resource_has_app_stack_and_user_tags(run_stack):
    run = run_stack(PROD)
    tagged = [r for r in run.resources if r.custom and "tags" in r.inputs]
    assert len(tagged) >= 10
    for resource in tagged:
        tags = resource.inputs["tags"]
        if isinstance(tags, list):  # the auto scaling group's tag blocks
            tags = {t["key"]: t["value"] for t in tags}
        assert {"app": "wallarm-mirror", "stack": "test", "env": "prod"}.items() <= tags.items(), resource.name


def test_resources_are_grouped_in_wallarm_components(stack):
    _, run = stack
    components = {r.typ for r in run.resources if not r.custom}
    assert components == {
        "wallarm:mirror:WallarmMirror",
        "wallarm:mirror:SecurityGroups",
        "wallarm:mirror:LoadBalancer",
        "wallarm:mirror:NodeIdentity",
        "wallarm:mirror:NodeGroup",
        "wallarm:mirror:Alarms",
    }
    for resource in run.resources:
        if resource.custom:
            assert resource.parent.startswith("wallarm:mirror:"), resource.name


def test_outputs_cover_every_id_a_user_wires_elsewhere(stack):
    name, run = stack
    scheme = "http" if name == "dev" else "https"
    assert run.outputs["mirror_endpoint"] == f"{scheme}://{run.outputs['alb_dns_name']}:8445"
    for key in (
        "alb_dns_name",
        "alb_arn",
        "alb_zone_id",
        "target_group_arn",
        "asg_name",
        "launch_template_id",
        "node_role_arn",
        "ami_id",
        "alb_security_group_id",
        "node_security_group_id",
    ):
        assert run.outputs[key], key
    assert not run.secret_outputs


def test_captured_inputs_use_wire_names_only(stack):
    """A misspelled nested key passes the mocks silently and stays snake_case; valid keys are camelCase."""
    _, run = stack

    def walk(value, path):
        if isinstance(value, dict) and not rpc.is_rpc_secret(value):
            for key, inner in value.items():
                if path and path[-1] in ("tags", "tagsAll"):
                    continue  # tag keys are user data, not schema names
                assert "_" not in key, f"{'.'.join([*path, key])} is not a Pulumi wire name"
                walk(inner, [*path, key])
        elif isinstance(value, list):
            for inner in value:
                walk(inner, path)

    for resource in run.resources:
        walk(resource.inputs, [resource.name])


# --- helpers that read the boot script --------------------------------------------------------


def _cloud_init_flags(script: str) -> dict[str, str]:
    """The -p/-m/-H arguments of the cloud-init.py call (one per line, as the script writes them)."""
    import re
    import shlex

    flags = {}
    for flag, value in re.findall(r"^\s+(-[pmH]) (.+?) \\$", script, flags=re.MULTILINE):
        assert flag not in flags, f"{flag} given twice"
        flags[flag] = shlex.split(value)[0]
    assert set(flags) == {"-p", "-m", "-H"}, flags
    return flags


# --- user data size ----------------------------------------------------------------------------


def test_large_snippets_are_gzipped_into_user_data(run_stack):
    snippet = "".join(f"location = /static/{i} {{ return 204; }}\n" for i in range(300))
    run = run_stack(DEV, serverSnippet=snippet)
    raw = base64.b64decode(run.only("LaunchTemplate").inputs["userData"])
    assert raw[:2] == b"\x1f\x8b" and len(raw) <= 16384
    from wallarm_mirror.node.boot_script import decode_user_data

    assert snippet.splitlines()[-1] in script_and_files(decode_user_data(run.only("LaunchTemplate").inputs["userData"]))


def test_snippets_too_large_for_user_data_stop_before_any_resource(run_stack):
    import os

    import pulumi

    noise = base64.b64encode(os.urandom(15000)).decode()
    with pytest.raises(pulumi.RunError) as caught:
        run_stack(DEV, postScript=f"echo {noise}")
    message = str(caught.value)
    assert "wallarm-mirror:postScript" in message and "over EC2's 16384-byte user data limit" in message


@pytest.mark.parametrize(
    ("version", "ports"), [("4.8", "8445 9445 /-/healthcheck"), ("6.13", "80 9447 /-/healthcheck")]
)
def test_boot_script_checks_it_serves_what_the_target_group_expects(run_stack, version, ports):
    run = run_stack(PROFILED, nodeVersion=version)
    script = boot_script(run)
    group = run.only("TargetGroup").inputs
    node_port, health_port, health_path = ports.split()
    assert (str(int(group["port"])), group["healthCheck"]["port"], group["healthCheck"]["path"]) == (
        node_port,
        health_port,
        health_path,
    )
    assert f"python3 -I -S - {ports} 60 600 " in script
    assert script.index('log "self-check passed"') < script.index('log "the Wallarm node is configured"')
