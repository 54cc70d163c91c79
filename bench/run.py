"""Wall time, CPU time and peak memory of the offline plan, against the cost of loading pulumi_aws at all.

    .venv/bin/python bench/run.py [--runs N] [--suite-runs N] [--skip-suite] [--json]
    .venv/bin/python bench/run.py --suite [--runs N]    the floor and the test suite only, and their ratio

Each round runs, one after the other, the floor, the lean floor, the plans of dev, prod and native
and (in the first --suite-runs rounds: all 5 by default, ~20 s a round) the test suite and the policy
pack's tests, so drift on the machine hits all of them alike. Each command is a fresh child process
with its output sent to /dev/null. Its wall time is measured around spawn and reap; its CPU time
(user + sys) and peak memory (max RSS) are what the kernel reports for it through os.wait4, children
it reaped included; on Linux this process is a child subreaper, so descendants that outlive their
parent (the test session's moto zygote) come back to it, and their CPU counts too. One untimed
warm-up of the floors and the plans runs first, so every timed run finds warm bytecode and page
caches. Ratios to a floor are medians of same-round pairs.

The floor is what any program using these resource types pays before doing anything:
`import pulumi, pulumi_aws` and touching the four pulumi_aws submodules the program cannot do
without (pulumi_aws loads each submodule lazily, on the first attribute access). The plan process
ends with GC off and os._exit, skipping the interpreter's teardown (~0.15 s of the floor itself):
the lean floor does the same, so the plan against it shows what planning costs on top of loading.
Standard library only.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PYTHON = ROOT / ".venv" / "bin" / "python"

FLOOR_CODE = "import pulumi, pulumi_aws as a; a.ec2.SecurityGroup; a.lb.LoadBalancer; a.autoscaling.Group; a.iam.Role"
# The same imports in a process that ends the way `python -m wallarm_mirror` does: GC off, and
# os._exit after the work instead of the interpreter's teardown. Against this one the ratio shows
# what the plan itself costs, without the head start its way of exiting gives it over the floor.
LEAN_FLOOR_CODE = f"import gc, os; gc.disable(); {FLOOR_CODE}; os._exit(0)"
VERSIONS_CODE = (
    "import json, platform, importlib.metadata as m; "
    "print(json.dumps({'python': platform.python_version(), "
    "'pulumi': m.version('pulumi'), 'pulumi_aws': m.version('pulumi_aws')}))"
)


@dataclass(frozen=True)
class Command:
    """One thing to time: a label for the table and the argv of the child."""

    key: str
    label: str
    argv: tuple[str, ...]


@dataclass
class Samples:
    """Every timed run of one command."""

    label: str
    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    max_rss_mb: list[float] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    timed_out: int = 0

    @property
    def runs(self) -> int:
        return len(self.wall_s)

    def median_wall(self) -> float:
        return statistics.median(self.wall_s)

    def median_cpu(self) -> float:
        return statistics.median(self.cpu_s)

    def median_rss(self) -> float:
        return statistics.median(self.max_rss_mb)


def commands(python: str) -> list[Command]:
    return [
        Command("floor", "floor (import pulumi_aws, touch ec2/lb/autoscaling/iam)", (python, "-c", FLOOR_CODE)),
        Command("lean", "floor, ending as the plan does (GC off, os._exit)", (python, "-c", LEAN_FLOOR_CODE)),
        Command("dev", "plan --stack dev", (python, "-m", "wallarm_mirror", "plan", "--stack", "dev")),
        Command("prod", "plan --stack prod", (python, "-m", "wallarm_mirror", "plan", "--stack", "prod")),
        # The second analyser, planned from its stack file as a user would try one.
        Command(
            "native",
            "plan --config-file Pulumi.native.yaml",
            (python, "-m", "wallarm_mirror", "plan", "--config-file", str(ROOT / "Pulumi.native.yaml")),
        ),
        # As ./dev test runs it: one pytest-xdist worker per core, the distress tests left for a run
        # of their own (./dev test runs them alone afterwards: they measure latency).
        Command(
            "suite",
            'test suite (pytest -q -n auto -m "not distress and not alone")',
            (python, "-m", "pytest", "-q", "-n", "auto", "-m", "not distress and not alone", "-p", "no:cacheprovider"),
        ),
        # ./dev test runs these after the suite, in the pack's own venv (made by policy/run-tests).
        Command("policy", "policy pack tests (policy/run-tests -q)", (str(ROOT / "policy" / "run-tests"), "-q")),
    ]


@dataclass(frozen=True)
class Run:
    """One timed run of a command."""

    wall_s: float
    cpu_s: float
    max_rss_mb: float
    exit_code: int
    timed_out: bool = False


def measure(argv: tuple[str, ...], timeout: float | None = None) -> Run:
    """Run argv in the repository with its output sent to /dev/null; kill it (and its children) after timeout s."""
    with open(os.devnull, "wb") as null:
        actions = [
            (os.POSIX_SPAWN_DUP2, null.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, null.fileno(), 2),
        ]
        cwd = os.getcwd()
        os.chdir(ROOT)  # posix_spawnp has no cwd argument
        try:
            start = time.perf_counter()
            # Its own process group, so a timeout or Ctrl-C stops the children it started too.
            pid = os.posix_spawnp(argv[0], list(argv), dict(os.environ), file_actions=actions, setsid=True)
        finally:
            os.chdir(cwd)
    timed_out = False
    try:
        if timeout is None:
            _, status, usage = os.wait4(pid, 0)
        else:
            while True:
                reaped, status, usage = os.wait4(pid, os.WNOHANG)
                if reaped:
                    break
                if time.perf_counter() - start > timeout:
                    timed_out = True
                    os.killpg(pid, signal.SIGKILL)
                    _, status, usage = os.wait4(pid, 0)
                    break
                time.sleep(0.05)
    except BaseException:
        os.killpg(pid, signal.SIGKILL)
        raise
    wall = time.perf_counter() - start
    cpu, rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss
    for orphan in _orphans_reaped():
        cpu += orphan.ru_utime + orphan.ru_stime
        rss = max(rss, orphan.ru_maxrss)
    # Linux reports ru_maxrss in KiB.
    return Run(wall, cpu, rss / 1024, os.waitstatus_to_exitcode(status), timed_out)


_SUBREAPER: list[bool] = []  # set by main(): a process that imports this module keeps its own children


def _become_subreaper() -> None:
    """Linux: descendants orphaned by their parent's exit are reparented to this process (not to init),
    so their resource use can be counted (PR_SET_CHILD_SUBREAPER)."""
    if sys.platform == "linux" and _prctl(36, 1) == 0:
        _SUBREAPER.append(True)


def _prctl(option: int, value: int) -> int:
    import ctypes

    return int(ctypes.CDLL(None, use_errno=True).prctl(option, value))


def _orphans_reaped(patience: float = 10.0) -> list[resource.struct_rusage]:
    """The resource use of each orphan this subreaper got, once each has ended (waiting up to `patience` s:
    the moto zygote ends within ~1 s of its test session). Nothing unless main() made this a subreaper."""
    used: list[resource.struct_rusage] = []
    if not _SUBREAPER:
        return used
    deadline = time.perf_counter() + patience
    while True:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return used  # none left
        if pid:
            used.append(usage)
        elif time.perf_counter() > deadline:
            return used
        else:
            time.sleep(0.02)


def versions(python: str) -> dict[str, str]:
    result = subprocess.run([python, "-c", VERSIONS_CODE], capture_output=True, text=True, check=True, cwd=ROOT)
    info: dict[str, str] = json.loads(result.stdout)
    info["nproc"] = str(len(os.sched_getaffinity(0)))
    info["interpreter"] = python
    # Without a bytecode cache the project's own modules are compiled in every process (~0.3 s each).
    # ./dev writes it whatever PYTHONDONTWRITEBYTECODE says; without that, the variable decides.
    stale = sum(not _bytecode_is_current(path) for path in (ROOT / "wallarm_mirror").rglob("*.py"))
    if not stale:
        info["bytecode"] = "cached (./dev compiles the checkout)"
    elif os.environ.get("PYTHONDONTWRITEBYTECODE"):
        info["bytecode"] = (
            f"not cached for {stale} modules, PYTHONDONTWRITEBYTECODE is set (any ./dev command writes it)"
        )
    else:
        info["bytecode"] = f"{stale} modules compile on first use, then cached"
    return info


def _bytecode_is_current(source: Path) -> bool:
    """Whether the module's .pyc exists and was written for the source as it is (mtime in its header)."""
    cached = Path(importlib.util.cache_from_source(str(source)))
    try:
        header = cached.read_bytes()[:16]
    except OSError:
        return False
    return header[:4] == importlib.util.MAGIC_NUMBER and int.from_bytes(header[8:12], "little") == (
        int(source.stat().st_mtime) & 0xFFFFFFFF
    )


