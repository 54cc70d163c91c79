"""Credential-free diff of two offline plans, rendered as Markdown for a pull request comment.

The offline plan (``python -m wallarm_mirror plan --stack <s> --json``) lists what the program would
register: ``{"project", "stack", "resources": [{"type", "name", "inputs"}], "outputs", "warnings"}``.
Inputs use Pulumi wire names; every secret value is the placeholder ``"[secret]"``. Comparing the
plans of the base and head of a pull request tells a reviewer what a merge would change, without
cloud credentials, so it works for pull requests from forks too.

Whether a change is made in place or by replacing the resource is decided by the AWS provider at
``pulumi preview`` time. The offline diff cannot ask it, so :data:`REPLACEMENT_RULES` restates,
per resource type, which inputs the provider marks as forcing a new resource.

This module is pure standard library on purpose: it must run where Pulumi is not installed.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import difflib
import gzip
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NoReturn

SECRET: Final = "[secret]"
"""The placeholder the offline plan writes instead of any secret value."""

MAX_VALUE_CHARS: Final = 100
"""Longest value shown inline; longer ones are cut around the first difference."""


class _NotSet:
    """Marks a setting that one of the two plans does not have."""

    _instance: _NotSet | None = None

    def __new__(cls) -> _NotSet:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_SET"


NOT_SET: Final = _NotSet()
"""Value of :attr:`SettingChange.before` / ``after`` when the setting is absent on that side."""


class PlanError(ValueError):
    """A plan file cannot be read, is not JSON, or does not have the offline-plan shape."""


# --------------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingChange:
    """One setting (dotted path such as ``healthCheck.port`` or ``tags.env``) that differs.

    ``before``/``after`` hold the whole values (:data:`NOT_SET` when absent). For lists compared as
    collections, ``added``/``removed`` hold the items only in head / only in base; both empty with
    different lists means only the order changed.
    """

    path: str
    before: Any = NOT_SET
    after: Any = NOT_SET
    added: tuple[Any, ...] = ()
    removed: tuple[Any, ...] = ()
    forces_replacement: bool = False

    @property
    def is_collection_change(self) -> bool:
        """True when the change is rendered as items added/removed rather than before → after."""
        return isinstance(self.before, list) and isinstance(self.after, list)


@dataclass(frozen=True)
class ResourceSummary:
    """A resource that only one of the two plans has (added in head, or removed from base)."""

    type: str
    name: str
    inputs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceChange:
    """A resource present in both plans whose inputs differ.

    ``replacement_reasons`` is empty for an in-place update; otherwise each entry says which
    setting forces the provider to delete and re-create the resource. ``secret_paths`` lists
    settings that are secret in both plans: their values cannot be compared offline.
    """

    type: str
    name: str
    settings: tuple[SettingChange, ...]
    replacement_reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    secret_paths: tuple[str, ...] = ()

    @property
    def replaced(self) -> bool:
        """True when the resource is deleted and re-created rather than updated in place."""
        return bool(self.replacement_reasons)


@dataclass(frozen=True)
class ComponentChange:
    """A component resource (grouping only, no cloud object of its own) added, removed or changed."""

    kind: str  # "added", "removed" or "changed"
    type: str
    name: str


@dataclass(frozen=True)
class PlanDiff:
    """Everything that differs between two offline plans, in a deterministic order.

    ``changed`` holds in-place updates and ``replacements`` resources that are re-created; the two
    are disjoint. Component resources (grouping only, no cloud object) are kept out of the counts
    and summarised in ``component_changes``. ``callouts`` are the few consequences a reviewer must
    not miss, such as instances being replaced.
    """

    added: tuple[ResourceSummary, ...] = ()
    removed: tuple[ResourceSummary, ...] = ()
    changed: tuple[ResourceChange, ...] = ()
    replacements: tuple[ResourceChange, ...] = ()
    outputs: tuple[SettingChange, ...] = ()
    component_changes: tuple[ComponentChange, ...] = ()
    new_warnings: tuple[str, ...] = ()
    resolved_warnings: tuple[str, ...] = ()
    callouts: tuple[str, ...] = ()
    has_secrets: bool = False

    @property
    def has_changes(self) -> bool:
        """True when a merge would change resources, outputs or components."""
        return bool(
            self.added or self.removed or self.changed or self.replacements or self.outputs or self.component_changes
        )


# --------------------------------------------------------------------------------------------
# What forces a replacement
# --------------------------------------------------------------------------------------------

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
    old = {_canonical(item) for item in before.get("subnetMappings") or []}
    new = {_canonical(item) for item in after.get("subnetMappings") or []}
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
    if sorted(map(_canonical, old_subnets)) != sorted(map(_canonical, new_subnets)) and len(new_subnets) <= len(
        old_subnets
    ):
        reasons.append("`subnets`: a network load balancer can only add subnets in place")
    old_map = [_canonical(item) for item in before.get("subnetMappings") or []]
    new_map = [_canonical(item) for item in after.get("subnetMappings") or []]
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
# Loading and validating plans
# --------------------------------------------------------------------------------------------


def load_plan(path: Path | str) -> dict[str, Any]:
    """Read and validate one offline plan file; raises :class:`PlanError` with a one-line reason."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PlanError(f"{path} is not a JSON text file (not UTF-8)") from None
    except OSError as exc:
        raise PlanError(f"cannot read plan file {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    _validate_plan(data, str(path))
    return data


def _validate_plan(plan: Any, label: str) -> None:
    def fail(reason: str) -> PlanError:
        return PlanError(f"{label} is not an offline plan: {reason}")

    if not isinstance(plan, dict):
        raise fail("the top level must be a JSON object")
    resources = plan.get("resources")
    if not isinstance(resources, list):
        raise fail('"resources" must be a list of {"type", "name", "inputs"} objects')
    seen: set[tuple[str, str]] = set()
    for index, resource in enumerate(resources):
        if not isinstance(resource, dict) or not all(isinstance(resource.get(key), str) for key in ("type", "name")):
            raise fail(f'resources[{index}] must be an object with string "type" and "name"')
        if not isinstance(resource.get("inputs", {}), dict):
            raise fail(f"resources[{index}].inputs must be an object")
        key = (resource["type"], resource["name"])
        if key in seen:
            raise fail(f"resource {key[0]} {key[1]!r} appears twice")
        seen.add(key)
    if not isinstance(plan.get("outputs", {}), dict):
        raise fail('"outputs" must be an object')
    warnings = plan.get("warnings", [])
    if not isinstance(warnings, list) or not all(isinstance(item, str) for item in warnings):
        raise fail('"warnings" must be a list of strings')


# --------------------------------------------------------------------------------------------
# Diffing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Match:
    """Path segment of a list item found by an identifying field, e.g. ``tags[key=env]``."""

    field: str
    value: str


Segment = str | int | _Match

# Fields that identify an item of a list of objects (ASG tags, launch template tag
# specifications, block devices), so a list with one item more is not shown as every later
# index changing, and paths read `tags[key=env].value` rather than `tags[2].value`.
_IDENTITY_FIELDS: Final = ("key", "resourceType", "deviceName", "name")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _clean(value: Any) -> Any:
    # A null input and an absent input mean the same to the provider.
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_:/-]+")


