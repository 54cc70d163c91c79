"""Spec of the GitHub Actions workflows: structure, permissions, and the shell that really runs.

The workflows cannot run here, so the tests read them as data (PyYAML parses the `on:` key as
True) and execute the shell snippets that matter in a temporary directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
DIFF_MODULES = sorted((ROOT / "wallarm_mirror" / "offline").glob("diff*.py"))


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1: the key `on` is the boolean true
    return data


def all_workflows() -> dict[str, dict[str, Any]]:
    return {path.name: load(path.name) for path in sorted(WORKFLOWS.glob("*.yml"))}


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    found = [step for step in job["steps"] if str(step.get("uses", "")).split("@")[0] == action]
    assert len(found) == 1, f"expected one step using {action}, found {len(found)}"
    return found[0]


def named_step(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(step for step in job["steps"] if step.get("name") == name)


def bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # The shell GitHub uses for `run:` on Linux runners.
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        # `python3` in the snippets resolves to the interpreter running the tests.
        env={"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "HOME": str(cwd), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def read_outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


PREVIEW = load("preview.yml")
PLAN_DIFF = load("plan-diff.yml")
COMMENT = load("plan-diff-comment.yml")


# ------------------------------------------------------------------------------------------
# Everywhere
# ------------------------------------------------------------------------------------------


def test_the_three_workflows_exist():
    assert set(all_workflows()) == {"preview.yml", "plan-diff.yml", "plan-diff-comment.yml"}


@pytest.mark.parametrize("name", ["preview.yml", "plan-diff.yml", "plan-diff-comment.yml"])
def test_no_expression_is_interpolated_into_a_script(name: str):
    # Untrusted values (PR titles, branch names, artifact text) reach scripts only through env.
    for step in steps(load(name)):
        for text in (step.get("run", ""), step.get("with", {}).get("script", "")):
            assert "${{" not in text, f"{name}: step {step.get('name') or step.get('uses')} interpolates an expression"


@pytest.mark.parametrize("name", ["preview.yml", "plan-diff.yml", "plan-diff-comment.yml"])
def test_no_long_lived_aws_keys(name: str):
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    assert "aws-access-key-id" not in text
    assert "aws-secret-access-key" not in text
    assert "AWS_ACCESS_KEY_ID" not in text


# `uses: owner/repo@<full commit SHA> # vX.Y.Z`: a tag can be moved to other code, a commit
# cannot; the comment is the version Dependabot reads and bumps together with the SHA.
PINNED_USES = re.compile(r"uses: [\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40} # v\d+\.\d+\.\d+")


@pytest.mark.parametrize("name", ["preview.yml", "plan-diff.yml", "plan-diff-comment.yml"])
def test_actions_are_pinned_to_a_commit_with_its_version(name: str):
    lines = [line.strip().removeprefix("- ") for line in (WORKFLOWS / name).read_text(encoding="utf-8").splitlines()]
    uses = [line for line in lines if line.startswith("uses:")]
    assert len(uses) == sum("uses" in step for step in steps(load(name))) > 0
    for line in uses:
        assert PINNED_USES.fullmatch(line), line


def test_one_action_is_pinned_to_one_commit_everywhere():
    # Two SHAs for one action means a bump that reached only some of its uses.
    pins: dict[str, set[str]] = {}
    for workflow in all_workflows().values():
        for step in steps(workflow):
            if "uses" in step:
                action, ref = step["uses"].split("@")
                pins.setdefault(action, set()).add(ref)
    assert {action: len(refs) for action, refs in pins.items()} == dict.fromkeys(pins, 1)
    assert "aws-actions/configure-aws-credentials" in pins  # v5+ (node24); v4 ran on the deprecated node20


@pytest.mark.parametrize("name", ["preview.yml", "plan-diff.yml", "plan-diff-comment.yml"])
def test_checkouts_do_not_keep_the_token(name: str):
    for step in steps(load(name)):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


# ------------------------------------------------------------------------------------------
# preview.yml: discover → preview (per stack) → up (marked stacks, main)
# ------------------------------------------------------------------------------------------


def test_preview_runs_on_pull_requests_and_pushes_to_main():
    assert set(PREVIEW["on"]) == {"pull_request", "push"}
    assert PREVIEW["on"]["push"]["branches"] == ["main"]


def test_preview_jobs_are_wired_by_needs_and_matrix_comes_from_discover():
    jobs = PREVIEW["jobs"]
    assert set(jobs) == {"discover", "preview", "up"}
    assert jobs["discover"]["outputs"] == {
        "stacks": "${{ steps.stacks.outputs.stacks }}",
        "up_stacks": "${{ steps.stacks.outputs.up_stacks }}",
    }
    assert jobs["preview"]["needs"] == "discover"
    assert jobs["preview"]["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.discover.outputs.stacks) }}"
    assert jobs["up"]["needs"] == "discover"
    assert jobs["up"]["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.discover.outputs.up_stacks) }}"
    # An empty matrix is an error in GitHub Actions, so both jobs are skipped when it would be.
    assert "needs.discover.outputs.stacks != '[]'" in jobs["preview"]["if"]
    assert "needs.discover.outputs.up_stacks != '[]'" in jobs["up"]["if"]


def discover_script() -> str:
    return named_step(PREVIEW["jobs"]["discover"], "List Pulumi.<stack>.yaml files")["run"]


def test_discover_lists_stack_files_for_real(tmp_path: Path):
    for name in ["Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "Pulumi.prod.eu-west-1.yaml", "README.md"]:
        (tmp_path / name).write_text("config: {}\n")
    (tmp_path / "Pulumi.$(touch pwned).yaml").write_text("config: {}\n")  # hostile name from a PR
    (tmp_path / "Pulumi.folder.yaml").mkdir()
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "Pulumi.nested.yaml").write_text("config: {}\n")
    output = tmp_path / "github_output"

    result = bash(discover_script(), tmp_path, {"GITHUB_OUTPUT": str(output), "UP_STACKS": "prod, staging"})

    assert result.returncode == 0, result.stderr
    outputs = read_outputs(output)
    assert json.loads(outputs["stacks"]) == ["dev", "prod", "prod.eu-west-1"]
    assert json.loads(outputs["up_stacks"]) == ["prod"]
    assert "::warning::ignored 2 Pulumi.*.yaml file(s) whose stack name is not plain" in result.stderr
    assert "::warning::PULUMI_UP_STACKS names 1 stack(s) without a Pulumi.<stack>.yaml" in result.stderr
    assert not (tmp_path / "pwned").exists()


def test_discover_with_no_stack_files_and_no_marker_prints_empty_lists(tmp_path: Path):
    output = tmp_path / "github_output"

    result = bash(discover_script(), tmp_path, {"GITHUB_OUTPUT": str(output)})

    assert result.returncode == 0, result.stderr
    assert read_outputs(output) == {"stacks": "[]", "up_stacks": "[]"}


def test_discover_reads_the_up_marker_from_a_repository_variable():
    step = named_step(PREVIEW["jobs"]["discover"], "List Pulumi.<stack>.yaml files")
    assert step["env"] == {"UP_STACKS": "${{ vars.PULUMI_UP_STACKS }}"}
    assert PREVIEW["jobs"]["discover"]["permissions"] == {"contents": "read"}


def test_preview_permissions_are_exactly_what_it_needs():
    assert PREVIEW["permissions"] == {}
    assert PREVIEW["jobs"]["preview"]["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",
    }
    assert PREVIEW["jobs"]["up"]["permissions"] == {"contents": "read", "id-token": "write"}


def test_credentialed_preview_is_skipped_for_fork_pull_requests():
    condition = PREVIEW["jobs"]["preview"]["if"]
    assert "github.event_name != 'pull_request'" in condition
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition


def test_preview_installs_the_hash_checked_lock_into_the_programs_virtualenv():
    pulumi_yaml = yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))
    venv = pulumi_yaml["runtime"]["options"]["virtualenv"]
    for job in ("preview", "up"):
        script = named_step(PREVIEW["jobs"][job], "Install the program's dependencies")["run"]
        assert script.splitlines() == [
            f"python -m venv {venv}",
            f"{venv}/bin/python -m pip install --require-hashes -r requirements.lock.txt",
        ]


def test_workflows_run_the_python_the_locks_are_tested_with():
    # .ci/run and ./dev run on CPython 3.11; the locks are compiled for 3.11 and newer.
    for workflow in all_workflows().values():
        for step in steps(workflow):
            if str(step.get("uses", "")).startswith("actions/setup-python@"):
                assert step["with"] == {"python-version": "3.11"}  # no pip cache a PR run could seed


@pytest.mark.parametrize(("job", "command"), [("preview", "preview"), ("up", "up")])
def test_pulumi_action_inputs(job: str, command: str):
    step = step_using(PREVIEW["jobs"][job], "pulumi/actions")
    inputs = step["with"]
    assert inputs["command"] == command
    assert "matrix.stack" in inputs["stack-name"]
    assert inputs["work-dir"] == "."
    assert inputs["diff"] is True
    if job == "preview":
        assert inputs["comment-on-pr"] is True


def test_preview_gets_the_read_only_token_of_the_preview_environment():
    preview = PREVIEW["jobs"]["preview"]
    assert preview["environment"] == "preview"
    token = step_using(preview, "pulumi/actions")["env"]
    assert token == {"PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_PREVIEW_TOKEN }}"}


def test_up_gets_the_deploy_token_of_the_stacks_environment():
    up = PREVIEW["jobs"]["up"]
    assert up["environment"] == "${{ matrix.stack }}"
    token = step_using(up, "pulumi/actions")["env"]
    assert token == {"PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}


def test_only_jobs_in_an_environment_read_secrets():
    # A repository secret reaches every same-repository pull request run; an environment secret
    # only the jobs its environment admits (the deploy environments admit main only).
    for name, workflow in all_workflows().items():
        for job_name, job in workflow["jobs"].items():
            text = yaml.safe_dump(job)
            if "secrets." in text:
                assert "environment" in job, f"{name}: job {job_name} reads a secret outside any environment"


@pytest.mark.parametrize("job", ["preview", "up"])
def test_aws_credentials_come_from_oidc_role_assumption(job: str):
    steps_ = PREVIEW["jobs"][job]["steps"]
    step = step_using(PREVIEW["jobs"][job], "aws-actions/configure-aws-credentials")
    assert set(step["with"]) == {"role-to-assume", "aws-region", "role-session-name"}
    assert "vars.AWS_ROLE_ARN" in step["with"]["role-to-assume"]
    assert step["with"]["aws-region"] == "${{ vars.AWS_REGION }}"
    # Credentials are in place before Pulumi runs.
    assert steps_.index(step) < steps_.index(step_using(PREVIEW["jobs"][job], "pulumi/actions"))


def test_up_runs_only_on_pushes_to_main():
    condition = PREVIEW["jobs"]["up"]["if"]
    assert "github.event_name == 'push'" in condition
    assert "github.ref == 'refs/heads/main'" in condition


def test_up_has_an_environment_per_stack_and_never_overlaps():
    up = PREVIEW["jobs"]["up"]
    assert up["environment"] == "${{ matrix.stack }}"
    assert up["concurrency"] == {"group": "pulumi-up-${{ matrix.stack }}", "cancel-in-progress": False}


def test_a_push_never_cancels_a_running_workflow():
    assert PREVIEW["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


# ------------------------------------------------------------------------------------------
# plan-diff.yml: credential-free, forks included, uploads Markdown only
# ------------------------------------------------------------------------------------------


def test_plan_diff_runs_for_every_pull_request_without_secrets_or_write_access():
    text = (WORKFLOWS / "plan-diff.yml").read_text(encoding="utf-8")
    assert set(PLAN_DIFF["on"]) == {"pull_request"}
    assert "secrets." not in text
    assert "id-token" not in text
    assert PLAN_DIFF["permissions"] == {"contents": "read"}
    assert all(job["permissions"] == {"contents": "read"} for job in PLAN_DIFF["jobs"].values())


def test_plan_diff_checks_out_base_and_head_side_by_side():
    job = PLAN_DIFF["jobs"]["plan-diff"]
    checkouts = [step for step in job["steps"] if str(step.get("uses", "")).startswith("actions/checkout@")]
    assert [step["with"]["path"] for step in checkouts] == ["head", "base"]
    assert "ref" not in checkouts[0]["with"]  # the pull request merge/head commit
    assert checkouts[1]["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"


def test_plan_diff_lists_stacks_with_the_same_snippet_as_preview():
    step = named_step(PLAN_DIFF["jobs"]["plan-diff"], "List Pulumi.<stack>.yaml files")
    assert step["run"] == discover_script()
    assert step["working-directory"] == "head"


def test_plan_diff_artifact_is_what_the_comment_workflow_downloads():
    upload = step_using(PLAN_DIFF["jobs"]["plan-diff"], "actions/upload-artifact")
    download = step_using(COMMENT["jobs"]["comment"], "actions/download-artifact")
    assert upload["if"] == "always()"
    assert upload["with"]["name"] == download["with"]["name"] == "plan-diff"
    assert COMMENT["on"]["workflow_run"]["workflows"] == [PLAN_DIFF["name"]]


FAKE_MAIN = """
import json, sys
from pathlib import Path

