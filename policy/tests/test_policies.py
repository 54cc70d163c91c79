"""Each policy on the program's own plans: the good plan passes, one changed field is one violation."""

from __future__ import annotations

from typing import Any

import pytest
import rules
from conftest import Plans
from plans import (
    FAKE_TOKEN,
    LAUNCH_TEMPLATE,
    Plan,
    args_for,
    base64_heredoc,
    mutated,
    stack_args,
    user_data_text,
    violations,
    with_user_data,
)
from pulumi_policy import EnforcementLevel
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

ALB = "aws:lb/loadBalancer:LoadBalancer"
SG = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
MIRROR_RULE = "wallarm-mirror-alb-sg-from-10-0-16-0-20"
TARGET = "aws:ec2/trafficMirrorTarget:TrafficMirrorTarget"
FILTER = "aws:ec2/trafficMirrorFilter:TrafficMirrorFilter"
FILTER_RULE = "aws:ec2/trafficMirrorFilterRule:TrafficMirrorFilterRule"
SESSION = "aws:ec2/trafficMirrorSession:TrafficMirrorSession"
INGRESS_80 = "wallarm-mirror-filter-ingress-tcp-80"
EGRESS_80 = "wallarm-mirror-filter-egress-tcp-80"
VXLAN_RULE = "wallarm-mirror-node-sg-vxlan-from-10-0-16-0-20"


def stack_ids(plan: Plan) -> dict[str, str]:
    """The ids a stack policy sees in the engine's outputs, which the plan keeps as stack outputs only."""
    if "traffic_mirror_target_id" not in plan.outputs:
        return {}
    return {plan.one(TARGET)["name"]: plan.outputs["traffic_mirror_target_id"]}


def every_violation(
    plan: Plan, props_of: dict[str, dict[str, Any]] | None = None, *, stack: str | None = None
) -> list[str]:
    """'policy: message' for every resource policy over every resource of the plan, and every stack policy."""
    found = []
    for resource in plan.resources:
        props = (props_of or {}).get(resource["name"])
        for policy in rules.RESOURCE_POLICIES:
            args = args_for(plan, resource, props=props, stack=stack)
            found += [f"{policy.name}: {message}" for message in violations(policy, args)]
    whole = stack_args(plan, props_of=props_of, ids=stack_ids(plan))
    for stack_policy in rules.STACK_POLICIES:
        found += [f"{stack_policy.name}: {message}" for message in violations(stack_policy, whole)]
    return found


def violations_of_change(plan: Plan, resource: dict[str, Any], props: dict[str, Any], **kwargs: Any) -> list[str]:
    """'policy: message' for what changing `resource` to `props` causes: the resource policies on that
    resource, the stack policies on the plan with it changed (the rest of the plan passes)."""
    found = []
    for policy in rules.RESOURCE_POLICIES:
        found += [f"{policy.name}: {m}" for m in violations(policy, args_for(plan, resource, props=props, **kwargs))]
    whole = stack_args(plan, props_of={resource["name"]: props}, ids=stack_ids(plan))
    for stack_policy in rules.STACK_POLICIES:
        found += [f"{stack_policy.name}: {m}" for m in violations(stack_policy, whole)]
    return found


def only_violation(plan: Plan, resource: dict[str, Any], props: dict[str, Any], **kwargs: Any) -> str:
    """The one violation that changing `resource` to `props` causes, across all policies of the pack."""
    found = violations_of_change(plan, resource, props, **kwargs)
    assert len(found) == 1, found
    return found[0]


# --- the pack -------------------------------------------------------------------------------


def test_pack_is_mandatory_and_every_policy_inherits_its_level() -> None:
    assert rules.PACK_ENFORCEMENT is EnforcementLevel.MANDATORY
    assert [p.enforcement_level for p in rules.POLICIES] == [None] * len(rules.POLICIES)