def _join(path: Sequence[Segment]) -> str:
    text = ""
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif isinstance(segment, _Match):
            value = segment.value if _PLAIN_KEY.fullmatch(segment.value) else json.dumps(segment.value)
            text += f"[{segment.field}={value}]"
        elif _PLAIN_KEY.fullmatch(segment):
            text += f".{segment}" if text else segment
        else:
            text += f"[{json.dumps(segment)}]"
    return text


def _identity_field(before: list[Any], after: list[Any]) -> str | None:
    items = [*before, *after]
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for name in _IDENTITY_FIELDS:
        if all(isinstance(item.get(name), str) for item in items) and all(
            len({item[name] for item in side}) == len(side) for side in (before, after)
        ):
            return name
    return None


def _pair_items(before: list[Any], after: list[Any]) -> list[tuple[Segment, Any, Any]] | None:
    """Pair the items of two lists of objects by identity or, failing that, by position."""
    name = _identity_field(before, after)
    if name is not None:
        old = {item[name]: item for item in before}
        new = {item[name]: item for item in after}
        return [
            (_Match(name, key), old.get(key, NOT_SET), new.get(key, NOT_SET)) for key in sorted(set(old) | set(new))
        ]
    if len(before) == len(after) and not all(_is_scalar(item) for item in (*before, *after)):
        return [
            (index, old_item, new_item) for index, (old_item, new_item) in enumerate(zip(before, after, strict=True))
        ]
    return None


