"""The EC2 user data that turns a Wallarm AMI instance into a configured node at first boot.

Pure text generation (standard library only, no Pulumi), so the script is tested by running it.

What the rendered bash script does, in order: stop nginx so the load balancer health check cannot
pass early; obtain the node token (from Secrets Manager or SSM with the instance role, or from the
user data itself); run Wallarm's ``cloud-init.py`` with the token handed over inside Python rather
than on a command line; restart nginx; check its own set-up; run the optional post script, whose
failure fails the boot.

The self-check verifies only what Wallarm or NGINX document or what we wrote ourselves (each check
cites its source in the script): ``nginx -t``; on the custom preset our snippet markers in
``nginx -T``; with a `ServingCheck`, the node and health ports listening and the health endpoint
answering HTTP 200, each wait bounded. A failed check stops nginx, which serves both the traffic
port and the health check, so the load balancer keeps the node out, and logs
``wallarm-boot: FAILED: <what>`` as the last line. An inferred check that was wrong would take a
working node out of service; that is why nothing Wallarm-internal is checked.

Token handling, and why:
- The Wallarm AMI (Debian) runs user data through cloud-init, which is python3, so python3 and its
  standard library are there; the AWS CLI is not documented on the image. The token is therefore
  fetched by a small embedded python3 program (IMDSv2 + SigV4) instead of ``aws``.
- ``cloud-init.py`` only accepts ``-t TOKEN`` on its command line, which any local user can read
  in ``ps``. A launcher sets ``sys.argv`` inside the interpreter and runs the script with
  ``runpy``, so no command line of ours holds the token. It travels in a mode-600 file inside a
  mode-700 temporary directory, and the launcher deletes the file as soon as it has read it.
- Nothing prints the token; logs name the secret or parameter and the AWS error code only.
"""

from __future__ import annotations

import base64
import gzip
import shlex
from dataclasses import dataclass
from typing import Literal

from .self_check import SNIPPETS as _SNIPPETS
from .self_check import ServingCheck, check_seconds, check_serving, self_check_section
from .token_fetch import (
    DEFAULT_IMDS_ENDPOINT,
    IMDS_ENDPOINT_ENV,
    LOG_PREFIX,
    TokenFromSecretsManager,
    TokenFromSsmParameter,
    TokenInline,
    TokenSource,
    b64_write,
    check_token_source,
    has_control_characters,
    is_host_name,
    render_token_fetch,
)

# Names other modules import from here (the Native Node's script, the tests).
__all__ = [
    "DEFAULT_IMDS_ENDPOINT",
    "IMDS_ENDPOINT_ENV",
    "LOG_PREFIX",
    "BootScriptSpec",
    "ServingCheck",
    "TokenFromSecretsManager",
    "TokenFromSsmParameter",
    "TokenInline",
    "TokenSource",
    "b64_write",
    "check_token_source",
    "decode_user_data",
    "encode_user_data",
    "has_control_characters",
    "is_host_name",
    "render_boot_script",
    "render_token_fetch",
]

# EC2 rejects user data over 16 KB (counted before base64 encoding); failing at render time names
# the cause instead of a launch template API error.
USER_DATA_LIMIT_BYTES = 16384
_NGINX_SHORTEN_HINT = "shorten the NGINX snippets or the post script (they are embedded base64-encoded)."

PRESETS = ("mirror", "custom")
MODES = ("off", "monitoring", "safe_blocking", "block")

Preset = Literal["mirror", "custom"]
Mode = Literal["off", "monitoring", "safe_blocking", "block"]


@dataclass(frozen=True)
class BootScriptSpec:
    """Everything the first-boot script of one node group needs."""

    cloud_init_path: str  # absolute path of Wallarm's cloud-init.py on the node's AMI
    preset: Preset
    mode: Mode
    api_host: str  # e.g. api.wallarm.com or us1.api.wallarm.com
    libdetection: bool
    global_snippet: str  # "" = not passed
    http_snippet: str
    server_snippet: str
    post_script: str  # "" = none
    token: TokenSource
    node_group: str | None = None  # WALLARM_LABELS='group=<node_group>' for cloud-init.py
    token_fetch_timeout_seconds: int = 300
    serving_check: ServingCheck | None = None  # None: ports and health endpoint are not checked