def _load() -> str:
    """The 1-minute load average: other work on the machine skews wall times."""
    return f"{os.getloadavg()[0]:.1f}"


def paired_ratios(plan: Samples, floor: Samples, metric: str = "wall_s") -> list[float]:
    """Per-round ratios: each plan run against the floor run of the same round."""
    return [p / f for p, f in zip(getattr(plan, metric), getattr(floor, metric), strict=False)]


SUITES = ("suite", "policy")
# The bar for the test suite (issue 22): at most this many times the floor, wall time.
SUITE_TARGET_RATIO = 40
# --suite: what is timed, the suite against the floor.
SUITE_ONLY = ("floor", "suite")


def run_bench(
    python: str, runs: int, suite_runs: int, suite_timeout: float, *, progress: bool, suite_only: bool = False
) -> dict[str, Samples]:
    cmds = commands(python)
    if suite_only:
        cmds = [c for c in cmds if c.key in SUITE_ONLY]
    if suite_runs == 0:
        cmds = [c for c in cmds if c.key not in SUITES]
    samples = {c.key: Samples(c.label) for c in cmds}
    for command in cmds:
        if command.key not in SUITES:
            measure(command.argv)  # warm-up, not counted
    for round_no in range(runs):
        for command in cmds:
            if command.key in SUITES and round_no >= suite_runs:
                continue
            run = measure(command.argv, suite_timeout if command.key in SUITES else None)
            entry = samples[command.key]
            entry.wall_s.append(run.wall_s)
            entry.cpu_s.append(run.cpu_s)
            entry.max_rss_mb.append(run.max_rss_mb)
            entry.exit_codes.append(run.exit_code)
            entry.timed_out += run.timed_out
            if progress:
                where = f"round {round_no + 1}/{runs}: {command.key:<5}"
                numbers = f"{run.wall_s:5.2f} s wall {run.cpu_s:5.2f} s CPU {run.max_rss_mb:4.0f} MB"
                print(f"  {where} {numbers}{' (timed out)' if run.timed_out else ''}", file=sys.stderr)
    return samples