def _walk(before: Any, after: Any, path: tuple[Segment, ...]) -> Iterator[tuple[tuple[Segment, ...], Any, Any]]:
    """Yield (path, before, after) for every leaf-level difference, expanding nested objects."""
    if before == after:
        return
    in_list = bool(path) and isinstance(path[-1], _Match)
    before_is_dict = isinstance(before, dict) or before is NOT_SET
    after_is_dict = isinstance(after, dict) or after is NOT_SET
    if before_is_dict and after_is_dict and (isinstance(before, dict) or isinstance(after, dict)):
        old = before if isinstance(before, dict) else {}
        new = after if isinstance(after, dict) else {}
        if (not old and not new) or (in_list and NOT_SET in (before, after)):
            # A list item that comes or goes reads best as one line, not one per field.
            yield path, before, after
            return
        for key in sorted(set(old) | set(new)):
            yield from _walk(old.get(key, NOT_SET), new.get(key, NOT_SET), (*path, key))
        return
    if isinstance(before, list) and isinstance(after, list):
        pairs = _pair_items(before, after)
        if pairs is not None:
            for segment, old_item, new_item in pairs:
                yield from _walk(old_item, new_item, (*path, segment))
            return
    yield path, before, after


def _list_delta(before: list[Any], after: list[Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    old = Counter(_canonical(item) for item in before)
    new = Counter(_canonical(item) for item in after)
    return _take(after, new - old), _take(before, old - new)


def _take(items: list[Any], wanted: Counter[str]) -> tuple[Any, ...]:
    """The items whose canonical form `wanted` counts, as many of each as it counts, in list order."""
    taken: list[Any] = []
    for item in items:
        key = _canonical(item)
        if wanted[key] > 0:
            wanted[key] -= 1
            taken.append(item)
    return tuple(taken)


def _diff_values(before: Any, after: Any) -> tuple[list[SettingChange], list[str]]:
    """Setting changes between two input/output maps, plus paths secret on both sides."""
    changes: list[SettingChange] = []
    for path, old, new in _walk(before, after, ()):
        if isinstance(old, list) and isinstance(new, list):
            added, removed = _list_delta(old, new)
            changes.append(SettingChange(_join(path), old, new, added, removed))
        else:
            changes.append(SettingChange(_join(path), old, new))
    return changes, sorted(_secret_paths(before, after, ()))


def _secret_paths(before: Any, after: Any, path: tuple[Segment, ...]) -> Iterator[str]:
    if before == SECRET and after == SECRET:
        yield _join(path)
    elif isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) & set(after)):
            yield from _secret_paths(before[key], after[key], (*path, key))
    elif isinstance(before, list) and isinstance(after, list):
        for segment, old, new in _pair_items(before, after) or []:
            yield from _secret_paths(old, new, (*path, segment))