def render_boot_script(spec: BootScriptSpec) -> str:
    """Return the whole EC2 user data (a bash script starting with ``#!/bin/bash``) for `spec`.

    Raises ValueError when a value cannot be placed in the script safely. Messages never contain
    the token. `encode_user_data` turns the result into the launch template's user data.
    """
    _check_spec(spec)
    parts = [
        _PROLOGUE,
        _cloud_init_check(spec),
        _write_files(spec),
        _token_section(spec),
        _cloud_init_section(spec),
        self_check_section(spec),
        _post_script_section(spec),
        'log "the Wallarm node is configured"\n',
    ]
    return "".join(parts)


def encode_user_data(script: str, *, shorten_hint: str = _NGINX_SHORTEN_HINT) -> str:
    """The launch template's `user_data` (base64) for a boot script.

    Plain text while it fits EC2's limit, so the console and plans show it as it is; gzip beyond
    that, which cloud-init unpacks before running. Raises ValueError when even that is too big; its
    message ends with `shorten_hint` (what the user can shorten).
    """
    raw = script.encode("utf-8")
    if len(raw) > USER_DATA_LIMIT_BYTES:
        # mtime=0: the same script must give the same bytes, or every preview shows a change.
        raw = gzip.compress(raw, compresslevel=9, mtime=0)
        if len(raw) > USER_DATA_LIMIT_BYTES:
            raise ValueError(
                f"The boot script is {len(script.encode('utf-8'))} bytes ({len(raw)} gzip-compressed), over "
                f"EC2's {USER_DATA_LIMIT_BYTES}-byte user data limit; {shorten_hint}"
            )
    return base64.b64encode(raw).decode("ascii")


def decode_user_data(user_data: str) -> str:
    """The boot script inside a launch template's `user_data`, gzip-compressed or not."""
    raw = base64.b64decode(user_data)
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8")


# --- validation -------------------------------------------------------------------------------


def _check_spec(spec: BootScriptSpec) -> None:
    if not spec.cloud_init_path.startswith("/") or has_control_characters(spec.cloud_init_path):
        raise ValueError(
            f"cloud_init_path {spec.cloud_init_path!r} must be an absolute path without control characters, "
            "e.g. /opt/wallarm/usr/share/wallarm-common/cloud-init.py."
        )
    if spec.preset not in PRESETS:
        raise ValueError(f"preset {spec.preset!r} is not one of {', '.join(PRESETS)}.")
    if spec.mode not in MODES:
        raise ValueError(f"mode {spec.mode!r} is not one of {', '.join(MODES)}.")
    if not is_host_name(spec.api_host):
        raise ValueError(
            f"api_host {spec.api_host!r} is not a host name; give it without scheme, port or path, "
            "e.g. api.wallarm.com or us1.api.wallarm.com."
        )
    if spec.node_group is not None:
        # WALLARM_LABELS is a list of key=value labels; a comma would start a second label.
        group = spec.node_group
        if not group or group != group.strip() or "," in group or has_control_characters(group):
            raise ValueError(
                f"node_group {group!r} cannot be placed in WALLARM_LABELS='group=<name>': use a non-empty "
                "name without commas, control characters or surrounding spaces, or leave it unset."
            )
    check_seconds("token_fetch_timeout_seconds", spec.token_fetch_timeout_seconds)
    if spec.serving_check is not None:
        check_serving(spec.serving_check)
    for name in ("global_snippet", "http_snippet", "server_snippet", "post_script"):
        try:
            getattr(spec, name).encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(f"{name} is not valid Unicode text ({error.reason}); fix the text.") from None
    check_token_source(spec.token)


# --- script pieces ----------------------------------------------------------------------------

_LAUNCHER_MARKER = "WALLARM_BOOT_LAUNCHER_PY"

_PROLOGUE = f"""#!/bin/bash
# First boot of a Wallarm node, generated by wallarm_mirror.boot_script.
# Runs once as root via cloud-init; output goes to /var/log/cloud-init-output.log.
# The Wallarm token is never printed and never put on a command line of this script.
set -euo pipefail

log() {{ printf '{LOG_PREFIX} %s\\n' "$*" >&2; }}
trap 'log "line $LINENO: a command failed with exit status $?"' ERR

# Keep the load balancer health check failing until the node is configured.
log "stopping nginx until the Wallarm node is configured"
systemctl stop nginx.service

# Our files are private; cloud-init.py and the post script get the original umask back.
orig_umask="$(umask)"
umask 077
work_dir="$(mktemp -d -t wallarm-boot.XXXXXXXXXX)"
chmod 700 "$work_dir"
# bash also runs this on SIGTERM/SIGINT/SIGHUP, so the token file does not outlive an aborted boot.
trap 'rm -rf -- "$work_dir"' EXIT
"""


