"""Session fixtures: every plan the tests need, computed once, in parallel subprocesses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from plans import FAKE_TOKEN, Plan, finish, plan_from, start, variant_stack_file

# The example dev stack on the oldest node family (other cloud-init.py path, `mirror` preset) with a
# blocking mode: one plan shows both that the 4.x boot script raises no false positive and that
# the mode policy reads `-m` there. Each plan costs a second, so variants are combined.
V48_BLOCK = {"nodeVersion": "4.8", "mode": "block"}


@dataclass(frozen=True)
class Plans:
    """The program's offline plans, and the inline-token user data it renders."""

    dev: Plan
    prod: Plan
    native: Plan  # analyzer nativeNode: NLB, traffic mirror target, filter, rules and a session
    hub: Plan  # a nativeNode hub: the same, and the RAM share of its traffic mirror target
    v48_block: Plan
    inline_user_data: str  # base64, as the launch template input, with FAKE_TOKEN inside


@pytest.fixture(scope="session")
def plans(tmp_path_factory: pytest.TempPathFactory) -> Plans:
    directory: Path = tmp_path_factory.mktemp("stacks")
    v48_block = variant_stack_file(directory, "dev-v48-block", V48_BLOCK)
    inline = variant_stack_file(directory, "dev-inline", {"tokenDelivery": "userData"})
    helper = Path(__file__).with_name("inline_token_user_data.py")
    # Started together: each is about a second of the mock engine, and two cores run them side by side.
    running = {
        "dev": start("-m", "wallarm_mirror", "plan", "--json", "--stack", "dev"),
        "prod": start("-m", "wallarm_mirror", "plan", "--json", "--stack", "prod"),
        "native": start("-m", "wallarm_mirror", "plan", "--json", "--stack", "native"),
        "hub": start("-m", "wallarm_mirror", "plan", "--json", "--stack", "hub"),
        "dev-v48-block": start("-m", "wallarm_mirror", "plan", "--json", "--config-file", str(v48_block)),
        "inline": start(str(helper), str(inline), FAKE_TOKEN),
    }
    try:
        out = {name: finish(process, f"the offline plan of {name}") for name, process in running.items()}
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return Plans(
        dev=plan_from(out["dev"]),
        prod=plan_from(out["prod"]),
        native=plan_from(out["native"]),
        hub=plan_from(out["hub"]),
        v48_block=plan_from(out["dev-v48-block"]),
        inline_user_data=out["inline"].strip(),
    )
