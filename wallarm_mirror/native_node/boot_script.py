"""The EC2 user data that installs a Wallarm Native Node (tcp-capture-v2, VXLAN input) at first boot.

Pure text generation (standard library only, no Pulumi), so the script is tested by running it. It
runs on a stock Debian 12 (or Ubuntu LTS) AMI, where cloud-init (python3) runs it as root.

What the rendered bash script does, in order, each step bounded in time:
1. checks that the machine's architecture (``uname -m``) is the installer's;
2. writes the node config (`render_go_node_config`) into a private temporary directory;
3. downloads ``https://<installer_host>/native/aio-native-<version>.<arch>.sh`` with python3's
   urllib (certificate verified, no redirect away from HTTPS), retrying temporary errors until a
   deadline, and checks its sha256 when one is pinned; a mismatch never runs it;
4. obtains the token with the instance role exactly like the NGINX node's script (the shared
   stdlib fetcher: IMDSv2 + SigV4 to Secrets Manager or SSM), or takes it from the user data;
5. runs the installer in batch mode, as Wallarm documents it:
   ``WALLARM_LABELS=group=<group> <installer> -- --batch --token <TOKEN> --mode=tcp-capture-v2
   --go-node-config=<path> --host <api_host>``, bounded by ``timeout``;
6. waits (bounded) until ``http://127.0.0.1:8080/ready`` answers HTTP 200 and logs the result.
Every failure logs one ``wallarm-boot: FAILED: ...`` line and exits non-zero; once the installer
has started, a failure also stops ``wallarm.service``, so nothing answers on UDP 4789 or on the
health port and the NLB health check keeps the node out until the auto scaling group replaces it.

Token handling, and why. Wallarm documents a single way to hand the installer its token: the
``--token`` argument (no environment variable, no file). So the token is on the installer's own
command line, which any local process can read in ``/proc/<pid>/cmdline`` while it runs. What we
control is kept tighter: the token travels in a mode-600 file in a mode-700 directory; a small
python launcher reads it, deletes the file and ``exec``s the installer, so no process of ours (the
bash script, ``timeout``, the launcher before ``exec``) has it in its argv or environment, and
nothing logs it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Literal

from ..node.boot_script import (
    LOG_PREFIX,
    TokenSource,
    check_token_source,
    encode_user_data,
    has_control_characters,
    is_host_name,
    render_token_fetch,
)
from .go_node_config import (
    HEALTH_CHECK_PATH,
    HEALTH_CHECK_PORT,
    MIN_NATIVE_NODE_VERSION,
    MODE,
    GoNodeConfigSpec,
    bpf_port_filter,
    render_go_node_config,
)

Arch = Literal["x86_64", "aarch64"]
ARCHES: tuple[Arch, ...] = ("x86_64", "aarch64")

DEFAULT_INSTALLER_HOST = "meganode.wallarm.com"
# Tests point these at stand-ins on 127.0.0.1; nothing sets them on a node (cloud-init's environment).
INSTALLER_BASE_URL_ENV = "WALLARM_BOOT_INSTALLER_BASE_URL"
READY_URL_ENV = "WALLARM_BOOT_READY_URL"
READY_URL = f"http://127.0.0.1:{HEALTH_CHECK_PORT}{HEALTH_CHECK_PATH}"

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class NativeBootSpec:
    """Everything the first-boot script of one Native Node group needs."""

    version: str  # all-in-one installer version, e.g. "0.25.5"
    arch: Arch  # the installer's architecture: must be the instance's `uname -m`
    api_host: str  # api.wallarm.com (EU) or us1.api.wallarm.com (US)
    node_group: str  # WALLARM_LABELS='group=<node_group>'
    token: TokenSource  # an API token with the "Node deployment/Deployment" usage type
    vni: int  # VXLAN network identifier of our traffic mirror sessions
    ports: tuple[int, ...]  # the application's TCP ports, analysed in both directions
    trusted_networks: tuple[str, ...]  # CIDRs whose X-Forwarded-For / X-Forwarded-Host are believed
    installer_sha256: str | None  # pins the installer; None = not checked (the plan should warn)
    installer_host: str = DEFAULT_INSTALLER_HOST
    token_fetch_timeout_seconds: int = 300
    download_timeout_seconds: int = 300
    install_timeout_seconds: int = 1200
    ready_timeout_seconds: int = 300

    @property
    def installer_name(self) -> str:
        """The installer's file name, as Wallarm publishes it."""
        return f"aio-native-{self.version}.{self.arch}.sh"

    @property
    def installer_url(self) -> str:
        """Where the node downloads the installer from."""
        return f"https://{self.installer_host}/native/{self.installer_name}"

    @property
    def go_node_config(self) -> GoNodeConfigSpec:
        """The part of this spec that goes into the node's config file."""
        return GoNodeConfigSpec(vni=self.vni, ports=self.ports, trusted_networks=self.trusted_networks)


