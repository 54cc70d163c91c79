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
import re
import shlex
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from .snippets import snippet_markers

LOG_PREFIX = "wallarm-boot:"

# EC2 rejects user data over 16 KB (counted before base64 encoding); failing at render time names
# the cause instead of a launch template API error.
USER_DATA_LIMIT_BYTES = 16384
_NGINX_SHORTEN_HINT = "shorten the NGINX snippets or the post script (they are embedded base64-encoded)."

IMDS_ENDPOINT_ENV = "WALLARM_BOOT_IMDS_ENDPOINT"
DEFAULT_IMDS_ENDPOINT = "http://169.254.169.254"

PRESETS = ("mirror", "custom")
MODES = ("off", "monitoring", "safe_blocking", "block")

Preset = Literal["mirror", "custom"]
Mode = Literal["off", "monitoring", "safe_blocking", "block"]


@dataclass(frozen=True)
class TokenFromSecretsManager:
    """Fetch the token at boot from a Secrets Manager secret (its SecretString) with the instance role."""

    secret_id: str  # secret ARN or name
    region: str


@dataclass(frozen=True)
class TokenFromSsmParameter:
    """Fetch the token at boot from an SSM SecureString parameter (WithDecryption) with the instance role."""

    name: str
    region: str


@dataclass(frozen=True)
class TokenInline:
    """The token written into the user data itself; render inside a Pulumi secret ``apply``."""

    # repr=False: a spec that ends up in a traceback or a log must not show the token.
    token: str = field(repr=False)


TokenSource: TypeAlias = TokenFromSecretsManager | TokenFromSsmParameter | TokenInline


@dataclass(frozen=True)
class ServingCheck:
    """What the node must serve once nginx is back: exactly what our target group expects of it.

    Pass the effective node port and health check (config.effective_*). On the custom preset the
    health server is ours (snippets.py); on the 4.x mirror preset it is Wallarm's, and 8445 plus
    HTTP :9445 /-/healthcheck answering 200 are what Wallarm's Terraform module's target group uses.
    """

    node_port: int  # the load balancer sends mirrored traffic here
    health_check_port: int
    health_check_path: str
    # nginx binds its ports before `systemctl restart` returns; a minute is ample.
    listen_timeout_seconds: int = 60
    # The ASG's health check grace period (components/node_group.py): a node that is not healthy by
    # then is replaced anyway, and a shorter wait could stop a 7.x node whose daemon is still starting.
    health_timeout_seconds: int = 600


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
        _self_check_section(spec),
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