def test_pack_has_the_policies_of_the_design() -> None:
    # Names are policy config keys: a renamed policy silently drops what users configured for it.
    assert [p.name for p in rules.POLICIES] == [
        "alb-internal",
        "no-world-ingress",
        "no-ssh-ingress",
        "imdsv2-required",
        "ebs-encrypted",
        "no-token-in-user-data",
        "wallarm-mode-monitoring",
        "prod-alb-deletion-protection",
        "traffic-mirror-filter-tcp-ports",
        "ram-share-internal",
        "traffic-mirror-both-directions",
        "traffic-mirror-session-own-target",
        "ssm-association-own-document",
        "spoke-runs-no-nodes",
    ]


def test_example_dev_stack_passes_every_policy(plans: Plans) -> None:
    assert every_violation(plans.dev) == []


def test_example_prod_stack_passes_every_policy(plans: Plans) -> None:
    assert plans.prod.stack == "prod"  # so the deletion-protection policy applies
    assert every_violation(plans.prod) == []


def test_example_native_stack_passes_every_policy(plans: Plans) -> None:
    native = plans.native
    # Not a vacuous pass: the plan holds every resource the traffic mirror policies look at.
    assert native.one(ALB)["inputs"]["loadBalancerType"] == "network"
    assert len(native.all(FILTER_RULE)) == 4  # port 80, both directions, IPv4 and IPv6
    assert native.all(SESSION) and native.all(TARGET) and native.all(FILTER)
    # ... and the host mirroring association (trafficMirrorMethod auto, the default) with its document.
    assert native.all(rules.SSM_ASSOCIATION) and native.all(rules.SSM_DOCUMENT)
    assert every_violation(native) == []


# --- 1 ALB internal -------------------------------------------------------------------------


def test_internet_facing_alb_is_a_violation(plans: Plans) -> None:
    alb = plans.dev.one(ALB)
    message = only_violation(plans.dev, alb, mutated(alb, "internal", False))
    assert message.startswith("alb-internal: Load balancer wallarm-mirror-alb: `internal` is False;")


def test_alb_without_internal_is_internet_facing(plans: Plans) -> None:
    alb = plans.dev.one(ALB)
    message = only_violation(plans.dev, alb, mutated(alb, "internal", None))
    assert "`internal` is not set (AWS then makes it internet-facing)" in message


def test_alb_alias_type_is_checked_too(plans: Plans) -> None:
    alb = {**plans.dev.one(ALB), "type": "aws:alb/loadBalancer:LoadBalancer"}
    assert violations(rules.ALB_INTERNAL, args_for(plans.dev, alb, props=mutated(alb, "internal", False)))


# --- 2 no ingress from the whole internet ---------------------------------------------------


@pytest.mark.parametrize(("field", "cidr"), [("cidrIpv4", "0.0.0.0/0"), ("cidrIpv6", "::/0")])
def test_ingress_rule_from_the_internet_is_a_violation(plans: Plans, field: str, cidr: str) -> None:
    rule = plans.dev.one(INGRESS, MIRROR_RULE)
    props = mutated(rule, field, cidr)
    if field == "cidrIpv6":
        del props["cidrIpv4"]
    message = only_violation(plans.dev, rule, props)
    assert message == (
        f"no-world-ingress: Security group ingress on {MIRROR_RULE} (this rule) allows {cidr}, the whole internet; "
        "mirror sources must be explicit. List the web tier's CIDRs in wallarm-mirror:mirrorSourceCidrs "
        "or its security groups in wallarm-mirror:mirrorSourceSecurityGroupIds."
    )


def test_inline_ingress_block_from_the_internet_is_a_violation(plans: Plans) -> None:
    group = plans.dev.one(SG, "wallarm-mirror-alb-sg")
    block = {"protocol": "tcp", "fromPort": 8445, "toPort": 8445, "cidrBlocks": ["10.0.0.0/8"]}
    assert every_violation(plans.dev, {"wallarm-mirror-alb-sg": mutated(group, "ingress", [block])}) == []
    wide = {**block, "ipv6CidrBlocks": ["::/0"]}
    message = only_violation(plans.dev, group, mutated(group, "ingress", [block, wide]))
    assert message.startswith(
        "no-world-ingress: Security group ingress on wallarm-mirror-alb-sg (ingress[1]) allows ::/0, the whole internet"
    )


