"""ram-share-internal: a RAM resource share (a hub's shared traffic mirror target) reaches principals of the
organization only, unless the policy config allows external ones."""

from __future__ import annotations

from typing import Any

import pytest
import rules
from conftest import Plans
from plans import args_for, resource_args, violations
from test_policies import every_violation, only_violation

SHARE = "aws:ram/resourceShare:ResourceShare"
PRINCIPAL = "aws:ram/principalAssociation:PrincipalAssociation"


def share_violations(props: dict[str, Any], config: dict[str, Any] | None = None) -> list[str]:
    return violations(rules.RAM_SHARE_INTERNAL, resource_args(SHARE, "share", props, config=config))


@pytest.mark.parametrize("props", [{"allowExternalPrincipals": False}, {}, {"allowExternalPrincipals": "false"}])
def test_an_internal_share_passes(props: dict[str, Any]) -> None:
    assert share_violations({"name": "s", **props}) == []


@pytest.mark.parametrize("value", [True, "true", "True"])
def test_a_share_open_to_external_principals_is_one_violation_naming_the_fix(value: Any) -> None:
    (message,) = share_violations({"name": "s", "allowExternalPrincipals": value})
    assert message.startswith("RAM resource share share allows external principals")
    assert "wallarm-mirror:trafficMirrorShareExternal false" in message
    assert '{"ram-share-internal": {"allowExternal": true}}' in message


def test_the_policy_config_may_allow_external_principals() -> None:
    assert share_violations({"allowExternalPrincipals": True}, config={"allowExternal": True}) == []
    assert len(share_violations({"allowExternalPrincipals": True}, config={"allowExternal": False})) == 1


def test_other_resources_are_not_its_business() -> None:
    args = resource_args(PRINCIPAL, "p", {"principal": "222222222222", "allowExternalPrincipals": True})
    assert violations(rules.RAM_SHARE_INTERNAL, args) == []


def test_example_hub_stack_passes_every_policy(plans: Plans) -> None:
    hub = plans.hub
    # Not a vacuous pass: the hub plan holds the share, its target association and two principals.
    assert hub.one(SHARE)["inputs"]["allowExternalPrincipals"] is False
    assert len(hub.all(PRINCIPAL)) == 2
    assert every_violation(hub) == []


def test_the_hub_share_opened_to_external_principals_is_its_one_violation(plans: Plans) -> None:
    share = plans.hub.one(SHARE)
    opened = {**share["inputs"], "allowExternalPrincipals": True}
    found = only_violation(plans.hub, share, opened)
    assert found.startswith("ram-share-internal: RAM resource share wallarm-mirror-target-share allows external")
    allowed = args_for(plans.hub, share, props=opened, config={"allowExternal": True})
    assert violations(rules.RAM_SHARE_INTERNAL, allowed) == []