_HOSTNAME = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
# The region becomes part of the API host name, so it must be a plain region code.
_REGION = re.compile(r"[a-z]{2}(?:-[a-z0-9]+)+-[0-9]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_host_name(value: str) -> bool:
    """Whether `value` is a bare DNS host name (no scheme, port or path), safe on a command line."""
    return len(value) <= 253 and _HOSTNAME.fullmatch(value) is not None


def has_control_characters(text: str) -> bool:
    """Whether `text` contains ASCII control characters (newlines included)."""
    return _CONTROL.search(text) is not None


def _check_spec(spec: BootScriptSpec) -> None:
    if not spec.cloud_init_path.startswith("/") or _CONTROL.search(spec.cloud_init_path):
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
        if not group or group != group.strip() or "," in group or _CONTROL.search(group):
            raise ValueError(
                f"node_group {group!r} cannot be placed in WALLARM_LABELS='group=<name>': use a non-empty "
                "name without commas, control characters or surrounding spaces, or leave it unset."
            )
    _check_seconds("token_fetch_timeout_seconds", spec.token_fetch_timeout_seconds)
    if spec.serving_check is not None:
        _check_serving(spec.serving_check)
    for name in ("global_snippet", "http_snippet", "server_snippet", "post_script"):
        try:
            getattr(spec, name).encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(f"{name} is not valid Unicode text ({error.reason}); fix the text.") from None
    check_token_source(spec.token)


def _check_seconds(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} {value!r} must be a whole number of seconds >= 1.")


def _check_serving(check: ServingCheck) -> None:
    for name in ("node_port", "health_check_port"):
        port = getattr(check, name)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValueError(f"serving_check.{name} {port!r} must be a TCP port, 1-65535.")
    path = check.health_check_path
    if not path.startswith("/") or re.search(r"[\s\x00-\x1f\x7f]", path):
        raise ValueError(
            f"serving_check.health_check_path {path!r} must start with / and contain no spaces or control "
            "characters, e.g. /-/healthcheck."
        )
    _check_seconds("serving_check.listen_timeout_seconds", check.listen_timeout_seconds)
    _check_seconds("serving_check.health_timeout_seconds", check.health_timeout_seconds)


def check_token_source(token: TokenSource) -> None:
    """Raise ValueError when `token` cannot be placed in a boot script; the message never quotes a token."""
    if isinstance(token, TokenInline):
        # The message must not quote the token.
        if not token.token or re.search(r"\s", token.token) or _CONTROL.search(token.token):
            raise ValueError(
                "The inline Wallarm token is empty or contains whitespace or control characters; paste the token alone."
            )
        return
    if isinstance(token, TokenFromSecretsManager):
        kind, ident = "secret_id", token.secret_id
    elif isinstance(token, TokenFromSsmParameter):
        kind, ident = "SSM parameter name", token.name
    else:
        raise ValueError(
            f"token must be a TokenFromSecretsManager, TokenFromSsmParameter or TokenInline, "
            f"not {type(token).__name__}."
        )
    if not ident or _CONTROL.search(ident) or ident != ident.strip():
        raise ValueError(f"{kind} {ident!r} must be non-empty, without control characters or surrounding spaces.")
    if not _REGION.fullmatch(token.region):
        raise ValueError(f"region {token.region!r} is not an AWS region code such as eu-west-1.")


# --- script pieces ----------------------------------------------------------------------------

# Content is written as base64 so every byte (quotes, $, backticks, backslashes, heredoc markers,
# a missing final newline) arrives unchanged; the marker contains "_", which base64 never emits.
_B64_MARKER = "WALLARM_BOOT_B64"
_FETCHER_MARKER = "WALLARM_BOOT_FETCHER_PY"
_LAUNCHER_MARKER = "WALLARM_BOOT_LAUNCHER_PY"
_SERVING_MARKER = "WALLARM_BOOT_SERVING_PY"

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


def b64_write(target: str, data: bytes) -> str:
    """Bash that writes `data` to `target` (a double-quoted shell word) byte for byte."""
    encoded = base64.encodebytes(data).decode("ascii")
    return f"base64 -d > {target} <<'{_B64_MARKER}'\n{encoded}{_B64_MARKER}\n"


_SNIPPETS = (
    ("global_snippet", "--global-snippet", "global-snippet.conf"),
    ("http_snippet", "--http-snippet", "http-snippet.conf"),
    ("server_snippet", "--server-snippet", "server-snippet.conf"),
)


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


def render_token_fetch(token: TokenSource, timeout_seconds: int, *, target: str, on_failure: str) -> str:
    """Bash that puts the token into the file `target` (a quoted shell word naming a new file).

    Secrets Manager and SSM are read by the embedded stdlib fetcher with the instance role, retried
    until `timeout_seconds`; `on_failure` (a bash command) runs when it gives up. An inline token is
    written from the script itself. The logs never show the token. Call `check_token_source` first.
    """
    if isinstance(token, TokenInline):
        return 'log "using the token from the user data"\n' + b64_write(target, token.token.encode("utf-8"))
    if isinstance(token, TokenFromSecretsManager):
        kind, ident = "secretsmanager", token.secret_id
    else:
        kind, ident = "ssm", token.name
    arguments = " ".join(shlex.quote(a) for a in (kind, ident, token.region, str(timeout_seconds)))
    # -I -S: only the standard library, whatever PYTHONPATH or site-packages the image has.
    return (
        f"python3 -I -S - {arguments} {target} <<'{_FETCHER_MARKER}' || {on_failure}\n{_FETCHER_PY}{_FETCHER_MARKER}\n"
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


def _self_check_section(spec: BootScriptSpec) -> str:
    out = [
        r"""
# Self-check. A failure stops nginx (traffic port and health check), so the load balancer keeps
# this node out; the FAILED line is the last one logged.
self_check_failed() {
  local stopped="nginx is stopped, so the load balancer keeps this node out"
  systemctl stop nginx.service || stopped="and nginx.service could not be stopped (exit status $?)"
  log "FAILED: $*; $stopped"
  exit 1
}

# nginx -t is NGINX's documented test (nginx(8)). Only level and file:line are logged: the
# message may quote a value from a secret snippet.
status=0
timeout 60 nginx -t > "$work_dir/nginx-t.log" 2>&1 || status=$?
if (( status != 0 )); then
  where=""
  while IFS= read -r line; do
    if [[ "$line" =~ \[(emerg|alert|crit)\].*\ in\ (/[^[:space:]]+:[0-9]+)$ ]]; then
      where=", ${BASH_REMATCH[1]} at ${BASH_REMATCH[2]}"
      break
    fi
  done < "$work_dir/nginx-t.log"
  self_check_failed "nginx -t rejects the configuration (exit status $status$where); run sudo nginx -t on the node"
fi
"""
    ]
    markers = [
        f"in_config {flag} {shlex.quote(marker)}\n"
        for attribute, flag, _filename in _SNIPPETS
        for marker in snippet_markers(getattr(spec, attribute))
    ]
    if spec.preset == "custom" and markers:
        # The markers are ours (snippets.py). The custom preset is documented as "use only the NGINX
        # snippets you pass", each --*-snippet as a "file added to the <block>", and nginx -T dumps
        # every configuration file (nginx(8)). The marker reaches the message as an argument, so bash
        # does not parse it again.
        out.append(
            """
# Our snippets (marked in snippets.py) must be in what nginx runs: the custom preset uses only them.
timeout 60 nginx -T > "$work_dir/nginx-T.conf" 2>/dev/null || self_check_failed "nginx -T failed (exit status $?)"
in_config() {
  grep -qF -- "$2" "$work_dir/nginx-T.conf" || self_check_failed \\
    "our $1 is not in the configuration nginx runs (nginx -T lacks '$2'); cloud-init.py did not apply it"
}
"""
            + "".join(markers)
        )
    serving = spec.serving_check
    if serving is not None:
        if spec.preset == "custom":
            source = "ours: our target group and our health server (snippets.py)"
        else:
            source = "documented: Wallarm's Terraform module, traffic 8445, HTTP 200 on :9445"
        arguments = " ".join(
            shlex.quote(str(a))
            for a in (
                serving.node_port,
                serving.health_check_port,
                serving.health_check_path,
                serving.listen_timeout_seconds,
                serving.health_timeout_seconds,
            )
        )
        out.append(
            f"""
# Node and health ports listen, health check answers 200 ({source}).
status=0
python3 -I -S - {arguments} > "$work_dir/serving.txt" <<'{_SERVING_MARKER}' || status=$?
{_SERVING_PY}{_SERVING_MARKER}
if (( status != 0 )); then
  self_check_failed "$(head -c 500 "$work_dir/serving.txt")"
fi
"""
        )
    out.append('log "self-check passed"\n')
    return "".join(out)


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

# Stdlib-only python3 (3.7+, the oldest python on a supported AMI). Retries everything until the
# deadline: right after launch an instance profile or a freshly attached policy may not have
# propagated yet, so even AccessDenied can heal; the deadline keeps a permanent error bounded.
_FETCHER_PY = f"""\
import base64, datetime, hashlib, hmac, json, os, re, sys, time
import urllib.error, urllib.parse, urllib.request

KIND, IDENT, REGION, TIMEOUT, OUT = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]


def log(message):
    sys.stderr.write("{LOG_PREFIX} " + message + "\\n")
    sys.stderr.flush()


class Failure(Exception):
    pass


if KIND == "secretsmanager":
    SERVICE, WHAT, SPECIFIC_ENV = "secretsmanager", "Secrets Manager secret", "AWS_ENDPOINT_URL_SECRETS_MANAGER"
    TARGET, REQUEST = "secretsmanager.GetSecretValue", {{"SecretId": IDENT}}
else:
    SERVICE, WHAT, SPECIFIC_ENV = "ssm", "SSM parameter", "AWS_ENDPOINT_URL_SSM"
    TARGET, REQUEST = "AmazonSSM.GetParameter", {{"Name": IDENT, "WithDecryption": True}}
SUFFIX = ".amazonaws.com.cn" if REGION.startswith("cn-") else ".amazonaws.com"
ENDPOINT = (os.environ.get(SPECIFIC_ENV) or os.environ.get("AWS_ENDPOINT_URL")
            or "https://" + SERVICE + "." + REGION + SUFFIX).rstrip("/")
IMDS = (os.environ.get("{IMDS_ENDPOINT_ENV}") or "{DEFAULT_IMDS_ENDPOINT}").rstrip("/")
# IMDS is link-local: a proxy from the environment must never see its requests.
IMDS_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({{}}))
API_OPENER = urllib.request.build_opener()
DEADLINE = time.monotonic() + TIMEOUT


def call(opener, request, limit, what):
    timeout = max(0.5, min(limit, DEADLINE - time.monotonic()))
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers
    except (urllib.error.URLError, OSError) as error:
        raise Failure(what + " unreachable: " + str(getattr(error, "reason", error)))


def role_credentials():
    put = urllib.request.Request(IMDS + "/latest/api/token", method="PUT",
                                 headers={{"X-aws-ec2-metadata-token-ttl-seconds": "300"}})
    status, body, _ = call(IMDS_OPENER, put, 2, "IMDS")
    if status != 200:
        raise Failure("IMDSv2 session token request returned HTTP %d" % status)
    headers = {{"X-aws-ec2-metadata-token": body.decode("ascii").strip()}}
    base = IMDS + "/latest/meta-data/iam/security-credentials/"
    status, body, _ = call(IMDS_OPENER, urllib.request.Request(base, headers=headers), 2, "IMDS")
    roles = body.decode("utf-8", "replace").split() if status == 200 else []
    if not roles:
        raise Failure("no instance role credentials in IMDS yet (HTTP %d); is an instance profile attached?" % status)
    url = base + urllib.parse.quote(roles[0])
    status, body, _ = call(IMDS_OPENER, urllib.request.Request(url, headers=headers), 2, "IMDS")
    if status != 200:
        raise Failure("IMDS role credentials returned HTTP %d" % status)
    document = json.loads(body.decode("utf-8"))
    if document.get("Code") != "Success":
        raise Failure("IMDS role credentials not ready: " + str(document.get("Code")))
    return document["AccessKeyId"], document["SecretAccessKey"], document.get("Token")


def error_reason(status, body, headers):
    code, message = headers.get("x-amzn-ErrorType", "").split(":")[0], ""
    text = body.decode("utf-8", "replace")
    try:
        document = json.loads(text)
        code = code or str(document.get("__type", "")).split("#")[-1]
        message = str(document.get("message") or document.get("Message") or "")
    except ValueError:
        found = re.search(r"<Code>([^<]*)</Code>", text)
        code = code or (found.group(1) if found else "")
        found = re.search(r"<Message>([^<]*)</Message>", text)
        message = found.group(1) if found else ""
    reason = "%s (HTTP %d)" % (code or "unknown error", status)
    if message:
        reason += ": " + " ".join(message.split())[:300]
    return reason


def sign(key, text):
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def fetch_token():
    access_key, secret_key, session_token = role_credentials()
    body = json.dumps(REQUEST).encode("utf-8")
    url = urllib.parse.urlsplit(ENDPOINT)
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    headers = {{"content-type": "application/x-amz-json-1.1", "host": url.netloc,
               "x-amz-date": amz_date, "x-amz-target": TARGET}}
    if session_token:
        headers["x-amz-security-token"] = session_token
    names = sorted(headers)
    canonical = "\\n".join(["POST", url.path or "/", "", "".join(n + ":" + headers[n] + "\\n" for n in names),
                           ";".join(names), hashlib.sha256(body).hexdigest()])
    scope = "/".join([amz_date[:8], REGION, SERVICE, "aws4_request"])
    to_sign = "\\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = ("AWS4" + secret_key).encode("utf-8")
    for part in scope.split("/"):
        key = sign(key, part)
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    headers["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        access_key, scope, ";".join(names), signature)
    request = urllib.request.Request(ENDPOINT, data=body, headers=headers, method="POST")
    status, data, response_headers = call(API_OPENER, request, 10, SERVICE + " endpoint")
    if status != 200:
        raise Failure(error_reason(status, data, response_headers))
    document = json.loads(data.decode("utf-8"))
    if KIND == "secretsmanager":
        value = document.get("SecretString")
        if value is None and document.get("SecretBinary"):
            value = base64.b64decode(document["SecretBinary"]).decode("utf-8")
    else:
        parameter = document.get("Parameter") or {{}}
        value = parameter.get("Value")
        if parameter.get("Type") != "SecureString":
            log("warning: " + WHAT + " " + IDENT + " is not a SecureString")
    if value is None:
        raise Failure("the response has no value")
    return value


log("fetching the Wallarm token from " + WHAT + " " + IDENT + " in " + REGION)
attempt, delay = 0, 0.5
while True:
    attempt += 1
    try:
        token = fetch_token()
        break
    except Failure as failure:
        reason = str(failure)
    except Exception as error:  # only the exception type: its text might quote a response
        reason = "unexpected " + type(error).__name__
    remaining = DEADLINE - time.monotonic()
    if remaining <= 0:
        log("giving up after %d attempts in %ds: %s" % (attempt, TIMEOUT, reason))
        sys.exit(1)
    wait = min(delay, remaining)
    log("attempt %d failed: %s; retrying in %.1fs" % (attempt, reason, wait))
    time.sleep(wait)
    delay = min(delay * 2, 20)

token = token.strip()
if not token or re.search(r"\\s", token):
    log("the value of " + WHAT + " " + IDENT + " is empty or not a single token; store the token alone")
    sys.exit(1)
descriptor = os.open(OUT, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
with os.fdopen(descriptor, "w") as out:
    out.write(token)
log("got the Wallarm token after %d attempt(s)" % attempt)
"""

# Stdlib-only python3 (3.7+). Ports come from the kernel's socket tables, so a listener on any
# address counts (the load balancer connects to the private address, not to loopback); the health
# endpoint is asked where it listens (loopback for a wildcard). Prints what failed on stdout.
_SERVING_PY = f"""\
import http.client, socket, sys, time

NODE, HEALTH, PATH, LISTEN_WAIT, HEALTH_WAIT = sys.argv[1:6]
NODE, HEALTH, LISTEN_WAIT, HEALTH_WAIT = int(NODE), int(HEALTH), int(LISTEN_WAIT), int(HEALTH_WAIT)


def fail(reason):
    print(reason)
    sys.exit(1)


def listening(port):
    found = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            rows = open("/proc/net/" + table).read().splitlines()[1:]
        except OSError:
            continue
        for fields in (row.split() for row in rows):
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)  # 32-bit words, little-endian on EC2
                found.append(socket.inet_ntop(family, b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))))
    return found


deadline = time.monotonic() + LISTEN_WAIT
for port, what in ((NODE, "the node port, where the load balancer sends mirrored traffic"),
                   (HEALTH, "the health check port")):
    while not listening(port):
        if time.monotonic() >= deadline:
            fail("nothing listens on TCP port %d (%s) after %ds" % (port, what, LISTEN_WAIT))
        time.sleep(0.1)
host = listening(HEALTH)[0]
host = {{"0.0.0.0": "127.0.0.1", "::": "::1"}}.get(host, host)
url = "http://%s:%d%s" % ("[%s]" % host if ":" in host else host, HEALTH, PATH)
sys.stderr.write("{LOG_PREFIX} waiting up to %ds for %s to answer HTTP 200\\n" % (HEALTH_WAIT, url))
deadline = time.monotonic() + HEALTH_WAIT
while True:
    connection = http.client.HTTPConnection(host, HEALTH, timeout=max(0.5, min(5, deadline - time.monotonic())))
    try:
        connection.request("GET", PATH)
        answer = "HTTP %d" % connection.getresponse().status
    except (OSError, http.client.HTTPException) as error:
        answer = "no answer (%s)" % type(error).__name__
    connection.close()
    if answer == "HTTP 200":
        sys.stderr.write("{LOG_PREFIX} ports %d and %d listen; %s answers HTTP 200\\n" % (NODE, HEALTH, url))
        sys.exit(0)
    if time.monotonic() >= deadline:
        fail("the health check %s gave %s, not HTTP 200, for %ds" % (url, answer, HEALTH_WAIT))
    time.sleep(0.5)
"""