def test_security_group_rule_resource_from_the_internet_is_a_violation(plans: Plans) -> None:
    rule = {
        "type": SG_RULE,
        "name": "legacy-rule",
        "parent": None,
        "inputs": {"type": "ingress", "protocol": "tcp", "fromPort": 443, "toPort": 443, "securityGroupId": "sg-1"},
    }
    assert only_violation(plans.dev, rule, {**rule["inputs"], "cidrBlocks": ["0.0.0.0/0"]}).startswith(
        "no-world-ingress: Security group ingress on legacy-rule (this rule) allows 0.0.0.0/0"
    )
    egress = {**rule["inputs"], "type": "egress", "cidrBlocks": ["0.0.0.0/0"]}
    assert not any(violations(p, args_for(plans.dev, rule, props=egress)) for p in rules.RESOURCE_POLICIES)


# --- 3 no SSH -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"fromPort": 22, "toPort": 22}, "opens tcp port 22, which includes SSH's port 22"),
        ({"fromPort": 0, "toPort": 1024}, "opens tcp port 0-1024, which includes SSH's port 22"),
        ({"ipProtocol": "-1"}, "allows every protocol and port (protocol -1), SSH's port 22 included"),
    ],
)
def test_ingress_rule_opening_ssh_is_a_violation(plans: Plans, changes: dict[str, Any], reason: str) -> None:
    rule = plans.dev.one(INGRESS, "wallarm-mirror-node-sg-from-alb-80")
    props = {**rule["inputs"], **changes}
    assert only_violation(plans.dev, rule, props) == (
        f"no-ssh-ingress: Security group ingress on wallarm-mirror-node-sg-from-alb-80 (this rule) {reason}; "
        "nodes are reached through SSM Session Manager, never SSH. Limit the rule to the ports it serves."
    )


def test_icmp_type_22_is_not_ssh(plans: Plans) -> None:
    rule = plans.dev.one(INGRESS, "wallarm-mirror-node-sg-from-alb-80")
    props = {**rule["inputs"], "ipProtocol": "icmp", "fromPort": 22, "toPort": 22}
    assert violations(rules.NO_SSH_INGRESS, args_for(plans.dev, rule, props=props)) == []


def test_inline_all_traffic_block_opens_ssh(plans: Plans) -> None:
    group = plans.dev.one(SG, "wallarm-mirror-node-sg")
    block = {"protocol": "-1", "fromPort": 0, "toPort": 0, "securityGroups": ["sg-0123"]}
    message = only_violation(plans.dev, group, mutated(group, "ingress", [block]))
    assert message.startswith("no-ssh-ingress: Security group ingress on wallarm-mirror-node-sg (ingress[0]) allows")


# --- 4 IMDSv2 -------------------------------------------------------------------------------


def test_imdsv1_allowed_is_a_violation(plans: Plans) -> None:
    template = plans.dev.one(LAUNCH_TEMPLATE)
    message = only_violation(plans.dev, template, mutated(template, "metadataOptions.httpTokens", "optional"))
    assert message == (
        "imdsv2-required: Launch template wallarm-mirror-node-lt: metadataOptions.httpTokens is 'optional'; "
        'IMDSv2 must be required. Set metadata_options http_tokens="required".'
    )


def test_launch_template_without_metadata_options_is_a_violation(plans: Plans) -> None:
    template = plans.dev.one(LAUNCH_TEMPLATE)
    message = only_violation(plans.dev, template, mutated(template, "metadataOptions", None))
    assert message.startswith("imdsv2-required: Launch template wallarm-mirror-node-lt has no metadataOptions")


# --- 5 encrypted volumes --------------------------------------------------------------------


@pytest.mark.parametrize(("value", "shown"), [("false", "'false'"), (False, "False"), (None, "not set")])
def test_unencrypted_root_volume_is_a_violation(plans: Plans, value: Any, shown: str) -> None:
    template = plans.dev.one(LAUNCH_TEMPLATE)
    message = only_violation(plans.dev, template, mutated(template, "blockDeviceMappings.0.ebs.encrypted", value))
    assert message == (
        f"ebs-encrypted: Launch template wallarm-mirror-node-lt: the EBS volume on /dev/xvda has encrypted {shown}; "
        'every volume of a node must be encrypted. Set ebs encrypted="true".'
    )


