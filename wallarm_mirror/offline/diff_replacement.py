"""What a change costs in AWS: which inputs force a new resource, and which changes roll the instances.

Whether a change is made in place or by replacing the resource is decided by the AWS provider at
``pulumi preview`` time. The offline diff cannot ask it, so :data:`REPLACEMENT_RULES` restates,
per resource type, which inputs the provider marks as forcing a new resource.
:func:`apply_replacement_rule` marks those settings of one changed resource and says why it is
replaced; :func:`notes_for` adds the consequences a reviewer must not miss (a launch template change
that rolls every instance, a load balancer becoming internet-facing).

Pure standard library on purpose, like every ``diff*.py`` module: it must run where Pulumi is not
installed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .diff_model import SettingChange, canonical

Inputs = Mapping[str, Any]
ReplacementCheck = Callable[[Inputs, Inputs], tuple[str, ...]]


@dataclass(frozen=True)
class ReplacementRule:
    """Which inputs of one resource type force the provider to re-create the resource.

    ``force_new`` names top-level inputs (wire names) marked ``ForceNew``/``RequiresReplace`` in
    the provider schema. ``checks`` cover the conditional cases the provider decides in its
    ``CustomizeDiff``/``ModifyPlan`` code; each returns the reasons it found (none → in place).
    """

    force_new: frozenset[str]
    checks: tuple[ReplacementCheck, ...] = ()


def _present(inputs: Inputs, key: str) -> bool:
    return inputs.get(key) is not None


def _lb_type(inputs: Inputs) -> str:
    # The provider defaults load_balancer_type to "application".
    return str(inputs.get("loadBalancerType") or "application")


def _alb_subnet_mappings_check(before: Inputs, after: Inputs) -> tuple[str, ...]:
    # customizeDiffLoadBalancerALB: an ALB keeps its identity when subnet mappings are only added
    # or only removed; changing an existing mapping forces a new load balancer.
    if _lb_type(after) != "application":
        return ()
    old = {canonical(item) for item in before.get("subnetMappings") or []}
    new = {canonical(item) for item in after.get("subnetMappings") or []}
    if old == new or old <= new or new <= old:
        return ()
    return ("`subnetMappings`: an existing subnet mapping changes (an ALB can only add or drop mappings)",)


def _nlb_subnets_check(before: Inputs, after: Inputs) -> tuple[str, ...]:
    # customizeDiffLoadBalancerNLB: a network LB can only grow its subnets in place; removing
    # subnets, changing mappings, or adding the first / removing the last security group forces
    # a new load balancer. Application LBs update all of these in place.
    if _lb_type(after) != "network":
        return ()
    reasons: list[str] = []
    old_subnets = before.get("subnets") or []
    new_subnets = after.get("subnets") or []
    if sorted(map(canonical, old_subnets)) != sorted(map(canonical, new_subnets)) and len(new_subnets) <= len(
        old_subnets
    ):
        reasons.append("`subnets`: a network load balancer can only add subnets in place")
    old_map = [canonical(item) for item in before.get("subnetMappings") or []]
    new_map = [canonical(item) for item in after.get("subnetMappings") or []]
    if sorted(old_map) != sorted(new_map) and (len(new_map) <= len(old_map) or not set(old_map) <= set(new_map)):
        reasons.append("`subnetMappings`: a network load balancer can only add subnet mappings in place")
    old_sgs = before.get("securityGroups") or []
    new_sgs = after.get("securityGroups") or []
    if bool(old_sgs) != bool(new_sgs):
        reasons.append(
            "`securityGroups`: a network load balancer cannot gain its first or lose its last security group"
        )
    return tuple(reasons)


_RULE_SOURCES: Final = ("cidrIpv4", "cidrIpv6", "prefixListId", "referencedSecurityGroupId")


def _rule_source_kind_check(before: Inputs, after: Inputs) -> tuple[str, ...]:
    # securityGroupRuleResource.ModifyPlan: "When you modify a rule, you cannot change the rule's
    # source type" - a new CIDR of the same kind is modified in place, a CIDR becoming a security
    # group reference (or the reverse) means a new rule.
    old = [key for key in _RULE_SOURCES if _present(before, key)]
    new = [key for key in _RULE_SOURCES if _present(after, key)]
    if old == new:
        return ()
    old_text = ", ".join(f"`{key}`" for key in old) or "none"
    new_text = ", ".join(f"`{key}`" for key in new) or "none"
    return (f"the rule's source type changes ({old_text} → {new_text})",)


def _ssm_tier_check(before: Inputs, after: Inputs) -> tuple[str, ...]:
    # customdiff.ForceNewIfChange("tier"): SSM cannot downgrade Advanced → Standard in place.
    if before.get("tier") == "Advanced" and after.get("tier") == "Standard":
        return ("`tier`: SSM cannot downgrade an Advanced parameter to Standard",)
    return ()


LOAD_BALANCER: Final = "aws:lb/loadBalancer:LoadBalancer"
TARGET_GROUP: Final = "aws:lb/targetGroup:TargetGroup"
LISTENER: Final = "aws:lb/listener:Listener"
SECURITY_GROUP: Final = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE: Final = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE: Final = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
IAM_ROLE: Final = "aws:iam/role:Role"
INSTANCE_PROFILE: Final = "aws:iam/instanceProfile:InstanceProfile"
LAUNCH_TEMPLATE: Final = "aws:ec2/launchTemplate:LaunchTemplate"
AUTOSCALING_GROUP: Final = "aws:autoscaling/group:Group"

# Verified against hashicorp/terraform-provider-aws (the provider pulumi-aws 7.x bridges), schema
# `ForceNew: true` / framework `RequiresReplace()` and the CustomizeDiff/ModifyPlan functions:
#   lb              internal/service/elbv2/load_balancer.go   internal, load_balancer_type, name,
#                   name_prefix, customer_owned_ipv4_pool; subnets/security_groups only via
#                   customizeDiffLoadBalancerNLB (ALB subnets are in place), subnet_mapping via
#                   customizeDiffLoadBalancerALB
#   target group    internal/service/elbv2/target_group.go    port, protocol, protocol_version,
#                   target_type, vpc_id, ip_address_type, name, name_prefix (health_check in place)
#   listener        internal/service/elbv2/listener.go        load_balancer_arn only (protocol,
#                   port, certificate_arn, ssl_policy, default_action are in place)
#   security group  internal/service/ec2/vpc_security_group.go  name, name_prefix, description, vpc_id
#   SG in/egress    internal/service/ec2/vpc_security_group_ingress_rule.go (shared base resource
#   rules           for both): security_group_id RequiresReplace; ModifyPlan replaces when the
#                   source type changes; cidr/ports/protocol/description use ModifySecurityGroupRules
#   IAM role        internal/service/iam/role.go              name, name_prefix, path
#   instance prof.  internal/service/iam/instance_profile.go  name, name_prefix, path (role in place)
#   role policy     internal/service/iam/role_policy.go       name, name_prefix, role
#   policy attach.  internal/service/iam/role_policy_attachment.go  role, policy_arn (no update)
#   launch template internal/service/ec2/ec2_launch_template.go  name, name_prefix; every launch
#                   data key in resourceLaunchTemplateUpdate's updateKeys creates a new version
#   ASG             internal/service/autoscaling/group.go     name, name_prefix, initial_lifecycle_hook
#   scaling policy  internal/service/autoscaling/policy.go    autoscaling_group_name, name
#   SSM parameter   internal/service/ssm/parameter.go         name, data_type, tier Advanced→Standard;
#                   `type` is NOT ForceNew in the current provider (PutParameter with Overwrite)
#   secret          internal/service/secretsmanager/secret.go name, name_prefix
#   secret version  internal/service/secretsmanager/secret_version.go  secret_id, secret_string,
#                   secret_binary, secret_string_wo_version (every value change is a new version)
#   metric alarm    internal/service/cloudwatch/metric_alarm.go  alarm_name
#   SNS topic       internal/service/sns/topic.go             name, name_prefix, fifo_topic
REPLACEMENT_RULES: Final[Mapping[str, ReplacementRule]] = {
    LOAD_BALANCER: ReplacementRule(
        frozenset({"internal", "loadBalancerType", "name", "namePrefix", "customerOwnedIpv4Pool"}),
        (_alb_subnet_mappings_check, _nlb_subnets_check),
    ),
    TARGET_GROUP: ReplacementRule(
        frozenset({"port", "protocol", "protocolVersion", "targetType", "vpcId", "ipAddressType", "name", "namePrefix"})
    ),
    LISTENER: ReplacementRule(frozenset({"loadBalancerArn"})),
    SECURITY_GROUP: ReplacementRule(frozenset({"name", "namePrefix", "description", "vpcId"})),
    INGRESS_RULE: ReplacementRule(frozenset({"securityGroupId"}), (_rule_source_kind_check,)),
    EGRESS_RULE: ReplacementRule(frozenset({"securityGroupId"}), (_rule_source_kind_check,)),
    IAM_ROLE: ReplacementRule(frozenset({"name", "namePrefix", "path"})),
    INSTANCE_PROFILE: ReplacementRule(frozenset({"name", "namePrefix", "path"})),
    "aws:iam/rolePolicy:RolePolicy": ReplacementRule(frozenset({"name", "namePrefix", "role"})),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ReplacementRule(frozenset({"role", "policyArn"})),
    LAUNCH_TEMPLATE: ReplacementRule(frozenset({"name", "namePrefix"})),
    AUTOSCALING_GROUP: ReplacementRule(frozenset({"name", "namePrefix", "initialLifecycleHooks"})),
    "aws:autoscaling/policy:Policy": ReplacementRule(frozenset({"autoscalingGroupName", "name"})),
    "aws:ssm/parameter:Parameter": ReplacementRule(frozenset({"name", "dataType"}), (_ssm_tier_check,)),
    "aws:secretsmanager/secret:Secret": ReplacementRule(frozenset({"name", "namePrefix"})),
    "aws:secretsmanager/secretVersion:SecretVersion": ReplacementRule(
        frozenset({"secretId", "secretString", "secretBinary", "secretStringWoVersion"})
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ReplacementRule(frozenset({"name"})),
    "aws:sns/topic:Topic": ReplacementRule(frozenset({"name", "namePrefix", "fifoTopic"})),
}

# Launch template inputs whose change does not create a new version (ec2_launch_template.go:
# they are outside updateKeys). Every other change creates one, which the group rolls out.
_LAUNCH_TEMPLATE_NO_NEW_VERSION: Final = frozenset(
    {"name", "namePrefix", "tags", "defaultVersion", "updateDefaultVersion"}
)

# "A refresh will always be triggered by a change in any of launchConfiguration, launchTemplate,
# or mixedInstancesPolicy" (aws.autoscaling.Group instanceRefresh.triggers docs).
_ASG_REFRESH_TRIGGERS: Final = frozenset({"launchConfiguration", "launchTemplate", "mixedInstancesPolicy"})

INSTANCE_REFRESH_NOTE: Final = "instances will be replaced by a rolling instance refresh"


# --------------------------------------------------------------------------------------------
# Applying the rules to one changed resource
# --------------------------------------------------------------------------------------------


def top_key(path: str) -> str:
    """The top-level input a setting path belongs to: ``healthCheck`` for ``healthCheck.port``."""
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def apply_replacement_rule(
    type_token: str, settings: list[SettingChange], before: Inputs, after: Inputs
) -> tuple[list[SettingChange], list[str]]:
    """The settings with those that force a new resource marked, and the reasons the resource is
    replaced (none: it is updated in place, or its type has no rule)."""
    rule = REPLACEMENT_RULES.get(type_token)
    reasons: list[str] = []
    if rule is not None:
        forced = {setting.path for setting in settings if top_key(setting.path) in rule.force_new}
        settings = [
            SettingChange(s.path, s.before, s.after, s.added, s.removed, forces_replacement=True)
            if s.path in forced
            else s
            for s in settings
        ]
        for top in sorted({top_key(path) for path in forced}):
            reasons.append(f"`{top}` cannot be changed in place")
        for check in rule.checks:
            reasons.extend(check(before, after))
    return settings, reasons


def asg_follows_latest(head: Mapping[tuple[str, str], Mapping[str, Any]]) -> bool:
    """True when an auto scaling group of the head plan follows its launch template's ``$Latest``."""
    for (type_token, _), inputs in head.items():
        template = inputs.get("launchTemplate")
        if type_token == AUTOSCALING_GROUP and isinstance(template, dict) and template.get("version") == "$Latest":
            return True
    return False


