"""Resource options (ignore_changes, protect, delete_before_replace, retain_on_delete,
replace_on_changes) as the engine receives them.

None of them shows in a resource's inputs or in the offline plan, yet dropping one changes what a
later `pulumi up` does to live resources: without ignore_changes=["desired_capacity"] each update
resets the node count that target tracking has set. The offline engine notes the options of each
RegisterResource request; these tests read them back.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.components.test_native_stack import STATIC as NATIVE
from tests.conftest import DEV, PROD
from wallarm_mirror.offline.engine import OfflineRun

STACKS = {"dev": DEV, "prod": PROD, "native": NATIVE}

# Every option any resource of any example stack sets, as (resource kind, logical name) → options
# that differ from Pulumi's defaults. A new option needs a line here and a test of its own below.
EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("Group", "wallarm-mirror-asg"): {"ignoreChanges": ["desiredCapacity"]},
}


def set_options(run: OfflineRun) -> dict[tuple[str, str], dict[str, Any]]:
    """The options each custom resource sets, only those not at their default (False or empty)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for resource in run.resources:
        if not resource.custom:
            continue
        # By full type: an IAM and an autoscaling Policy may share a kind.
        options = {key: value for key, value in run.mocks.options[(resource.typ, resource.name)].items() if value}
        if options:
            found[(resource.kind, resource.name)] = options
    return found


@pytest.fixture(params=sorted(STACKS))
def stack(request: pytest.FixtureRequest, run_stack) -> tuple[str, OfflineRun]:
    return request.param, run_stack(STACKS[request.param])


def test_the_options_each_stack_sets_are_exactly_the_tested_ones(stack):
    name, run = stack
    found = set_options(run)
    assert found == {key: value for key, value in EXPECTED.items() if key in found}, name
    assert ("Group", "wallarm-mirror-asg") in found  # every stack has the node group


def test_asg_leaves_desired_capacity_to_target_tracking(stack):
    # desiredCapacity applies at creation; afterwards target tracking owns it, and an update that
    # set it back would scale a busy group down to the configured count.
    _, run = stack
    asg = run.only("Group")
    assert "desiredCapacity" in asg.inputs  # the creation value is still passed
    assert run.options_of("Group", asg.name)["ignoreChanges"] == ["desiredCapacity"]


def test_no_resource_is_protected_retained_or_replaced_first(stack):
    # Deletion protection is the ALB's own setting (deletionProtection), which the plan shows and
    # tests check; Pulumi-level protect/retain would make `pulumi destroy` of a dev stack fail or
    # leave resources behind unseen. Replace-before-delete (the default) keeps a node group serving.
    _, run = stack
    for resource in run.resources:
        options = run.mocks.options[(resource.typ, resource.name)]
        assert not options.get("protect"), resource.name
        assert not options.get("retainOnDelete"), resource.name
        assert not options.get("deleteBeforeReplace"), resource.name
        assert not options.get("replaceOnChanges"), resource.name