def test_boolean_true_counts_as_encrypted(plans: Plans) -> None:
    template = plans.dev.one(LAUNCH_TEMPLATE)
    props = mutated(template, "blockDeviceMappings.0.ebs.encrypted", True)
    assert violations(rules.EBS_ENCRYPTED, args_for(plans.dev, template, props=props)) == []


def test_launch_template_without_mappings_leaves_encryption_to_chance(plans: Plans) -> None:
    template = plans.dev.one(LAUNCH_TEMPLATE)
    message = only_violation(plans.dev, template, mutated(template, "blockDeviceMappings", None))
    assert message.startswith("ebs-encrypted: Launch template wallarm-mirror-node-lt has no EBS block device mapping")


# --- 6 no token in user data ----------------------------------------------------------------


def test_inline_token_delivery_is_a_violation_that_never_shows_the_token(plans: Plans) -> None:
    template = plans.dev.one(LAUNCH_TEMPLATE)
    message = only_violation(plans.dev, template, mutated(template, "userData", plans.inline_user_data))
    assert message.startswith(
        "no-token-in-user-data: User data of wallarm-mirror-node-lt holds a literal token (base64 heredoc "
        f'written into the token file "$work_dir/token", {len(FAKE_TOKEN)} characters, at user data, line '
    )
    assert "tokenDelivery secretsManager" in message
    assert FAKE_TOKEN not in message
    assert FAKE_TOKEN[:16] not in message


def test_redacted_user_data_of_the_plan_is_not_a_finding(plans: Plans) -> None:
    template = plans.dev.one(LAUNCH_TEMPLATE)
    args = args_for(plans.dev, template, props=mutated(template, "userData", "[secret]"))
    assert violations(rules.NO_TOKEN_IN_USER_DATA, args) == []


CLOUD_INIT_MODE = "  -m monitoring \\\n"


# what the finding is called -> (text to replace, or None to append a line; the new text)
TOKEN_EDITS: dict[str, tuple[str | None, str]] = {
    "-t argument of a Wallarm tool": (CLOUD_INIT_MODE, f"  -m monitoring -t {FAKE_TOKEN} \\\n"),
    "--token argument": (CLOUD_INIT_MODE, f"  -m monitoring --token={FAKE_TOKEN} \\\n"),
    "value of WALLARM_API_TOKEN": (None, f"export WALLARM_API_TOKEN='{FAKE_TOKEN}'\n"),
    "value of TOKEN": (None, f"TOKEN={FAKE_TOKEN} /usr/local/bin/register\n"),
    "literal written into /etc/wallarm/node-token": (None, f"echo {FAKE_TOKEN} > /etc/wallarm/node-token\n"),
}


@pytest.mark.parametrize("what", TOKEN_EDITS)
def test_literal_token_in_the_boot_script_is_a_violation(plans: Plans, what: str) -> None:
    template = plans.dev.one(LAUNCH_TEMPLATE)
    old, new = TOKEN_EDITS[what]
    original = user_data_text(template)
    script = original + new if old is None else original.replace(old, new)
    assert script != original
    message = only_violation(plans.dev, template, with_user_data(template, script))
    assert f"holds a literal token ({what}, {len(FAKE_TOKEN)} characters, at user data, line " in message
    assert FAKE_TOKEN not in message


def test_token_inside_an_embedded_file_is_found(plans: Plans) -> None:
    template = plans.dev.one(LAUNCH_TEMPLATE)
    post = f"#!/bin/bash\nset -e\nexport WALLARM_API_TOKEN={FAKE_TOKEN}\n"
    script = user_data_text(template) + base64_heredoc('"$work_dir/post-script.sh"', post)
    message = only_violation(plans.dev, template, with_user_data(template, script))
    assert 'base64 heredoc into "$work_dir/post-script.sh", line 3' in message
    assert "value of WALLARM_API_TOKEN" in message


