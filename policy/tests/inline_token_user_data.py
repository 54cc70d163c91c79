"""Print the launch template's user data of a stack file with tokenDelivery userData, secret opened.

Runs under the *program's* interpreter (it imports wallarm_mirror), as a subprocess of the pack's
tests: `<program python> inline_token_user_data.py STACK_FILE TOKEN`. The offline plan shows this
input as "[secret]"; the policy engine receives it opened, so the tests need it opened too. The
stack file's token is replaced by TOKEN and stays a secret, as `pulumi config set --secret` would.
"""

from __future__ import annotations

import sys
from pathlib import Path

from wallarm_mirror.offline.engine import run_offline, unwrap
from wallarm_mirror.offline.plan import PROJECT_DIR, project_name, read_stack_file


def main(argv: list[str]) -> int:
    stack_path, token = Path(argv[0]), argv[1]
    stack_file = read_stack_file(stack_path, project_name(PROJECT_DIR))
    config = {**stack_file.config, f"{stack_file.project}:token": token}
    secret_keys = sorted({*stack_file.secret_keys, f"{stack_file.project}:token"})
    run = run_offline(config, secret_keys, stack=stack_file.stack, project=stack_file.project)
    print(unwrap(run.only("LaunchTemplate").inputs)["userData"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