def render_native_boot_script(spec: NativeBootSpec) -> str:
    """Return the whole EC2 user data (a bash script starting with ``#!/bin/bash``) for `spec`.

    Raises ValueError (naming the field) when a value cannot be placed in the script safely; messages
    never contain the token. `encode_native_user_data` turns the result into the launch template's user data.
    """
    _check_spec(spec)
    config = render_go_node_config(spec.go_node_config)
    parts = [
        _PROLOGUE,
        _arch_check(spec),
        'log "writing the node config: VXLAN on UDP 4789, VNI '
        f'{spec.vni}, inner packets matching {bpf_port_filter(spec.ports)}"\n',
        # As it is, not base64: every value in it was validated, and the operator can read it here.
        f"cat > \"$work_dir/go-node.yaml\" <<'{_CONFIG_MARKER}'\n{config}{_CONFIG_MARKER}\n",
        _download_section(spec),
        render_token_fetch(
            spec.token,
            spec.token_fetch_timeout_seconds,
            target='"$work_dir/token"',
            on_failure='fail 1 "could not obtain the Wallarm token; the node is not installed"',
        ),
        _install_section(spec),
        _ready_section(spec),
        'log "the Wallarm Native Node is installed and ready"\n',
    ]
    return "".join(parts)


def encode_native_user_data(script: str) -> str:
    """The launch template's `user_data` (base64) for a Native Node boot script (gzip over 16 KB)."""
    return encode_user_data(script, shorten_hint="give fewer trusted networks or ports.")


# --- validation -------------------------------------------------------------------------------


def _check_spec(spec: NativeBootSpec) -> None:
    version = _VERSION.fullmatch(spec.version) if isinstance(spec.version, str) else None
    if version is None:
        raise ValueError(f"version {spec.version!r} must look like 0.25.5 (three numbers, no 'v').")
    minimum = tuple(int(n) for n in MIN_NATIVE_NODE_VERSION.split("."))
    if tuple(int(n) for n in version.groups()) < minimum:
        raise ValueError(
            f"version {spec.version} cannot receive VXLAN: tcp_stream.from_vxlan exists from "
            f"{MIN_NATIVE_NODE_VERSION}; use {MIN_NATIVE_NODE_VERSION} or newer."
        )
    if spec.arch not in ARCHES:
        raise ValueError(f"arch {spec.arch!r} is not one of {', '.join(ARCHES)}.")
    for name in ("api_host", "installer_host"):
        value = getattr(spec, name)
        if not isinstance(value, str) or not is_host_name(value):
            raise ValueError(
                f"{name} {value!r} is not a host name; give it without scheme, port or path, "
                "e.g. api.wallarm.com or us1.api.wallarm.com."
            )
    group = spec.node_group
    # WALLARM_LABELS is a list of key=value labels; a comma would start a second label.
    placeable = isinstance(group, str) and group == group.strip() and "," not in group
    if not placeable or not group or has_control_characters(group):
        raise ValueError(
            f"node_group {group!r} cannot be placed in WALLARM_LABELS='group=<name>': use a non-empty "
            "name without commas, control characters or surrounding spaces."
        )
    digest = spec.installer_sha256
    if digest is not None and (not isinstance(digest, str) or not _SHA256.fullmatch(digest)):
        raise ValueError(
            f"installer_sha256 {digest!r} is not a SHA-256 in hex (64 characters); "
            f"compute it with: curl -fsS {spec.installer_url} | sha256sum"
        )
    for name in (
        "token_fetch_timeout_seconds",
        "download_timeout_seconds",
        "install_timeout_seconds",
        "ready_timeout_seconds",
    ):
        value = getattr(spec, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} {value!r} must be a whole number of seconds >= 1.")
    check_token_source(spec.token)


# --- script pieces ----------------------------------------------------------------------------

_CONFIG_MARKER = "WALLARM_BOOT_GO_NODE_YAML"
_DOWNLOADER_MARKER = "WALLARM_BOOT_DOWNLOADER_PY"
_LAUNCHER_MARKER = "WALLARM_BOOT_LAUNCHER_PY"
_READY_MARKER = "WALLARM_BOOT_READY_PY"

