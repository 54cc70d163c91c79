"""How a first-boot script gets the Wallarm token, shared by the NGINX node's and the Native Node's.

Pure text generation (standard library only). The token comes from Secrets Manager or SSM, read with
the instance role by a small embedded python3 program (IMDSv2 + SigV4; the AWS CLI is not documented
on Wallarm's images), or from the user data itself. It lands in a mode-600 file; nothing prints it.
"""

from __future__ import annotations

import base64
import re
import shlex
from dataclasses import dataclass, field
from typing import TypeAlias

LOG_PREFIX = "wallarm-boot:"

IMDS_ENDPOINT_ENV = "WALLARM_BOOT_IMDS_ENDPOINT"
DEFAULT_IMDS_ENDPOINT = "http://169.254.169.254"


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


# Content is written as base64 so every byte (quotes, $, backticks, backslashes, heredoc markers,
# a missing final newline) arrives unchanged; the marker contains "_", which base64 never emits.
_B64_MARKER = "WALLARM_BOOT_B64"
_FETCHER_MARKER = "WALLARM_BOOT_FETCHER_PY"


def b64_write(target: str, data: bytes) -> str:
    """Bash that writes `data` to `target` (a double-quoted shell word) byte for byte."""
    encoded = base64.encodebytes(data).decode("ascii")
    return f"base64 -d > {target} <<'{_B64_MARKER}'\n{encoded}{_B64_MARKER}\n"


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
