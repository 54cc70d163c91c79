"""The NGINX node's self-check after configuring: what it verifies, and the bash and python that do it.

A failed check stops nginx (traffic port and health check), so the load balancer keeps the node out,
and logs ``wallarm-boot: FAILED: <what>`` as the last line. Each check cites its source: what NGINX or
Wallarm document, or what we wrote ourselves.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .snippets import snippet_markers
from .token_fetch import LOG_PREFIX

if TYPE_CHECKING:
    from .boot_script import BootScriptSpec

# Which snippet goes to cloud-init.py under which flag (boot_script.py writes the files).
SNIPPETS = (
    ("global_snippet", "--global-snippet", "global-snippet.conf"),
    ("http_snippet", "--http-snippet", "http-snippet.conf"),
    ("server_snippet", "--server-snippet", "server-snippet.conf"),
)

_SERVING_MARKER = "WALLARM_BOOT_SERVING_PY"


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


def check_seconds(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} {value!r} must be a whole number of seconds >= 1.")


def check_serving(check: ServingCheck) -> None:
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
    check_seconds("serving_check.listen_timeout_seconds", check.listen_timeout_seconds)
    check_seconds("serving_check.health_timeout_seconds", check.health_timeout_seconds)


def self_check_section(spec: BootScriptSpec) -> str:
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
        for attribute, flag, _filename in SNIPPETS
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
    addresses = listening(port)
    while not addresses:
        if time.monotonic() >= deadline:
            fail("nothing listens on TCP port %d (%s) after %ds" % (port, what, LISTEN_WAIT))
        time.sleep(0.1)
        addresses = listening(port)
host = addresses[0]  # the health port's, found last: no third scan of the socket tables
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
