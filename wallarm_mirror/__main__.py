"""Command line: `python -m wallarm_mirror plan|boot-script|mirror-config|diff|config-reference|status`.

Everything here works offline but `status`, which asks AWS (read-only) whether a deployed stack
analyses traffic. `plan` with no arguments plans the example `dev` stack.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:  # the command line imports what a command needs when it runs (the import floor)
    from .config import StackConfig
    from .offline.plan import StackFile

EXIT_BAD_INPUT = 2


def _plan_document(args: argparse.Namespace) -> dict[str, Any]:
    """Run the program offline for the chosen stack file; exits 2 on a bad stack file or config.

    The program is this project's own, or with --program the Pulumi Python program in that folder.
    """
    from .offline.plan import (
        StackFileError,
        plan_document,
        program_stack_file,
        read_program_dir,
    )

    config_file = Path(args.config_file) if args.config_file else None
    program: Callable[[], object] | None = None
    facts = _facts_with_stack_outputs(getattr(args, "stack_outputs", None) or [])
    try:
        if args.program:
            if args.project_dir:
                _fail("--program and --project-dir both name a project folder: give one")
            found = read_program_dir(Path(args.program))
            stack_file = program_stack_file(found, args.stack, config_file)
            where = f"{found.root}"
            program = functools.partial(_run_program_file, found.entry)
        else:
            stack_file = _stack_file(args)
            where = _stack_file_path(args).name
    except StackFileError as error:
        _fail(str(error))

    import pulumi

    from .offline.engine import run_offline

    try:
        run = run_offline(
            stack_file.config,
            stack_file.secret_keys,
            stack=stack_file.stack,
            project=stack_file.project,
            program=program,
            facts=facts,
        )
    except pulumi.RunError as error:
        _fail(f"stack {stack_file.stack} ({where}): {error}")
    except Exception as error:
        if program is None:
            raise  # ours: a crash is a bug to see whole
        # Your program's own mistake: the exception and where in your files it was raised.
        import traceback

        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith(where)]
        at = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        hint = (
            " (an output of another stack that the offline plan does not know? give that stack's outputs "
            "with --stack-outputs org/project/stack=outputs.json)"
            if isinstance(error, KeyError)
            else ""
        )
        _fail(f"stack {stack_file.stack}: the program in {where} raised {type(error).__name__}{at}: {error}{hint}")
    return plan_document(stack_file, run)


def _project_dir(args: argparse.Namespace) -> Path:
    """The project folder: --project-dir, or this checkout."""
    from .offline.plan import PROJECT_DIR

    return Path(args.project_dir) if args.project_dir else PROJECT_DIR


def _stack_file_path(args: argparse.Namespace) -> Path:
    """The stack file the options name: --config-file, or Pulumi.<--stack>.yaml in the project folder."""
    if args.config_file:
        return Path(args.config_file)
    return _project_dir(args) / f"Pulumi.{args.stack}.yaml"


def _stack_file(args: argparse.Namespace) -> StackFile:
    """That stack file, read and checked as a stack file of the project (raises StackFileError)."""
    from .offline.plan import project_name, read_stack_file

    stack = None if args.config_file else args.stack
    return read_stack_file(_stack_file_path(args), project_name(_project_dir(args)), stack)


def _facts_with_stack_outputs(pairs: list[str]) -> Any:
    """OfflineFacts whose StackReferences answer with the outputs in NAME=FILE files (JSON, as
    `pulumi stack output --json --stack NAME` prints them); None when there are none."""
    if not pairs:
        return None
    from .offline.engine import OfflineFacts

    outputs: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        name, sep, file = pair.partition("=")
        if not sep or not name or not file:
            _fail(f"--stack-outputs {pair!r}: write it as org/project/stack=outputs.json")
        try:
            data = json.loads(Path(file).read_text())
        except OSError as error:
            _fail(f"--stack-outputs {pair!r}: cannot read {file}: {error.strerror}")
        except json.JSONDecodeError as error:
            _fail(f"--stack-outputs {pair!r}: {file} is not JSON: {error}")
        if not isinstance(data, dict):
            _fail(f"--stack-outputs {pair!r}: {file} holds no object of outputs (pulumi stack output --json)")
        outputs[name] = data
    return OfflineFacts(stack_outputs=outputs)


def _run_program_file(entry: Path) -> None:
    """Run a project's entry file as Pulumi's Python runtime does: as __main__, from its own folder."""
    import runpy

    cwd, path = os.getcwd(), list(sys.path)
    os.chdir(entry.parent)
    sys.path.insert(0, str(entry.parent))
    try:
        runpy.run_path(str(entry), run_name="__main__")
    finally:
        os.chdir(cwd)
        sys.path[:] = path


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_BAD_INPUT)


def cmd_plan(args: argparse.Namespace) -> int:
    from .offline.plan import render_text

    document = _plan_document(args)
    if args.json:
        print(json.dumps(document, indent=2, sort_keys=True))
    else:
        print(render_text(document), end="")
    return 0


def cmd_boot_script(args: argparse.Namespace) -> int:
    document = _plan_document(args)
    templates = [r for r in document["resources"] if r["type"] == "aws:ec2/launchTemplate:LaunchTemplate"]
    user_data = templates[0]["inputs"].get("userData")
    if user_data == "[secret]":
        _fail("the boot script holds the token (tokenDelivery userData), so it is a secret and is not shown")
    from .node.boot_script import decode_user_data

    print(decode_user_data(user_data), end="")
    return 0


def _mirror_option_overrides(pairs: list[str]) -> dict[str, object]:
    """`--option KEY=VALUE` pairs as mirrorOptions entries; VALUE is read as YAML (10, true, [/api, /login])."""
    import yaml

    overrides: dict[str, object] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            _fail(f"--option {pair!r} is not KEY=VALUE: write e.g. --option samplePercent=10")
        try:
            overrides[key] = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            overrides[key] = text
    return overrides


def _endpoint_advice(endpoint: object, options: object) -> list[str]:
    """What `plan` says about TLS to the mirror endpoint, for an endpoint given on the command line."""
    from .mirror import MirrorEndpoint, MirrorOptions

    assert isinstance(endpoint, MirrorEndpoint) and isinstance(options, MirrorOptions)
    if not endpoint.is_tls:
        return [
            f"the endpoint {endpoint.url} is plain HTTP: mirrored requests (credentials, personal data) cross "
            "the VPC unencrypted. Set an ACM certificate (certificateArn) for HTTPS."
        ]
    if options.tls_verify and options.tls_name(endpoint).endswith(".elb.amazonaws.com"):
        return [
            f"the endpoint {endpoint.url} is the ALB's amazonaws.com name, which no ACM certificate covers, so "
            "TLS verification fails there. Point a DNS alias covered by certificateArn at the ALB and set "
            "endpointHostname (or the tlsServerName option)."
        ]
    return []


def cmd_mirror_config(args: argparse.Namespace) -> int:
    """The web tier's mirroring config, for the endpoint `pulumi up` would output or a given one.

    With `--endpoint`, a stack file is read only if it exists or was named (`--config-file`), so
    options can be tried with `--option` alone. Warnings go to stderr, as `plan` prints them.
    """
    from .config import ConfigError
    from .config.checks import mirror_source_options
    from .mirror import MirrorEndpoint, render_mirror_config
    from .offline.plan import StackFileError

    if args.server == "aws-cli":
        return _aws_cli_session_command(args)
    if args.server == "host":
        return _host_script(args)
    overrides = _mirror_option_overrides(args.option or [])
    warnings: list[str] = []
    if args.endpoint is None:
        document = _plan_document(args)
        if "mirror_endpoint" not in document["outputs"]:
            _fail(
                f"stack {document['stack']} uses analyzer nativeNode: AWS VPC Traffic Mirroring needs no web-tier "
                "config; --server aws-cli prints the command that mirrors one more network interface"
            )
        warnings += document["warnings"]
        url = str(document["outputs"]["mirror_endpoint"])
        _refuse_stand_in_endpoint(args, document["stack"], url)
        stack_options: dict[str, object] = {}
        if not overrides:
            print(document["outputs"]["mirror_configs"][args.server], end="")
            _print_warnings(warnings)
            return 0
    else:
        url = args.endpoint
        stack_options = {}
    try:
        if args.config_file or _stack_file_path(args).exists():
            stack_file = _stack_file(args)
            config = _checked_config(stack_file)
            stack_options = dict(config.mirror_options)
            if args.endpoint is not None:
                warnings += config.advice(stack_file.stack)
        endpoint = MirrorEndpoint.parse(url)
        try:
            options = mirror_source_options({**stack_options, **overrides})
        except ValueError as error:
            raise ValueError(f"mirrorOptions {error}") from None
    except (StackFileError, ConfigError, ValueError) as error:
        _fail(str(error))
    if args.endpoint is not None:
        warnings += [w for w in _endpoint_advice(endpoint, options) if w not in warnings]
    print(render_mirror_config(args.server, endpoint, options), end="")
    _print_warnings(warnings)
    return 0


def _refuse_stand_in_endpoint(args: argparse.Namespace, stack: str, url: str) -> None:
    """Exit 2 when the planned endpoint is the ALB's DNS name: offline, only a stand-in of it exists.

    Pasted into a web server, a made-up name breaks it (NGINX before 1.27.3 will not start while a
    name does not resolve), so the config is printed only for a real endpoint.
    """
    from .config import NAMESPACE
    from .mirror import MirrorEndpoint

    host = MirrorEndpoint.parse(url).host
    if not host.endswith(".elb.amazonaws.com"):
        return  # endpointHostname: the stack's own DNS name, as real as the stack file says
    which = f"--config-file {args.config_file}" if args.config_file else f"--stack {stack}"
    _fail(
        f"stack {stack} sets no endpointHostname, so its mirror endpoint is the ALB's DNS name, which AWS "
        f"assigns at `pulumi up` (the offline plan's {host} is a stand-in). Fix: python -m wallarm_mirror "
        f'mirror-config {which} --server {args.server} --endpoint "$(pulumi stack output mirror_endpoint '
        f'--stack {stack})", or set {NAMESPACE}:endpointHostname to a DNS name of the ALB'
    )


def _checked_config(stack_file: StackFile) -> StackConfig:
    """The stack file's config checked as the program checks it (other namespaces, ARN regions
    included), without running the program; raises ConfigError."""
    from .config import parse_stack_config

    prefix = f"{stack_file.project}:"
    return parse_stack_config(
        {k.removeprefix(prefix): v for k, v in stack_file.config.items() if k.startswith(prefix)},
        {k.removeprefix(prefix) for k in stack_file.secret_keys},
        region=stack_file.config.get("aws:region"),
        other_keys=[k for k in stack_file.config if not k.startswith(prefix)],
    )


def _native_stack(args: argparse.Namespace) -> tuple[StackFile, StackConfig]:
    """The stack file and config of a nativeNode stack for `mirror-config --server aws-cli|host`."""
    from .config import ConfigError
    from .offline.plan import StackFileError

    try:
        stack_file = _stack_file(args)
        config = _checked_config(stack_file)
    except (StackFileError, ConfigError) as error:
        _fail(str(error))
    if not config.native:
        _fail(
            f"stack {stack_file.stack} uses analyzer {config.analyzer}: --server {args.server} is for analyzer "
            "nativeNode (AWS VPC Traffic Mirroring or host mirroring); pick nginx, envoy, istio or traefik"
        )
    return stack_file, config


def _host_script(args: argparse.Namespace) -> int:
    """nativeNode: the host mirroring script of this stack (what the SSM document runs)."""
    from .components.host_mirroring import LEASE_SECONDS
    from .host_mirror.script import HostScriptSpec, render_host_script

    stack_file, config = _native_stack(args)
    method = config.traffic_mirror_method
    if method == "aws":
        _fail(
            f"stack {stack_file.stack} sets trafficMirrorMethod aws: no host is copied by the script (use auto or host)"
        )
    try:
        script = render_host_script(
            HostScriptSpec(
                stack=stack_file.stack,
                method=method,
                vni=config.traffic_mirror_vni,
                ports=tuple(config.traffic_mirror_ports),
                nlb_dns_name=args.nlb_dns_name,
                lease_seconds=LEASE_SECONDS,
            )
        )
    except ValueError as error:
        _fail(str(error))
    print(script, end="")
    return 0


def _aws_cli_session_command(args: argparse.Namespace) -> int:
    """nativeNode: `aws ec2 create-traffic-mirror-session` for one more interface of this stack."""
    from .components.tags import stack_tags
    from .components.traffic_mirror import session_description
    from .traffic_mirror.aws_cli import create_session_command

    stack_file, config = _native_stack(args)
    region = str(stack_file.config.get("aws:region", ""))
    if not region:
        _fail("the stack file sets no aws:region")
    print(
        create_session_command(
            stack=stack_file.stack,
            region=region,
            session_number=config.traffic_mirror_session_number,
            vni=config.traffic_mirror_vni,
            description=session_description(stack_file.stack),
            tags=stack_tags(config.tags, stack_file.stack),
            network_interface_id=args.eni or "<eni-id>",
        ),
        end="",
    )
    return 0


def _print_warnings(warnings: list[str]) -> None:
    for warning in dict.fromkeys(warnings):
        print(f"warning: {warning}", file=sys.stderr)


def cmd_diff(args: argparse.Namespace) -> int:
    from .offline.diff import main as diff_main

    return diff_main(args.rest)


def cmd_config_reference(args: argparse.Namespace) -> int:
    from .config.reference import bad_input_table, config_table

    if args.args_module:
        from .config.reference import args_module_source

        print(args_module_source(), end="")
    elif args.args_table:
        from .config.reference import args_table

        print(args_table(), end="")
    elif args.bad_inputs or args.native_bad_inputs:
        print(bad_input_table(native=args.native_bad_inputs), end="")
    else:
        print(config_table(), end="")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """After `pulumi up`: is mirrored traffic analysed? 0 healthy, 1 degraded, 2 bad input, 3 AWS refused."""
    from .status import run

    try:
        return run(args.outputs, args.stack, as_json=args.json, wait=args.wait, interval=args.interval)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # never a traceback: a bug of ours still ends in one sentence
        print(f"error: status stopped on {type(error).__name__}: {error} (please report this)", file=sys.stderr)
        return 1


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 86400 seconds")
    return value


# --stack means the same in every command: the name of a Pulumi stack of this project. The
# offline commands read its config from its stack file, Pulumi.NAME.yaml; `status` reads its
# outputs through the Pulumi CLI.
STACK_METAVAR = "NAME"


def _stack_options(parser: argparse.ArgumentParser, reads: str) -> None:
    parser.add_argument(
        "--stack",
        default="dev",
        metavar=STACK_METAVAR,
        help=f"the Pulumi stack NAME whose stack file, Pulumi.NAME.yaml, {reads} (default: dev)",
    )
    parser.add_argument(
        "--config-file",
        metavar="FILE",
        help="read this stack file instead; the stack is named after it (Pulumi.edge.yaml: edge, x.yaml: x)",
    )
    parser.add_argument("--project-dir", metavar="DIR", help="folder with Pulumi.yaml (default: this checkout)")
    parser.add_argument(
        "--program",
        metavar="DIR",
        help="run the Pulumi Python program in DIR (your own, using the component) with its stack config",
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser, every subcommand on it."""
    parser = argparse.ArgumentParser(prog="python -m wallarm_mirror", description=__doc__)
    commands = parser.add_subparsers(dest="command")

    plan = commands.add_parser(
        "plan",
        help="what `pulumi up` would create, offline",
        description="Runs the stack program under Pulumi's mock engine, with the stack file's config (secrets "
        "redacted, never decrypted), and prints every resource `pulumi up` would create and the outputs. No AWS "
        "account is used: ARNs, ids and DNS names are stand-ins in the stack's aws:region. Exit 0, or 2 naming "
        "the config key at fault.",
    )
    _stack_options(plan, "is planned")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.add_argument(
        "--stack-outputs",
        action="append",
        metavar="NAME=FILE",
        help="a StackReference to stack NAME reads the outputs in FILE (`pulumi stack output --json`; repeatable)",
    )
    plan.set_defaults(func=cmd_plan)

    boot = commands.add_parser(
        "boot-script",
        help="the nodes' first-boot script of a stack, offline",
        description="Prints the script the nodes run at first boot (the launch template's user data), as the "
        "offline plan renders it. Refused when the script holds the token (tokenDelivery userData).",
    )
    _stack_options(boot, "gives the script")
    boot.set_defaults(func=cmd_boot_script)

    mirror = commands.add_parser(
        "mirror-config",
        help="the web tier's mirroring config for a stack, offline",
        description="Prints the config that makes a web server mirror its traffic to the analyser, or for "
        "analyzer nativeNode the aws-cli command or the host script. Without --endpoint it needs the stack's "
        "endpointHostname: offline, the ALB's own DNS name is only a stand-in, so the command refuses it "
        '(give --endpoint "$(pulumi stack output mirror_endpoint)").',
    )
    _stack_options(mirror, "gives the endpoint and mirrorOptions")
    mirror.add_argument(
        "--server",
        required=True,
        choices=["nginx", "envoy", "istio", "traefik", "aws-cli", "host"],
        help="a web server's mirror config (nginxNode); nativeNode: aws-cli, the command that mirrors one more "
        "network interface by hand, or host, the host mirroring script (tc + VXLAN) the SSM document runs",
    )
    mirror.add_argument("--endpoint", help="render for this URL instead of the stack's mirror_endpoint")
    mirror.add_argument("--eni", help="aws-cli: the network interface to mirror (default: a placeholder)")
    mirror.add_argument(
        "--nlb-dns-name",
        help="host: the NLB's DNS name (stack output nlb_dns_name); without it the script needs --remote IP",
    )
    mirror.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="a mirrorOptions entry, over the stack's (repeatable; VALUE is YAML: 10, true, [/api, /login])",
    )
    mirror.set_defaults(func=cmd_mirror_config)

    diff = commands.add_parser("diff", help="Markdown summary of two `plan --json` files", add_help=False)
    diff.add_argument("rest", nargs=argparse.REMAINDER)
    diff.set_defaults(func=cmd_diff)

    reference = commands.add_parser(
        "config-reference",
        help="the config keys as a Markdown table",
        description="Prints the reference tables generated from the config model (README.md holds them).",
    )
    reference.add_argument("--bad-inputs", action="store_true", help="bad inputs and their messages instead")
    reference.add_argument(
        "--native-bad-inputs", action="store_true", help="bad inputs of a nativeNode stack and their messages"
    )
    reference.add_argument(
        "--args-module", action="store_true", help="the source of the component's args (components/args.py)"
    )
    reference.add_argument(
        "--args-table", action="store_true", help="the component's args as a Markdown table (docs/component.md)"
    )
    reference.set_defaults(func=cmd_config_reference)

    status = commands.add_parser(
        "status",
        help="after `pulumi up`: is mirrored traffic analysed? (asks AWS, read-only)",
        description="Checks a deployed stack: Auto Scaling group, target health, each node's boot line, "
        "traffic over the last 15 minutes, alarms. Exit 0 healthy, 1 degraded or no traffic, 2 bad input, "
        "3 AWS refused (the missing IAM action is named) or could not be reached.",
    )
    status.add_argument("--outputs", metavar="FILE", help="the stack's outputs, as `pulumi stack output --json` prints")
    status.add_argument(
        "--stack",
        metavar=STACK_METAVAR,
        help="the Pulumi stack NAME: without --outputs, its outputs come from `pulumi stack output --json --stack "
        "NAME`; with it, NAME matches the stack's alarms by name",
    )
    status.add_argument("--json", action="store_true", help="print the results as JSON")
    status.add_argument(
        "--wait", type=_seconds, default=0.0, metavar="SECONDS", help="poll until all is ok or SECONDS have passed"
    )
    status.add_argument(
        "--interval", type=_seconds, default=15.0, metavar="SECONDS", help="between polls with --wait (default 15)"
    )
    status.set_defaults(func=cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    words = sys.argv[1:] if argv is None else argv
    if words[:1] == ["diff"]:
        # diff parses its own arguments, --help included: argparse's REMAINDER would let the main
        # parser take `diff --help` as an unknown option of its own.
        return int(cmd_diff(argparse.Namespace(rest=words[1:])))
    args = parser.parse_args(argv)
    if args.command is None:  # the embedded default: the offline plan of the example dev stack
        args = parser.parse_args(["plan", *(argv or [])])
    return int(args.func(args))


def _exit_now(code: int) -> None:
    """Flush the output and end the process without the interpreter's teardown.

    Tearing down frees pulumi_aws's ~250,000 objects one by one: ~0.2 s of a ~0.7 s plan, for a
    process that holds nothing else to close (plans go to stdout; no file, socket or child is open
    by then). Its atexit handlers, which only close the mock engine's event loops, are skipped too.
    """
    with contextlib.suppress(BrokenPipeError):  # e.g. `plan | head`: the reader is gone, no error of ours
        sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    # A short-lived process: full collections over pulumi_aws's ~250k objects cost ~0.3 s of a
    # ~1.3 s plan and free nothing. Here only, never at import: tests import main() in-process.
    gc.disable()
    _exit_now(main())