@pytest.mark.parametrize(
    "line",
    [
        '  -m monitoring -t "$(cat "$work_dir/token")" \\\n',  # a reference, not a value
        '  -m monitoring --token "$WALLARM_TOKEN" \\\n',
        "  -m monitoring \\\n",
    ],
)
def test_token_references_are_not_findings(plans: Plans, line: str) -> None:
    template = plans.dev.one(LAUNCH_TEMPLATE)
    script = user_data_text(template).replace(CLOUD_INIT_MODE, line)
    script += (
        "WALLARM_API_TOKEN=<YOUR_WALLARM_TOKEN>\n"
        'TOKEN="${TOKEN:-}"\n'
        "token_file=/run/wallarm/token\n"
        f"# example: cloud-init.py -t {FAKE_TOKEN}\n"
        f"mktemp -t wallarm-{FAKE_TOKEN[:20]}.XXXXXX\n"
    )
    script += base64_heredoc('"$work_dir/notes.txt"', f"{FAKE_TOKEN}\n" * 3)  # a blob that is not a token file
    args = args_for(plans.dev, template, props=with_user_data(template, script))
    assert violations(rules.NO_TOKEN_IN_USER_DATA, args) == []


def test_unknown_user_data_is_left_to_the_engine(plans: Plans) -> None:
    # pulumi-policy reports "can't run policy during preview" for this; `pulumi up` runs it again.
    template = plans.dev.one(LAUNCH_TEMPLATE)
    args = args_for(plans.dev, template, props=mutated(template, "userData", UNKNOWN_STRING_VALUE))
    with pytest.raises(UnknownValueError):
        violations(rules.NO_TOKEN_IN_USER_DATA, args)


# --- 7 Wallarm mode -------------------------------------------------------------------------


def test_blocking_mode_on_a_4x_node_is_the_only_violation_of_that_stack(plans: Plans) -> None:
    plan = plans.v48_block
    template = plan.one(LAUNCH_TEMPLATE)
    assert "/usr/share/wallarm-common/cloud-init.py" in user_data_text(template)  # the 4.x layout
    found = every_violation(plan)
    assert len(found) == 1, found
    assert found[0].startswith(
        "wallarm-mode-monitoring: User data of wallarm-mirror-node-lt sets Wallarm mode block (cloud-init.py -m, "
        "at user data, line "
    )
    assert "allowBlockingModes" in found[0]
    assert violations(rules.WALLARM_MODE_MONITORING, args_for(plan, template)) == [found[0].split(": ", 1)[1]]


def test_blocking_mode_passes_when_the_config_allows_it(plans: Plans) -> None:
    template = plans.v48_block.one(LAUNCH_TEMPLATE)
    args = args_for(plans.v48_block, template, config={"allowBlockingModes": True})
    assert violations(rules.WALLARM_MODE_MONITORING, args) == []


def test_safe_blocking_is_blocking_too(plans: Plans) -> None:
    template = plans.dev.one(LAUNCH_TEMPLATE)
    script = user_data_text(template).replace(CLOUD_INIT_MODE, "  -m safe_blocking \\\n")
    message = only_violation(plans.dev, template, with_user_data(template, script))
    assert "sets Wallarm mode safe_blocking (cloud-init.py -m, at user data, line " in message


def test_blocking_nginx_directive_in_an_embedded_snippet_is_a_violation(plans: Plans) -> None:
    template = plans.dev.one(LAUNCH_TEMPLATE)
    snippet = "location / {\n    wallarm_mode block;\n}\n"
    script = user_data_text(template) + base64_heredoc('"$work_dir/server-snippet.conf"', snippet)
    message = only_violation(plans.dev, template, with_user_data(template, script))
    assert "sets Wallarm mode block (wallarm_mode directive, at user data line " in message
    assert 'base64 heredoc into "$work_dir/server-snippet.conf", line 2)' in message


# --- 8 deletion protection in production ----------------------------------------------------


