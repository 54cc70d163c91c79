"""`status`: after `pulumi up`, is mirrored traffic being analysed? Reads the stack outputs and
asks AWS read-only questions (Auto Scaling, target health, console output, CloudWatch).

- `outputs`: read and validate `pulumi stack output --json` (standard library only)
- `aws`: the boto3 calls, one IAM action each, returning plain facts (the only module importing boto3)
- `checks`: pure judgements of those facts, one result line per subject, and `run_checks`
- `report`: text, JSON and the exit code; `command.run`: the command as a whole

Importing this package loads no boto3: `command.run` imports it once the outputs are valid.
"""

from .command import run
from .outputs import OutputsError, StackOutputs, parse_outputs
from .report import EXIT_BAD_INPUT, EXIT_DEGRADED, EXIT_OK, EXIT_REFUSED

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_DEGRADED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "OutputsError",
    "StackOutputs",
    "parse_outputs",
    "run",
]