_PROLOGUE = f"""#!/bin/bash
# First boot of a Wallarm Native Node ({MODE}, VXLAN input), generated by
# wallarm_mirror.native_node.boot_script; runs once as root via cloud-init. The token is never
# printed; only Wallarm's installer gets it on its command line (its one documented way).
set -euo pipefail

log() {{ printf '{LOG_PREFIX} %s\\n' "$*" >&2; }}
trap 'log "FAILED: line $LINENO: a command failed with exit status $?"' ERR

fail() {{
  local status=$1
  shift
  log "FAILED: $*"
  exit "$status"
}}

# Nothing listens on UDP 4789 or on the health port until the installer starts wallarm.service;
# from then on a failure stops it again, so the NLB health check keeps this node out.
node_may_run=0
finish() {{
  local status=$?
  rm -rf -- "$work_dir"
  if (( status != 0 && node_may_run )); then
    log "stopping wallarm.service so that the NLB health check keeps this node out"
    systemctl stop wallarm.service || log "could not stop wallarm.service (exit status $?)"
  fi
  exit "$status"
}}

# Our files are private; the installer gets the original umask back.
orig_umask="$(umask)"
umask 077
work_dir="$(mktemp -d -t wallarm-boot.XXXXXXXXXX)"
chmod 700 "$work_dir"
# bash also runs this on SIGTERM/SIGINT/SIGHUP, so the token file does not outlive an aborted boot.
trap finish EXIT
"""


def _arch_check(spec: NativeBootSpec) -> str:
    # Before any download or token fetch: an instance type of the other architecture fails at once.
    return f"""
machine="$(uname -m)"
if [[ "$machine" != {spec.arch} ]]; then
  fail 1 "this instance is $machine but {spec.installer_name} is for {spec.arch}; \\
use an instance type of that architecture or the installer for $machine"
fi
"""


def _download_section(spec: NativeBootSpec) -> str:
    arguments = " ".join(
        shlex.quote(a)
        for a in (
            f"https://{spec.installer_host}",
            f"/native/{spec.installer_name}",
            (spec.installer_sha256 or "").lower(),
            str(spec.download_timeout_seconds),
        )
    )
    return f"""
installer="$work_dir/{spec.installer_name}"
status=0
python3 -I -S - {arguments} "$installer" <<'{_DOWNLOADER_MARKER}' || status=$?
{_DOWNLOADER_PY}{_DOWNLOADER_MARKER}
case "$status" in
  0) ;;
  2) fail 1 "the sha256 of {spec.installer_name} is not the pinned one; refusing to run it" ;;
  *) fail 1 "could not download {spec.installer_name} within {spec.download_timeout_seconds}s" ;;
esac
chmod 700 "$installer"
"""


def _install_section(spec: NativeBootSpec) -> str:
    labels = shlex.quote(f"group={spec.node_group}")
    host = shlex.quote(spec.api_host)
    timeout = spec.install_timeout_seconds
    return f"""
cat > "$work_dir/run-installer.py" <<'{_LAUNCHER_MARKER}'
{_LAUNCHER_PY}{_LAUNCHER_MARKER}

wallarm_labels={labels}
log "running {spec.installer_name} ({MODE}, API host {spec.api_host}, labels $wallarm_labels, \\
at most {timeout}s)"
node_may_run=1
cd "$work_dir"
umask "$orig_umask"
status=0
# The launcher reads and deletes the token file, then becomes the installer (exec): the token is on
# the installer's command line only. timeout stops it, and whatever it started, at the bound.
WALLARM_LABELS="$wallarm_labels" timeout --kill-after=30 {timeout} \\
  python3 -I -S "$work_dir/run-installer.py" "$work_dir/token" "$installer" \\
  --mode={MODE} --go-node-config="$work_dir/go-node.yaml" --host {host} \\
  </dev/null || status=$?
umask 077
rm -f -- "$work_dir/token"
case "$status" in
  0) ;;
  124|137) fail "$status" "{spec.installer_name} did not finish within {timeout}s" ;;
  *) fail "$status" "{spec.installer_name} exited with status $status; see its output above" ;;
esac
"""


def _ready_section(spec: NativeBootSpec) -> str:
    timeout = spec.ready_timeout_seconds
    return f"""
status=0
python3 -I -S - {shlex.quote(READY_URL)} {timeout} <<'{_READY_MARKER}' || status=$?
{_READY_PY}{_READY_MARKER}
if (( status != 0 )); then
  fail 1 "the node did not report ready within {timeout}s; see /opt/wallarm/var/log/wallarm/go-node.log"
fi
"""


# Runs under the image's python3 (3.7+ kept for old images): reads the token file, deletes it and
# becomes the installer, in Wallarm's documented batch form.
_LAUNCHER_PY = """\
import os
import sys

token_path, installer = sys.argv[1], sys.argv[2]
with open(token_path) as token_file:
    token = token_file.read()
os.unlink(token_path)
os.execv(installer, [installer, "--", "--batch", "--token", token] + sys.argv[3:])
"""

