"""`python -m wallarm_mirror status`: read the outputs, ask AWS, print the lines, exit 0/1/2/3."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from .outputs import OutputsError, StackOutputs, pulumi_stack_outputs, read_outputs_file
from .report import EXIT_BAD_INPUT, EXIT_OK, EXIT_REFUSED, exit_code, progress, render_json, render_text

DEFAULT_INTERVAL = 15.0  # seconds between --wait rounds: target health changes every 10-30 s


def load_outputs(outputs_file: str | None, stack: str | None) -> StackOutputs:
    if outputs_file:
        return read_outputs_file(Path(outputs_file), stack)
    if stack:
        return pulumi_stack_outputs(stack)
    raise OutputsError(
        "name the stack: --stack NAME (runs the Pulumi CLI) or --outputs FILE (`pulumi stack output --json`)"
    )


def run(
    outputs_file: str | None,
    stack: str | None,
    *,
    as_json: bool = False,
    wait: float = 0.0,
    interval: float = DEFAULT_INTERVAL,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """The whole command; every failure becomes a message and an exit code, never a traceback."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        outputs = load_outputs(outputs_file, stack)
    except OutputsError as error:
        print(f"error: {error}", file=err)
        return EXIT_BAD_INPUT

    # boto3 only now: a bad outputs file is reported without loading it.
    from . import aws as aws_module
    from .checks import run_checks

    try:
        session = aws_module.new_session()
        chained = aws_module.session_region(session)
    except aws_module.BOTOCORE_ERRORS as error:  # e.g. AWS_PROFILE names no profile
        print(f"error: the AWS configuration cannot be used: {error}", file=err)
        return EXIT_REFUSED
    region = chained or outputs.region
    if chained and chained != outputs.region:
        print(
            f"warning: the AWS region from your environment or profile is {chained}, but the stack's ARNs are in "
            f"{outputs.region}; checking {chained} (set AWS_DEFAULT_REGION={outputs.region} to check the stack's)",
            file=err,
        )
    aws = aws_module.Aws(session, region)
    started = time.monotonic()
    while True:
        results = run_checks(aws, outputs)
        code = exit_code(results)
        waited = time.monotonic() - started
        if code in (EXIT_OK, EXIT_REFUSED) or waited >= wait:
            break  # a refusal does not go away by waiting
        print(progress(results, waited, wait), file=err, flush=True)
        time.sleep(min(interval, wait - waited))
    render = render_json if as_json else render_text
    out.write(render(outputs, region, results))
    return code