def _contains_secret(value: Any) -> bool:
    if value == SECRET:
        return True
    if isinstance(value, dict):
        return any(_contains_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(_contains_secret(item) for item in value)
    return False


def _top_key(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def _is_component(type_token: str) -> bool:
    # Bridged provider resources carry "module/resource" in the middle of the token
    # (aws:lb/loadBalancer:LoadBalancer); hand-written component tokens such as
    # wallarm:mirror:LoadBalancer, and the pulumi:pulumi:Stack root, do not. Provider
    # resources (pulumi:providers:aws) stay visible: changing one can replace everything.
    parts = type_token.split(":")
    if len(parts) != 3:
        return False
    package, module, _ = parts
    if package == "pulumi":
        return module == "pulumi"
    return "/" not in module


def _resource_map(plan: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(item["type"], item["name"]): _clean(item.get("inputs") or {}) for item in plan["resources"]}


def _asg_uses_latest(head: Mapping[tuple[str, str], Mapping[str, Any]]) -> bool:
    for (type_token, _), inputs in head.items():
        template = inputs.get("launchTemplate")
        if type_token == AUTOSCALING_GROUP and isinstance(template, dict) and template.get("version") == "$Latest":
            return True
    return False


def _notes_for(
    type_token: str,
    settings: Sequence[SettingChange],
    before: Inputs,
    after: Inputs,
    replaced: bool,
    asg_uses_latest: bool,
) -> tuple[str, ...]:
    top_keys = {_top_key(setting.path) for setting in settings}
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


def diff_plans(base: dict[str, Any], head: dict[str, Any]) -> PlanDiff:
    """Compare two offline plans (base = before the change, head = after it).

    Raises :class:`PlanError` when either dict does not have the offline-plan shape.
    """
    _validate_plan(base, "base")
    _validate_plan(head, "head")
    old = _resource_map(base)
    new = _resource_map(head)
    asg_uses_latest = _asg_uses_latest(new)

    added: list[ResourceSummary] = []
    removed: list[ResourceSummary] = []
    changed: list[ResourceChange] = []
    replacements: list[ResourceChange] = []
    components: list[ComponentChange] = []
    callouts: list[str] = []
    refresh_sources: list[str] = []

    for key in sorted(set(old) | set(new)):
        type_token, name = key
        if key not in old or key not in new:
            if _is_component(type_token):
                components.append(ComponentChange("added" if key in new else "removed", type_token, name))
            elif key in new:
                added.append(ResourceSummary(type_token, name, new[key]))
            else:
                removed.append(ResourceSummary(type_token, name, old[key]))
            continue
        settings, secret_paths = _diff_values(old[key], new[key])
        if not settings:
            continue
        if _is_component(type_token):
            components.append(ComponentChange("changed", type_token, name))
            continue
        rule = REPLACEMENT_RULES.get(type_token)
        reasons: list[str] = []
        if rule is not None:
            forced = {setting.path for setting in settings if _top_key(setting.path) in rule.force_new}
            settings = [
                SettingChange(s.path, s.before, s.after, s.added, s.removed, forces_replacement=True)
                if s.path in forced
                else s
                for s in settings
            ]
            for top in sorted({_top_key(path) for path in forced}):
                reasons.append(f"`{top}` cannot be changed in place")
            for check in rule.checks:
                reasons.extend(check(old[key], new[key]))
        notes = _notes_for(type_token, settings, old[key], new[key], bool(reasons), asg_uses_latest)
        change = ResourceChange(type_token, name, tuple(settings), tuple(reasons), notes, tuple(secret_paths))
        (replacements if change.replaced else changed).append(change)
        for note in notes:
            if INSTANCE_REFRESH_NOTE in note:
                kind = "launch template" if type_token == LAUNCH_TEMPLATE else "auto scaling group"
                refresh_sources.append(f"{kind} {_code(name)}")
            elif "internet-facing" in note:
                callouts.append(f"**The load balancer {_code(name)} would become internet-facing.**")
    if refresh_sources:
        # One callout however many resources lead to it: the instances are replaced once.
        callouts.insert(
            0, f"**Instances will be replaced by a rolling instance refresh** ({', '.join(refresh_sources)})."
        )

    outputs, _ = _diff_values(_clean(base.get("outputs") or {}), _clean(head.get("outputs") or {}))
    base_warnings = list(base.get("warnings") or [])
    head_warnings = list(head.get("warnings") or [])
    has_secrets = any(_contains_secret(plan.get(part)) for plan in (base, head) for part in ("resources", "outputs"))
    return PlanDiff(
        added=tuple(added),
        removed=tuple(removed),
        changed=tuple(changed),
        replacements=tuple(replacements),
        outputs=tuple(outputs),
        component_changes=tuple(components),
        new_warnings=tuple(item for item in head_warnings if item not in base_warnings),
        resolved_warnings=tuple(item for item in base_warnings if item not in head_warnings),
        callouts=tuple(callouts),
        has_secrets=has_secrets,
    )


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------

_SECRET_TEXT: Final = "(secret, value not shown)"
_NOT_SET_TEXT: Final = "(not set)"


def _code(text: str) -> str:
    """An inline code span that survives backticks in untrusted text."""
    text = text.replace("\r", "").replace("\n", "⏎")
    if text == "":
        return '`""`'
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _escape_text(text: str) -> str:
    """Plain text from a plan, safe to place in Markdown (no markup, no @-mentions)."""
    text = " ".join(text.split())
    text = re.sub(r"([\\`*_\[\]<>#|~!])", r"\\\1", text)
    return text.replace("@", "@\u200b")


def _raw(value: Any) -> str:
    return value if isinstance(value, str) else _canonical(value)


def _cut(text: str, start: int = 0) -> str:
    if len(text) <= MAX_VALUE_CHARS:
        return text
    start = max(0, min(start, len(text) - MAX_VALUE_CHARS))
    prefix = "…" if start > 0 else ""
    end = start + MAX_VALUE_CHARS
    suffix = "…" if end < len(text) else ""
    return f"{prefix}{text[start:end]}{suffix}"


def _show(value: Any, start: int = 0) -> str:
    if value is NOT_SET:
        return _NOT_SET_TEXT
    if value == SECRET:
        return _SECRET_TEXT
    return _code(_cut(_raw(value), start))


def _show_pair(before: Any, after: Any) -> tuple[str, str]:
    old, new = _raw(before), _raw(after)
    if before is not NOT_SET and after is not NOT_SET and old == new:
        # Same text, different JSON types (8445 vs "8445"): show the types.
        old, new = _canonical(before), _canonical(after)
        return _code(_cut(old)), _code(_cut(new))
    start = 0
    if isinstance(before, str) and isinstance(after, str):
        common = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
        start = max(0, common - 20)
    return _show(before, start), _show(after, start)


_BASE64_LINE = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def _expand_base64_blocks(lines: list[str]) -> tuple[list[str], bool]:
    """Replace wrapped base64 blocks inside a text (files a boot script writes with `base64 -d`)
    by the text they hold, so a diff shows the changed line instead of re-wrapped base64."""
    result: list[str] = []
    expanded = False
    index = 0
    while index < len(lines):
        end = index
        if len(lines[index].strip()) >= 40 and _BASE64_LINE.fullmatch(lines[index].strip()):
            # Padding ends a block; a heredoc terminator such as `B64` may look like base64 too,
            # so the longest run that decodes wins.
            while end < len(lines) and _BASE64_LINE.fullmatch(lines[end].strip()):
                end += 1
                if lines[end - 1].rstrip().endswith("="):
                    break
            for stop in range(end, index, -1):
                decoded = _decoded_text("".join(line.strip() for line in lines[index:stop]))
                if decoded is not None:
                    result.extend(decoded.splitlines())
                    expanded = True
                    index = stop
                    break
            else:
                result.append(lines[index])
                index += 1
            continue
        result.append(lines[index])
        index += 1
    return result, expanded


def _multiline_change(before: str, after: str) -> str:
    old, old_expanded = _expand_base64_blocks(before.splitlines())
    new, new_expanded = _expand_base64_blocks(after.splitlines())
    opcodes = [op for op in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes() if op[0] != "equal"]
    if not opcodes:
        return "text changes only in line endings"
    removed = sum(i2 - i1 for _, i1, i2, _, _ in opcodes)
    added = sum(j2 - j1 for _, _, _, j1, j2 in opcodes)
    _, i1, i2, j1, j2 = opcodes[0]
    # Indentation is noise in an inline code span; the line number says where it is.
    first_old = old[i1].strip() if i1 < i2 else None
    first_new = new[j1].strip() if j1 < j2 else None
    where = f"text changes at line {j1 + 1}"
    if first_old is not None and first_new is not None:
        detail = f"{_code(_cut(first_old))} → {_code(_cut(first_new))}"
    elif first_new is not None:
        detail = f"adds {_code(_cut(first_new))}"
    else:
        detail = f"drops {_code(_cut(first_old or ''))}"
    plural = "" if added == 1 else "s"
    decoded = ", embedded base64 decoded" if old_expanded or new_expanded else ""
    return f"{where}: {detail} ({added} line{plural} added, {removed} removed{decoded})"


def _decoded_text(value: str) -> str | None:
    """The text inside a base64 value such as launch template ``userData``, or None if it is not one."""
    if len(value) < 24 or len(value) % 4:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
        # Boot scripts over EC2's 16 KB limit are stored gzip-compressed (cloud-init unpacks them).
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
    except (binascii.Error, ValueError, OSError, EOFError):
        return None
    # Requiring a line break keeps short ids that happen to be valid base64 out.
    if "\n" not in text or not all(ch.isprintable() or ch in "\n\r\t" for ch in text):
        return None
    return text


def _setting_line(setting: SettingChange) -> str:
    label = _code(setting.path) if setting.path else "(whole value)"
    if setting.is_collection_change:
        parts: list[str] = []
        if setting.added:
            parts.append("added " + ", ".join(_show(item) for item in setting.added))
        if setting.removed:
            parts.append("removed " + ", ".join(_show(item) for item in setting.removed))
        return f"{label}: " + ("; ".join(parts) if parts else "order changed")
    before, after = setting.before, setting.after
    if SECRET not in (before, after) and isinstance(before, str) and isinstance(after, str):
        old_text, new_text = _decoded_text(before), _decoded_text(after)
        if old_text is not None and new_text is not None:
            return f"{label} (base64-decoded): {_multiline_change(old_text, new_text)}"
    if (
        SECRET not in (before, after)
        and isinstance(before, str)
        and isinstance(after, str)
        and ("\n" in before or "\n" in after)
    ):
        return f"{label}: {_multiline_change(before, after)}"
    old, new = _show_pair(before, after)
    return f"{label}: {old} → {new}"


def _resource_title(type_token: str, name: str) -> str:
    return f"{_code(type_token)} **{_code(name)}**"


_SUMMARY_KEYS: Final = (
    "cidrIpv4",
    "cidrIpv6",
    "referencedSecurityGroupId",
    "prefixListId",
    "ipProtocol",
    "fromPort",
    "toPort",
    "port",
    "protocol",
    "instanceType",
    "imageId",
    "internal",
)
_SUMMARY_MAX: Final = 4


def _summary(resource: ResourceSummary) -> str:
    # A few identifying scalars, preferred keys first, so an added rule reads as "cidrIpv4 10.0.0.0/16".
    scalars = {key: value for key, value in resource.inputs.items() if _is_scalar(value) and value != SECRET}
    keys = [key for key in _SUMMARY_KEYS if key in scalars]
    keys += [key for key in sorted(scalars) if key not in keys]
    shown = [f"{key} {_code(_cut(_raw(scalars[key])))}" for key in keys[:_SUMMARY_MAX]]
    line = f"- {_resource_title(resource.type, resource.name)}"
    return f"{line}: {', '.join(shown)}" if shown else line


def _change_lines(change: ResourceChange) -> list[str]:
    head = f"- {_resource_title(change.type, change.name)}"
    if change.replaced:
        head += " — replaced because " + "; ".join(change.replacement_reasons)
    lines = [head]
    lines += [f"  - {_setting_line(setting)}" for setting in change.settings]
    lines += [f"  - ⚠️ {note}" for note in change.notes]
    # Both sides hold the same placeholder, so nothing can be said about a change: say so.
    lines += [
        f"  - {_code(path)}: secret, value not shown (cannot be compared offline)" for path in change.secret_paths
    ]
    return lines


def headline(diff: PlanDiff) -> str:
    """The one-line count of resource changes, e.g. ``2 to change, 1 to replace, 0 to add, 0 to remove``."""
    return (
        f"{len(diff.changed)} to change, {len(diff.replacements)} to replace, "
        f"{len(diff.added)} to add, {len(diff.removed)} to remove"
    )


def render_markdown(
    diff: PlanDiff, base_label: str = "base", head_label: str = "head", *, title: str | None = None
) -> str:
    """Markdown for a pull request comment: headline, then replacements, changes, additions,
    removals, output and warning changes. Deterministic for the same diff."""
    heading = title if title is not None else f"Plan diff: {base_label} → {head_label}"
    lines = [f"### {_escape_text(heading)}", ""]
    if not diff.has_changes:
        lines += ["No changes.", ""]
    else:
        lines += [f"**{headline(diff)}**", ""]
        for callout in diff.callouts:  # one quote each: consecutive quote lines would merge
            lines += [f"> ⚠️ {callout}", ""]
        sections: list[tuple[str, list[str]]] = [
            ("Replaced (deleted and re-created)", [ln for c in diff.replacements for ln in _change_lines(c)]),
            ("Changed in place", [ln for c in diff.changed for ln in _change_lines(c)]),
            ("Added", [_summary(resource) for resource in diff.added]),
            ("Removed", [_summary(resource) for resource in diff.removed]),
            ("Outputs", [f"- {_setting_line(setting)}" for setting in diff.outputs]),
        ]
        for name, body in sections:
            if body:
                lines += [f"#### {name}", "", *body, ""]
        if diff.component_changes:
            items = [f"{c.kind} {_code(c.type)} {_code(c.name)}" for c in diff.component_changes]
            lines += [f"Grouping components (no cloud resources of their own): {'; '.join(items)}.", ""]
    warnings = [f"- New: {_escape_text(item)}" for item in diff.new_warnings]
    warnings += [f"- Resolved: {_escape_text(item)}" for item in diff.resolved_warnings]
    if warnings:
        lines += ["#### Warnings", "", *warnings, ""]
    if diff.has_changes and diff.has_secrets:
        lines += [
            "<sub>Secret values are redacted in offline plans, so a change to a secret alone does not "
            "show here; `pulumi preview` shows it.</sub>",
            "",
        ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


class _UsageError(Exception):
    pass


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse prints usage and exits; we want one line
        raise _UsageError(message)


def main(argv: list[str] | None = None) -> int:
    """``python -m wallarm_mirror diff BASE.json HEAD.json [--title T]``: print the Markdown diff.

    Exit 0 whether or not anything changed; 2 with a one-line message on stderr when a plan file
    is unreadable, not JSON, or not an offline plan.
    """
    parser = _ArgumentParser(
        prog="python -m wallarm_mirror diff",
        description="Markdown summary of what changes between two offline plans (base → head).",
    )
    parser.add_argument("base", help="plan JSON of the base (before), from `plan --json`")
    parser.add_argument("head", help="plan JSON of the head (after), from `plan --json`")
    parser.add_argument("--title", help="heading of the Markdown (default: 'Plan diff: BASE → HEAD')")
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(f"error: {exc} (usage: {parser.prog} BASE.json HEAD.json [--title TITLE])", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    try:
        base = load_plan(args.base)
        head = load_plan(args.head)
    except PlanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    diff = diff_plans(base, head)
    sys.stdout.write(render_markdown(diff, Path(args.base).name, Path(args.head).name, title=args.title))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