def test_prod_stack_alb_without_deletion_protection_is_a_violation(plans: Plans) -> None:
    alb = plans.prod.one(ALB)
    assert alb["inputs"]["enableDeletionProtection"] is True
    message = only_violation(plans.prod, alb, mutated(alb, "enableDeletionProtection", False))
    assert message == (
        "prod-alb-deletion-protection: Load balancer wallarm-mirror-alb of stack prod (a production stack by its "
        "name) has deletion protection off. Set wallarm-mirror:deletionProtection true for this stack."
    )


@pytest.mark.parametrize(
    ("stack", "prod_like"),
    [
        ("prod", True),
        ("production", True),
        ("eu-prod", True),
        ("prod.us-east-1", True),
        ("team_prod_2", True),
        ("PROD", True),
        ("dev", False),
        ("preprod", False),
        ("product-demo", False),
        ("staging", False),
    ],
)
def test_stack_name_decides_whether_deletion_protection_is_required(plans: Plans, stack: str, prod_like: bool) -> None:
    alb = plans.dev.one(ALB)  # the dev example has deletion protection off
    found = violations(rules.PROD_DELETION_PROTECTION, args_for(plans.dev, alb, stack=stack))
    assert len(found) == (1 if prod_like else 0), found


def test_prod_stack_pattern_is_configurable(plans: Plans) -> None:
    alb = plans.dev.one(ALB)
    live = args_for(plans.dev, alb, stack="live", config={"prodStackPattern": "^live$"})
    assert len(violations(rules.PROD_DELETION_PROTECTION, live)) == 1
    broken = args_for(plans.dev, alb, stack="dev", config={"prodStackPattern": "(prod"})
    assert violations(rules.PROD_DELETION_PROTECTION, broken)[0].startswith(
        "Policy config prodStackPattern '(prod' is not a regular expression"
    )


def test_stack_name_comes_from_the_urn(plans: Plans) -> None:
    alb = plans.prod.one(ALB)
    urn = plans.prod.urn(alb)
    assert urn == "urn:pulumi:prod::wallarm-mirror::wallarm:mirror:WallarmMirror$wallarm:mirror:LoadBalancer$" + (
        "aws:lb/loadBalancer:LoadBalancer::wallarm-mirror-alb"
    )
    assert rules.stack_of(urn) == "prod"


# --- 9 the native stack (analyzer nativeNode) -----------------------------------------------


@pytest.mark.parametrize("internal", [False, None])
def test_internet_facing_nlb_is_a_violation(plans: Plans, internal: bool | None) -> None:
    nlb = plans.native.one(ALB)
    message = only_violation(plans.native, nlb, mutated(nlb, "internal", internal))
    assert message.startswith("alb-internal: Load balancer wallarm-mirror-nlb: `internal` is ")
    assert "the NLB of nativeNode" in message


@pytest.mark.parametrize(("field", "cidr"), [("cidrIpv4", "0.0.0.0/0"), ("cidrIpv6", "::/0")])
def test_vxlan_ingress_from_the_internet_is_a_violation(plans: Plans, field: str, cidr: str) -> None:
    rule = plans.native.one(INGRESS, VXLAN_RULE)
    assert (rule["inputs"]["ipProtocol"], rule["inputs"]["fromPort"], rule["inputs"]["toPort"]) == ("udp", 4789, 4789)
    props = mutated(rule, field, cidr)
    if field == "cidrIpv6":
        del props["cidrIpv4"]
    message = only_violation(plans.native, rule, props)
    assert message.startswith(f"no-world-ingress: Security group ingress on {VXLAN_RULE} (this rule) allows {cidr},")