def notes_for(
    type_token: str,
    settings: Sequence[SettingChange],
    before: Inputs,
    after: Inputs,
    replaced: bool,
    asg_uses_latest: bool,
) -> tuple[str, ...]:
    """What a reviewer must know beyond the settings: instances being replaced by a rolling
    refresh, or a load balancer becoming internet-facing."""
    top_keys = {top_key(setting.path) for setting in settings}
    if type_token == LAUNCH_TEMPLATE:
        if replaced:
            return (f"A new launch template replaces this one: {INSTANCE_REFRESH_NOTE}.",)
        if top_keys - _LAUNCH_TEMPLATE_NO_NEW_VERSION:
            if asg_uses_latest:
                return (
                    "Creates a new launch template version, but the auto scaling group uses `$Latest`, "
                    "which starts no instance refresh: running instances keep the old settings.",
                )
            return (f"Creates a new launch template version: {INSTANCE_REFRESH_NOTE}.",)
    if type_token == AUTOSCALING_GROUP and not replaced and after.get("instanceRefresh"):
        refresh = after["instanceRefresh"]
        extra = refresh.get("triggers") if isinstance(refresh, dict) else None
        triggers = _ASG_REFRESH_TRIGGERS | set(extra if isinstance(extra, list) else [])
        if top_keys & triggers:
            return (f"The group's launch settings change: {INSTANCE_REFRESH_NOTE}.",)
    if type_token == LOAD_BALANCER and before.get("internal") is True and after.get("internal") is False:
        return ("The load balancer would become internet-facing.",)
    return ()