def _write_files(spec: BootScriptSpec) -> str:
    out = []
    for attribute, _flag, filename in _SNIPPETS:
        text = getattr(spec, attribute)
        if text:
            out.append(b64_write(f'"$work_dir/{filename}"', text.encode("utf-8")))
    if spec.post_script:
        out.append(b64_write('"$work_dir/post-script.sh"', spec.post_script.encode("utf-8")))
    return "".join(out)


def _token_section(spec: BootScriptSpec) -> str:
    return render_token_fetch(
        spec.token,
        spec.token_fetch_timeout_seconds,
        target='"$work_dir/token"',
        on_failure='{ log "could not obtain the Wallarm token; nginx stays stopped"; exit 1; }',
    )


def _cloud_init_check(spec: BootScriptSpec) -> str:
    # Checked before the token fetch, which may wait minutes, so a wrong path fails at once.
    return f"""
cloud_init={shlex.quote(spec.cloud_init_path)}
if [[ ! -f "$cloud_init" ]]; then
  log "$cloud_init does not exist; is cloud_init_path right for this node version?"
  exit 1
fi
"""


def _cloud_init_section(spec: BootScriptSpec) -> str:
    args = [f"-H {shlex.quote(spec.api_host)}", f"-p {spec.preset}", f"-m {spec.mode}"]
    if spec.libdetection:
        args.append("--libdetection")
    for attribute, flag, filename in _SNIPPETS:
        if getattr(spec, attribute):
            args.append(f'{flag} "$work_dir/{filename}"')
    labels = ""
    if spec.node_group is not None:
        labels = "WALLARM_LABELS=" + shlex.quote(f"group={spec.node_group}") + " "
    continuation = " \\\n  "
    summary = f"preset {spec.preset}, mode {spec.mode}, API host {spec.api_host}"
    return f"""
# Run cloud-init.py under the interpreter its shebang names, so its own imports keep working.
interpreter=()
first_line=""
IFS= read -r first_line < "$cloud_init" || true
first_line="${{first_line%$'\\r'}}"
if [[ "$first_line" == '#!'* ]]; then
  read -r -a shebang <<< "${{first_line#'#!'}}"
  interpreter_name="${{shebang[0]:-}}"
  case "${{interpreter_name##*/}}" in
    python*) interpreter=("${{shebang[@]}}") ;;
    env)
      if [[ "${{shebang[1]:-}}" == python* ]]; then interpreter=("${{shebang[@]}}"); fi ;;
  esac
fi
if (( ${{#interpreter[@]}} == 0 )); then
  log "no python shebang in $cloud_init; running it with python3"
  interpreter=(python3)
fi

cat > "$work_dir/run-cloud-init.py" <<'{_LAUNCHER_MARKER}'
{_LAUNCHER_PY}{_LAUNCHER_MARKER}

umask "$orig_umask"
# The launcher puts the token into sys.argv inside python, so no ps listing shows it. Whatever
# cloud-init.py passes to its own subprocesses is Wallarm's code and out of our hands.
log "running $cloud_init ({summary})"
status=0
{labels}"${{interpreter[@]}}" "$work_dir/run-cloud-init.py" "$work_dir/token" "$cloud_init" \\
  {continuation.join(args)} \\
  </dev/null || status=$?
rm -f -- "$work_dir/token"
if (( status != 0 )); then
  log "cloud-init.py failed with exit status $status; nginx stays stopped"
  exit "$status"
fi

log "restarting nginx"
systemctl restart nginx.service
"""


def _post_script_section(spec: BootScriptSpec) -> str:
    if not spec.post_script:
        return ""
    # Unlike Wallarm's own template (set +e) a failure is reported: the node already serves, but the
    # boot must not look successful when the operator's extra step did not happen.
    return """
log "running the post script"
status=0
bash "$work_dir/post-script.sh" </dev/null || status=$?
if (( status != 0 )); then
  log "the post script failed with exit status $status (nginx is already running)"
  exit "$status"
fi
"""


# Runs under cloud-init.py's own interpreter (python 3.7 on the 4.x Debian 10 images): keep it old.
# Subprocesses that cloud-init.py itself starts (register-node and friends) may still receive the
# token on their command lines; that is Wallarm's code and out of our reach.
_LAUNCHER_PY = """\
import os
import runpy
import sys

token_path, script = sys.argv[1], sys.argv[2]
with open(token_path) as token_file:
    token = token_file.read()
os.unlink(token_path)
sys.argv = [script, "-t", token] + sys.argv[3:]
# As if the script had been started directly: its directory first on sys.path.
sys.path[0] = os.path.dirname(os.path.abspath(script))
runpy.run_path(script, run_name="__main__")
"""