def render(info: dict[str, str], samples: dict[str, Samples]) -> str:
    lines = [
        f"Python {info['python']}, pulumi {info['pulumi']}, pulumi_aws {info['pulumi_aws']}, nproc {info['nproc']}, "
        f"load average {info['load_before']} before, {info['load_after']} after",
        f"bytecode of the project's modules: {info['bytecode']}",
        "",
    ]
    header = ("what", "runs", "median wall", "min-max wall", "median CPU", "median peak RSS")
    rows = [header]
    for entry in samples.values():
        failed = [code for code in entry.exit_codes if code != 0]
        label = entry.label
        if entry.timed_out:
            label += f" [killed at the timeout in {entry.timed_out} run(s)]"
        elif failed:
            label += f" [exit {failed[0]} in {len(failed)} run(s)]"
        rows.append(
            (
                label,
                str(entry.runs),
                f"{entry.median_wall():.2f} s",
                f"{min(entry.wall_s):.2f}-{max(entry.wall_s):.2f} s",
                f"{entry.median_cpu():.2f} s",
                f"{entry.median_rss():.0f} MB",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.append("")
    for key in ("dev", "prod", "native"):
        for base in ("floor", "lean"):
            if key in samples and base in samples:
                lines.append(ratio_line(samples, key, base))
    if "suite" in samples and samples["suite"].runs:
        lines.append(suite_line(samples))
    lines.append(
        f"(ratios: median of {samples['floor'].runs} same-round pairs; CPU = user+sys of the child, "
        "less disturbed than wall time by other load on the machine)"
    )
    if "suite" in samples and samples["suite"].runs < samples["floor"].runs:
        lines.append(f"(the suites ran in {samples['suite'].runs} of the rounds only: they take much longer)")
    return "\n".join(lines) + "\n"


def suite_ratios(samples: dict[str, Samples], metric: str = "wall_s") -> list[float]:
    """Each suite run against the floor run of its round (the suite runs in the first rounds only)."""
    return paired_ratios(samples["suite"], samples["floor"], metric)


def suite_line(samples: dict[str, Samples]) -> str:
    """The suite and the floor side by side, and the suite's ratio against the bar."""
    suite, floor = samples["suite"], samples["floor"]
    wall, cpu = suite_ratios(samples), suite_ratios(samples, "cpu_s")
    ratio = statistics.median(wall)
    verdict = "within" if ratio <= SUITE_TARGET_RATIO else "OVER"
    return (
        f"suite {suite.median_wall():.1f} s wall ({suite.median_cpu():.1f} s CPU), floor {floor.median_wall():.2f} s: "
        f"suite / floor {ratio:.1f}x wall (range {min(wall):.1f}-{max(wall):.1f}), {statistics.median(cpu):.1f}x CPU "
        f"(all workers' CPU added up); {verdict} the {SUITE_TARGET_RATIO}x bar (wall, issue 22)"
    )


def ratio_line(samples: dict[str, Samples], key: str, base: str) -> str:
    plan, floor = samples[key], samples[base]
    wall = paired_ratios(plan, floor)
    cpu = paired_ratios(plan, floor, "cpu_s")
    name = "floor" if base == "floor" else "lean floor"
    return (
        f"plan {key} / {name}: {statistics.median(wall):.2f}x wall (range {min(wall):.2f}-{max(wall):.2f}), "
        f"{statistics.median(cpu):.2f}x CPU, {plan.median_rss() / floor.median_rss():.2f}x peak RSS"
    )


def as_json(info: dict[str, str], samples: dict[str, Samples]) -> dict[str, object]:
    return {
        "environment": info,
        "results": {
            key: {
                **asdict(entry),
                "median_wall_s": entry.median_wall(),
                "median_cpu_s": entry.median_cpu(),
                "median_max_rss_mb": entry.median_rss(),
            }
            for key, entry in samples.items()
        },
        "ratios": {
            f"{key}_over_{base}": {
                "wall_median_paired": statistics.median(paired_ratios(samples[key], samples[base])),
                "wall_paired": paired_ratios(samples[key], samples[base]),
                "cpu_median_paired": statistics.median(paired_ratios(samples[key], samples[base], "cpu_s")),
                "max_rss_of_medians": samples[key].median_rss() / samples[base].median_rss(),
            }
            for key in ("dev", "prod", "native")
            for base in ("floor", "lean")
            if key in samples and base in samples
        }
        | (
            {
                "suite_over_floor": {
                    "wall_median_paired": statistics.median(suite_ratios(samples)),
                    "wall_paired": suite_ratios(samples),
                    "cpu_median_paired": statistics.median(suite_ratios(samples, "cpu_s")),
                    "target": SUITE_TARGET_RATIO,
                }
            }
            if "suite" in samples and samples["suite"].runs
            else {}
        ),
    }


def main(argv: list[str] | None = None) -> int:
    _become_subreaper()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, help="rounds of floor/dev/prod (default 5, or 1 with --suite)")
    parser.add_argument(
        "--suite-runs", type=int, default=5, help="rounds that also run the test suites (default 5: all of them)"
    )
    parser.add_argument("--skip-suite", action="store_true", help="do not run the test suite")
    parser.add_argument(
        "--suite",
        action="store_true",
        help=f"time only the floor and the test suite, and print their ratio against the {SUITE_TARGET_RATIO}x bar "
        "(one round unless --runs says otherwise)",
    )
    parser.add_argument(
        "--suite-timeout", type=float, default=600, help="stop a suite run after this many seconds (default 600)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--python",
        default=str(DEFAULT_PYTHON if DEFAULT_PYTHON.exists() else Path(sys.executable)),
        help="interpreter of the children (default: the repository's .venv)",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-run progress on stderr")
    args = parser.parse_args(argv)
    if args.suite and args.skip_suite:
        parser.error("--suite and --skip-suite exclude each other")
    if args.runs is None:
        args.runs = 1 if args.suite else 5
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    suite_runs = args.runs if args.suite else 0 if args.skip_suite else max(0, min(args.suite_runs, args.runs))
    info = versions(args.python)
    info["load_before"] = _load()
    samples = run_bench(
        args.python, args.runs, suite_runs, args.suite_timeout, progress=not args.quiet, suite_only=args.suite
    )
    info["load_after"] = _load()
    if args.json:
        print(json.dumps(as_json(info, samples), indent=2))
    else:
        print(render(info, samples), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