# A widened rule copies its extra ports one way only (its twin in the other direction still takes
# port 80), so the stack policy names those ports too: both are true, and one fix clears both.
@pytest.mark.parametrize(
    ("name", "changes", "reason", "one_way"),
    [
        (INGRESS_80, {"protocol": None}, "accepts every protocol (protocol not set)", None),
        (
            EGRESS_80,
            {"sourcePortRange": None, "destinationPortRange": {"fromPort": 80, "toPort": 80}},  # the wrong side
            "has no sourcePortRange, so it accepts every port",
            "0-79, 81-65535 egress",
        ),
        (
            EGRESS_80,
            {"sourcePortRange": {"fromPort": 0, "toPort": 65535}},
            "accepts every port (sourcePortRange 0-65535)",
            "0-79, 81-65535 egress",
        ),
        (
            INGRESS_80,
            {"destinationPortRange": {"fromPort": 80, "toPort": 65535}},
            "accepts 65456 ports (destinationPortRange 80-65535), more than a single port",
            "81-65535 ingress",
        ),
    ],
)
def test_filter_rule_copying_more_than_the_application_port_is_a_violation(
    plans: Plans, name: str, changes: dict[str, Any], reason: str, one_way: str | None
) -> None:
    rule = plans.native.one(FILTER_RULE, name)
    props = {k: v for k, v in {**rule["inputs"], **changes}.items() if v is not None}
    found = violations_of_change(plans.native, rule, props)
    direction = rule["inputs"]["trafficDirection"]
    assert found[0].startswith(
        f"traffic-mirror-filter-tcp-ports: Traffic mirror filter rule {name} ({direction}, accept) {reason}. "
    )
    if one_way is None:
        assert len(found) == 1, found
    else:
        assert len(found) == 2, found
        assert found[1].startswith("traffic-mirror-both-directions: ")
        assert f" accepts TCP {one_way} (" in found[1]


def test_filter_rule_for_udp_is_a_violation_and_leaves_the_port_one_way(plans: Plans) -> None:
    rule = plans.native.one(FILTER_RULE, INGRESS_80)
    found = violations_of_change(plans.native, rule, mutated(rule, "protocol", 17))
    assert [f.split(": ", 1)[0] for f in found] == ["traffic-mirror-filter-tcp-ports", "traffic-mirror-both-directions"]
    assert "accepts protocol 17, not TCP (6)" in found[0]
    assert "accepts TCP 80 egress (sourcePortRange) but not ingress (destinationPortRange)" in found[1]


def test_ipv6_rules_do_not_cover_an_ipv4_port_mirrored_one_way(plans: Plans) -> None:
    # An IPv4 request and an IPv6 response are never one connection: each family needs both directions.
    rule = plans.native.one(FILTER_RULE, "wallarm-mirror-filter-egress-tcp6-80")
    message = only_violation(plans.native, rule, mutated(rule, "ruleAction", "reject"))
    assert "accepts IPv6 TCP 80 ingress (destinationPortRange) but not egress (sourcePortRange)" in message


def test_filter_with_amazon_dns_is_a_violation(plans: Plans) -> None:
    mirror_filter = plans.native.one(FILTER)
    message = only_violation(plans.native, mirror_filter, mutated(mirror_filter, "networkServices", ["amazon-dns"]))
    assert message.startswith("traffic-mirror-filter-tcp-ports: Traffic mirror filter wallarm-mirror-filter mirrors")


def test_port_mirrored_one_way_only_is_a_violation(plans: Plans) -> None:
    # The egress rule turned into a reject: the responses from port 80 are no longer copied.
    rule = plans.native.one(FILTER_RULE, EGRESS_80)
    message = only_violation(plans.native, rule, mutated(rule, "ruleAction", "reject"))
    filter_id = plans.native.outputs["traffic_mirror_filter_id"]
    assert message.startswith(
        f"traffic-mirror-both-directions: Traffic mirror filter {filter_id} accepts TCP 80 ingress "
        "(destinationPortRange) but not egress (sourcePortRange);"
    )


def test_session_to_another_target_is_a_violation(plans: Plans) -> None:
    session = plans.native.one(SESSION)
    assert session["inputs"]["trafficMirrorTargetId"] == plans.native.outputs["traffic_mirror_target_id"]
    message = only_violation(plans.native, session, mutated(session, "trafficMirrorTargetId", "tmt-0ffe1se"))
    assert message.startswith(
        f"traffic-mirror-session-own-target: Traffic mirror session {session['name']} sends its copies to target "
        "'tmt-0ffe1se', which is not a traffic mirror target of this stack;"
    )