args = sys.argv[1:]
if args[0] == "plan":
    stack = args[args.index("--stack") + 1]
    print(json.dumps(json.loads(Path(f"Pulumi.{stack}.yaml").read_text())))  # fails on a broken stack
elif args[0] == "diff":
    from wallarm_mirror.offline.diff import main
    sys.exit(main(args[1:]))
"""


def fake_checkout(root: Path, stacks: dict[str, str]) -> None:
    """A checkout whose `python -m wallarm_mirror plan` prints the plan stored in the stack file."""
    package = root / "wallarm_mirror"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(FAKE_MAIN)
    (package / "offline").mkdir()
    (package / "offline" / "__init__.py").write_text("")
    for module in DIFF_MODULES:  # the diff is standard library only: it runs without the program's packages
        shutil.copy(module, package / "offline" / module.name)
    for stack, content in stacks.items():
        (root / f"Pulumi.{stack}.yaml").write_text(content)
    python = root / ".venv-plan" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)


def plan_json(port: int) -> str:
    resource = {"type": "aws:lb/targetGroup:TargetGroup", "name": "wallarm-mirror-tg", "inputs": {"port": port}}
    return json.dumps({"project": "wallarm-mirror", "stack": "x", "resources": [resource], "outputs": {}})


def test_plan_diff_script_plans_both_sides_and_writes_the_comment_markdown(tmp_path: Path):
    fake_checkout(tmp_path / "base", {"dev": plan_json(8445)})
    fake_checkout(tmp_path / "head", {"dev": plan_json(9000), "broken": "not json", "staging": plan_json(8445)})
    summary = tmp_path / "summary.md"
    script = named_step(PLAN_DIFF["jobs"]["plan-diff"], "Plan base and head, diff per stack")["run"]

    result = bash(
        script,
        tmp_path,
        {
            "GITHUB_WORKSPACE": str(tmp_path),
            "GITHUB_STEP_SUMMARY": str(summary),
            "STACKS": json.dumps(["broken", "dev", "staging"]),
            "PR_NUMBER": "42",
            "HEAD_SHA": "0123abc",
        },
    )

    out = tmp_path / "plan-diff"
    markdown = (out / "plan-diff.md").read_text()
    lines = markdown.splitlines()
    assert result.returncode == 1  # the broken stack fails the job, after the others are diffed
    assert "::error::the offline plan of stack broken failed on the pull request head" in result.stdout
    assert lines[0] == "## Offline plan diff"
    assert "The offline plan fails on the pull request head; see the *Plan diff* workflow log." in lines
    dev = lines.index("### Stack: dev")
    assert lines[dev + 2] == "**0 to change, 1 to replace, 0 to add, 0 to remove**"
    staging = lines.index("### Stack: staging")
    assert lines[staging - 1] == ""  # sections of consecutive stacks do not run together
    assert lines[staging + 2] == "**0 to change, 0 to replace, 1 to add, 0 to remove**"
    assert lines[-2:] == [
        "The base has no offline plan for this stack (a new stack, or the plan command is missing there), "
        "so everything shows as added.",
        "",
    ]
    assert (out / "pr-number").read_text() == "42\n"
    assert (out / "head-sha").read_text() == "0123abc\n"
    assert summary.read_text() == markdown


# ------------------------------------------------------------------------------------------
# plan-diff-comment.yml: privileged, so it never touches pull request code
# ------------------------------------------------------------------------------------------


def test_comment_workflow_runs_after_plan_diff_with_only_comment_rights():
    assert COMMENT["on"] == {"workflow_run": {"workflows": ["Plan diff"], "types": ["completed"]}}
    assert COMMENT["permissions"] == {}
    assert COMMENT["jobs"]["comment"]["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert "github.event.workflow_run.event == 'pull_request'" in COMMENT["jobs"]["comment"]["if"]


def test_comment_workflow_never_checks_out_or_runs_pull_request_code():
    for step in steps(COMMENT):
        assert "run" not in step
        assert not str(step.get("uses", "")).startswith("actions/checkout@")
    download = step_using(COMMENT["jobs"]["comment"], "actions/download-artifact")
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"


def test_comment_script_checks_the_pr_number_and_keeps_one_sticky_comment():
    script = step_using(COMMENT["jobs"]["comment"], "actions/github-script")["with"]["script"]
    assert "/^[0-9]{1,10}$/.test(number)" in script
    assert "pr.head.sha !== process.env.RUN_HEAD_SHA" in script
    assert "updateComment" in script
    assert "createComment" in script
    assert "c.body.startsWith(marker)" in script


def test_plan_diff_installs_each_sides_lock_with_hashes(tmp_path: Path):
    # A stand-in `python`: `-m venv DIR` makes DIR/bin/python, which records the pip arguments.
    stub = tmp_path / "bin" / "python"
    stub.parent.mkdir()
    stub.write_text(
        "#!/bin/sh\n"
        'if [ "$1 $2" = "-m venv" ]; then\n'
        '  mkdir -p "$3/bin" && cp "$0" "$3/bin/python"\n'
        'else echo "$0 $*" >> "$PIP_LOG"; fi\n'
    )
    stub.chmod(0o755)
    for side, files in {"head": ["requirements.txt", "requirements.lock.txt"], "base": ["requirements.txt"]}.items():
        (tmp_path / side).mkdir()
        for name in files:
            (tmp_path / side / name).write_text("")
    log = tmp_path / "pip.log"
    script = named_step(PLAN_DIFF["jobs"]["plan-diff"], "Install requirements of head and base")["run"]

    result = bash(script, tmp_path, {"PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}", "PIP_LOG": str(log)})

    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [
        "head/.venv-plan/bin/python -m pip install --quiet --require-hashes -r head/requirements.lock.txt",
        # A base from before the locks plans with what it had.
        "base/.venv-plan/bin/python -m pip install --quiet -r base/requirements.txt",
    ]


# ------------------------------------------------------------------------------------------
# zizmor, the GitHub Actions security linter, offline
# ------------------------------------------------------------------------------------------

ZIZMOR = Path(sys.executable).with_name("zizmor")


def zizmor(path: Path) -> list[dict[str, Any]]:
    """zizmor's findings for a directory, from the auditor persona (its most thorough)."""
    # --offline: no GitHub API calls (CI has no network and no token); the audits that need them
    # (known-vulnerable actions, tag/SHA checks) are left to Dependabot's bump pull requests.
    result = subprocess.run(
        [str(ZIZMOR), "--offline", "--persona", "auditor", "--format", "json", "--no-progress", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    # Exit codes: 0 clean, 1 error, 10 + the highest severity found otherwise.
    assert result.returncode != 1 and result.stdout.startswith("["), result.stderr
    return json.loads(result.stdout)


def above_low(findings: list[dict[str, Any]]) -> list[str]:
    return [
        f"{f['ident']} ({f['determinations']['severity']}) at "
        f"{f['locations'][0]['symbolic']['key']['Local']['verbatim_path']}:"
        f"{f['locations'][0]['concrete']['location']['start_point']['row'] + 1}"
        for f in findings
        if f["determinations"]["severity"] not in ("Informational", "Low")
    ]


def test_zizmor_finds_nothing_above_low():
    assert above_low(zizmor(ROOT / ".github")) == []


def test_zizmor_would_flag_an_action_pinned_to_a_tag(tmp_path: Path):
    # The check above can fail: the same workflows with one action back on its tag.
    copy = tmp_path / ".github"
    shutil.copytree(ROOT / ".github", copy)
    workflow = copy / "workflows" / "plan-diff.yml"
    text = workflow.read_text(encoding="utf-8")
    workflow.write_text(re.sub(r"actions/checkout@[0-9a-f]{40} # v(\d+)\S*", r"actions/checkout@v\1", text, count=1))

    assert [finding.split(" at ")[0] for finding in above_low(zizmor(copy))] == ["unpinned-uses (High)"]


def test_every_zizmor_ignore_says_why():
    ignore = re.compile(r"# zizmor: ignore\[[a-z-]+(, *[a-z-]+)*\](.*)")
    for path in sorted((ROOT / ".github").rglob("*.yml")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "zizmor: ignore" in line:
                match = ignore.search(line)
                assert match and len(match.group(2).strip()) >= 20, f"{path.name}:{number} ignores without a reason"


# ------------------------------------------------------------------------------------------
# Dependabot: bump pull requests for the action pins and the locks
# ------------------------------------------------------------------------------------------


def test_dependabot_bumps_the_actions_and_both_python_environments():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    updates = {update["package-ecosystem"]: update for update in config["updates"]}
    assert set(updates) == {"github-actions", "pip"}
    assert updates["github-actions"]["directory"] == "/"
    assert set(updates["pip"]["directories"]) == {"/", "/policy"}
    assert all(update["cooldown"]["default-days"] >= 3 for update in updates.values())


# ------------------------------------------------------------------------------------------
# Locks: requirements*.txt are the inputs people edit, requirements*.lock.txt what is installed
# (./dev, policy/run-tests, the workflows). `./dev lock` recompiles them.
# ------------------------------------------------------------------------------------------

LOCKS = {
    "requirements.txt": "requirements.lock.txt",
    "requirements-dev.txt": "requirements-dev.lock.txt",
    "policy/requirements.txt": "policy/requirements.lock.txt",
    "policy/requirements-test.txt": "policy/requirements-test.lock.txt",
}


def input_requirements(path: Path) -> list[Requirement]:
    """The requirements of an input file, following its `-r` includes."""
    found: list[Requirement] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            found += input_requirements(path.parent / line[3:].strip())
        else:
            found.append(Requirement(line))
    return found


def lock_pins(text: str) -> dict[str, list[tuple[Version, int]]]:
    """name → [(version, number of hashes)], one per entry (a universal lock may split a name by marker)."""
    pins: dict[str, list[tuple[Version, int]]] = {}
    for entry in re.split(r"\n(?=\S)", text.replace("\\\n", " ")):
        if entry.startswith("#") or not entry.strip():
            continue
        match = re.match(r"([A-Za-z0-9._-]+)==(\S+)", entry)
        assert match, f"lock entry is not an exact pin: {entry.splitlines()[0]}"
        pins.setdefault(canonicalize_name(match[1]), []).append((Version(match[2]), entry.count("--hash=sha256:")))
    return pins


def lock_problems(input_path: Path, lock_text: str) -> list[str]:
    """Why a lock no longer matches its input (empty when it does)."""
    pins = lock_pins(lock_text)
    problems = [f"{name} has no hash" for name, entries in pins.items() if any(hashes == 0 for _, hashes in entries)]
    for requirement in input_requirements(input_path):
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement} is not in the lock")
        for version, _ in pins.get(name, []):
            if not requirement.specifier.contains(version, prereleases=True):
                problems.append(f"{name}=={version} is outside {requirement}")
    # A line removed from the input leaves a top-level entry (uv's `# via -r <input>`) behind.
    wanted = {canonicalize_name(requirement.name) for requirement in input_requirements(input_path)}
    for entry in re.split(r"\n(?=\S)", lock_text):
        match = re.match(r"([A-Za-z0-9._-]+)==", entry)
        if match and re.search(r"#\s+(via )?-r ", entry) and canonicalize_name(match[1]) not in wanted:
            problems.append(f"{match[1]} is locked as a top-level requirement the input no longer has")
    return problems


@pytest.mark.parametrize(("source", "lock"), LOCKS.items())
def test_lock_covers_its_input(source: str, lock: str):
    problems = lock_problems(ROOT / source, (ROOT / lock).read_text(encoding="utf-8"))
    assert problems == [], f"{lock} is stale ({'; '.join(problems)}): run ./dev lock"


def test_a_line_added_to_an_input_makes_its_lock_stale(tmp_path: Path):
    for name in ("requirements.txt", "requirements-dev.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    with (tmp_path / "requirements-dev.txt").open("a") as file:
        file.write("wallarm-not-locked>=1\n")  # a name no lock will ever hold
    (tmp_path / "requirements.txt").write_text(
        (ROOT / "requirements.txt").read_text().replace("pulumi>=3.200,<4", "pulumi>=4,<5")
    )
    lock = (ROOT / "requirements-dev.lock.txt").read_text()

    problems = lock_problems(tmp_path / "requirements-dev.txt", lock)

    assert "wallarm-not-locked>=1 is not in the lock" in problems
    assert any(problem.startswith("pulumi==") and problem.endswith("outside pulumi<5,>=4") for problem in problems)


def test_a_line_removed_from_an_input_makes_its_lock_stale(tmp_path: Path):
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    (tmp_path / "requirements.txt").write_text("\n".join(line for line in lines if not line.startswith("PyYAML")))

    problems = lock_problems(tmp_path / "requirements.txt", (ROOT / "requirements.lock.txt").read_text())

    assert problems == ["pyyaml is locked as a top-level requirement the input no longer has"]


@pytest.mark.parametrize(
    ("runtime", "tests"), [("requirements", "requirements-dev"), ("policy/requirements", "policy/requirements-test")]
)
def test_the_test_lock_runs_the_runtime_locks_versions(runtime: str, tests: str):
    runtime_pins = lock_pins((ROOT / f"{runtime}.lock.txt").read_text())
    test_pins = lock_pins((ROOT / f"{tests}.lock.txt").read_text())
    assert {name: test_pins.get(name) for name in runtime_pins} == runtime_pins


def test_up_checks_after_deploying_that_mirrored_traffic_is_analysed():
    up = PREVIEW["jobs"]["up"]
    names = [step.get("name") for step in up["steps"]]
    status = named_step(up, "status (is mirrored traffic analysed?)")
    assert names.index("status (is mirrored traffic analysed?)") == names.index("pulumi up") + 1
    assert status["run"] == '.venv/bin/python -m wallarm_mirror status --stack "$STACK" --wait 600'
    assert status["env"]["STACK"] == step_using(up, "pulumi/actions")["with"]["stack-name"]
    assert status["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"


# ------------------------------------------------------------------------------------------
# Pulumi versions: the CLI the workflows install and the one the component package asks for
# follow the SDK in requirements.lock.txt. Dependabot bumps the lock only (it does not read
# `pulumi-version` inputs or PulumiPlugin.yaml), so a pulumi bump turns this red until both follow.
# ------------------------------------------------------------------------------------------


def pulumi_version_problems(workflows: dict[str, dict[str, Any]], plugin: dict[str, Any], lock: str) -> list[str]:
    """Where the workflows' `pulumi-version` or PulumiPlugin.yaml left the locked pulumi SDK."""
    [(sdk, _)] = lock_pins(lock)["pulumi"]
    problems = []
    for name, workflow in workflows.items():
        for job_name, job in workflow["jobs"].items():
            for step in job.get("steps", []):
                if str(step.get("uses", "")).split("@")[0] != "pulumi/actions":
                    continue
                # pulumi/actions action.yml: `pulumi-version`, "Install a specific version of the Pulumi
                # CLI"; without it (or `pulumi-version-file`) the action installs the newest CLI.
                pinned = str(step.get("with", {}).get("pulumi-version"))
                if pinned != str(sdk):
                    problems.append(f"{name} job {job_name}: pulumi-version {pinned}, the lock has pulumi=={sdk}")
    required = plugin.get("requiredPulumiVersion")
    if required != f">={sdk}":
        problems.append(f"PulumiPlugin.yaml requiredPulumiVersion {required!r}, the lock has pulumi=={sdk}")
    return problems


def test_workflows_and_the_plugin_ask_for_the_locked_pulumi():
    plugin = yaml.safe_load((ROOT / "PulumiPlugin.yaml").read_text(encoding="utf-8"))
    lock = (ROOT / "requirements.lock.txt").read_text(encoding="utf-8")
    problems = pulumi_version_problems(all_workflows(), plugin, lock)
    assert problems == [], "; ".join(problems) + ": set them to the locked version"
    uses = [
        step
        for workflow in all_workflows().values()
        for step in steps(workflow)
        if "pulumi/actions@" in str(step.get("uses"))
    ]
    assert len(uses) == 2  # preview and up: each one is checked above


def test_a_pulumi_bump_in_the_lock_alone_is_reported():
    plugin = yaml.safe_load((ROOT / "PulumiPlugin.yaml").read_text(encoding="utf-8"))
    lock = (ROOT / "requirements.lock.txt").read_text(encoding="utf-8")
    [(sdk, _)] = lock_pins(lock)["pulumi"]
    bumped = lock.replace(f"\npulumi=={sdk} ", "\npulumi==3.999.0 ")

    problems = pulumi_version_problems(all_workflows(), plugin, bumped)

    assert problems == [
        f"preview.yml job preview: pulumi-version {sdk}, the lock has pulumi==3.999.0",
        f"preview.yml job up: pulumi-version {sdk}, the lock has pulumi==3.999.0",
        f"PulumiPlugin.yaml requiredPulumiVersion '>={sdk}', the lock has pulumi==3.999.0",
    ]