# Stdlib-only python3. Temporary errors (no answer, 5xx, 408, 429, a cut transfer) are retried with
# capped backoff until the deadline; other 4xx answers (a version that does not exist) fail at once.
_DOWNLOADER_PY = f"""\
import hashlib, http.client, os, sys, time, urllib.error, urllib.request

BASE, PATH, EXPECTED, TIMEOUT, OUT = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
URL = (os.environ.get("{INSTALLER_BASE_URL_ENV}") or BASE).rstrip("/") + PATH
DEADLINE = time.monotonic() + TIMEOUT


def log(message):
    sys.stderr.write("{LOG_PREFIX} " + message + "\\n")
    sys.stderr.flush()


class Retry(Exception):
    pass


class HttpsOnly(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, request, fp, code, message, headers, new_url):
        if request.full_url.startswith("https:") and not new_url.startswith("https:"):
            raise ValueError("refusing a redirect from HTTPS to " + new_url)
        return super().redirect_request(request, fp, code, message, headers, new_url)


def download():
    digest = hashlib.sha256()
    timeout = max(1.0, min(30.0, DEADLINE - time.monotonic()))
    try:
        with urllib.request.build_opener(HttpsOnly).open(URL, timeout=timeout) as response, open(OUT, "wb") as out:
            for chunk in iter(lambda: response.read(65536), b""):
                if time.monotonic() > DEADLINE:
                    raise Retry("the transfer did not finish before the deadline")
                digest.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as error:
        error.close()
        if 400 <= error.code < 500 and error.code not in (408, 429):
            raise ValueError("HTTP %d; does this version exist for this architecture?" % error.code)
        raise Retry("HTTP %d" % error.code)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        raise Retry("%s: %s" % (type(error).__name__, getattr(error, "reason", error)))
    return digest.hexdigest()


log("downloading " + URL)
attempt, delay = 0, 1.0
while True:
    attempt += 1
    try:
        actual = download()
        break
    except ValueError as error:  # not temporary: retrying cannot help
        log("giving up at once: " + str(error))
        sys.exit(1)
    except Retry as error:
        reason = str(error)
    remaining = DEADLINE - time.monotonic()
    if remaining <= 0:
        log("giving up after %d attempts in %ds: %s" % (attempt, TIMEOUT, reason))
        sys.exit(1)
    log("attempt %d failed: %s; retrying in %.1fs" % (attempt, reason, min(delay, remaining)))
    time.sleep(min(delay, remaining))
    delay = min(delay * 2, 20.0)

if not EXPECTED:
    log("installer sha256 %s (not pinned, so not checked)" % actual)
elif actual != EXPECTED:
    os.unlink(OUT)
    log("installer sha256 is %s, expected %s" % (actual, EXPECTED))
    sys.exit(2)
else:
    log("installer sha256 %s matches the pinned value" % actual)
"""

# Stdlib-only python3: polls the node's readiness endpoint until HTTP 200 or the deadline. The
# endpoint is local: a proxy from the environment must never see the request.
_READY_PY = f"""\
import os, sys, time, urllib.error, urllib.request

URL, TIMEOUT = os.environ.get("{READY_URL_ENV}") or sys.argv[1], float(sys.argv[2])
STARTED = time.monotonic()
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({{}}))


def log(message):
    sys.stderr.write("{LOG_PREFIX} " + message + "\\n")
    sys.stderr.flush()


log("waiting for " + URL)
checks, last = 0, None
while True:
    checks += 1
    remaining = STARTED + TIMEOUT - time.monotonic()
    try:
        with OPENER.open(URL, timeout=max(0.5, min(2.0, remaining))) as response:
            answer = "HTTP %d" % response.status
    except urllib.error.HTTPError as error:
        error.close()
        answer = "HTTP %d" % error.code
    except (urllib.error.URLError, OSError) as error:
        answer = "no answer (%s)" % getattr(error, "reason", error)
    if answer == "HTTP 200":
        log("the node reports ready (HTTP 200) after %.0fs" % (time.monotonic() - STARTED))
        sys.exit(0)
    if answer != last:
        log("not ready yet: " + answer)
        last = answer
    remaining = STARTED + TIMEOUT - time.monotonic()
    if remaining <= 0:
        log("still not ready after %d checks in %ds; last answer: %s" % (checks, TIMEOUT, answer))
        sys.exit(1)
    time.sleep(min(1.0, remaining))
"""
