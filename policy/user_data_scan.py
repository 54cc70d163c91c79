"""Reading EC2 user data the way a node's first boot would: decoded, split into shell and heredocs.

Pure text work (standard library only), so every heuristic here is tested on plain strings.

Why the token search is *contextual* and not an entropy scan: the boot script of wallarm-mirror
embeds every file (NGINX snippets, the post script, and with tokenDelivery userData the token)
as base64 heredocs, and a base64 blob is exactly what an "a long random-looking string" detector
flags. Instead, heredoc bodies are taken out of the shell text, base64 ones are decoded, and a
value counts only where something *names* it a token: a `--token` argument, a `-t` argument of a
Wallarm tool, an assignment to a variable or key whose name ends in "token", or a file named like
a token that the script writes literally.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

# Bounds for hostile or broken input: EC2 caps user data at 16 KB, so anything this deep or large
# is not a real boot script, and the policy must not hang the preview on it.
MAX_NESTING = 4
MAX_DECOMPRESSED_BYTES = 1 << 20

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Heredoc:
    """One here-document: the command line that opens it, its marker and its body."""

    command: str
    marker: str
    quoted: bool  # <<'EOF': the shell expands nothing inside
    body: str
    line: int  # 1-based line of the command in its document


@dataclass(frozen=True)
class ShellLine:
    """A logical shell line (backslash continuations joined) and where it starts."""

    text: str
    line: int


@dataclass(frozen=True)
class Document:
    """A piece of text the node would act on: the user data itself, or a file it writes."""

    origin: str  # for messages, e.g. 'user data' or 'user data line 27, base64 heredoc into "x"'
    text: str

    def where(self, line: int) -> str:
        return f"{self.origin}, line {line}"


def decode_user_data(value: str, *, base64_encoded: bool) -> str:
    """The text of user data as cloud-init sees it.

    Launch templates carry base64; instances may carry plain text. A value that does not decode as
    base64 is read as plain text, so a mistake in encoding never hides a token from the scan.
    gzip is unpacked because cloud-init accepts gzip-compressed user data.
    """
    data = value.encode("utf-8", "surrogateescape")
    if base64_encoded:
        try:
            data = base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            data = value.encode("utf-8", "surrogateescape")
    return _text(_gunzip(data))


def _gunzip(data: bytes) -> bytes:
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        return inflater.decompress(data, MAX_DECOMPRESSED_BYTES)
    except zlib.error:
        return data


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


# `<<` not preceded or followed by another `<` (that would be a here-string, `<<<`), then an
# optional `-`, then the marker, bare or quoted. `$(( 1 << 2 ))` does not match: a marker starts
# with a letter or underscore.
_HEREDOC = re.compile(r"(?<!<)<<(?!<)(-?)[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_BASE64_DECODE = re.compile(r"\bbase64\b[^|;&<>]*?\s(?:-[A-Za-z]*d[A-Za-z]*|--decode)\b")


def split_shell(text: str) -> tuple[list[ShellLine], list[Heredoc]]:
    """Logical shell lines and the heredocs they open, heredoc bodies taken out of the lines.

    Good enough for generated boot scripts, not a shell parser: quotes spanning lines and heredoc
    markers inside strings are not understood. A comment line opens no heredoc.
    """
    lines = text.split("\n")
    shell: list[ShellLine] = []
    heredocs: list[Heredoc] = []
    index = 0
    while index < len(lines):
        start = index
        logical = lines[index]
        index += 1
        while _continues(logical) and index < len(lines):
            logical = logical[:-1] + " " + lines[index]
            index += 1
        shell.append(ShellLine(logical, start + 1))
        if logical.lstrip().startswith("#"):
            continue
        for match in _HEREDOC.finditer(logical):
            strip_tabs, quote, marker = match.group(1) == "-", match.group(2), match.group(3)
            body: list[str] = []
            while index < len(lines):
                candidate = lines[index]
                index += 1
                if (candidate.lstrip("\t") if strip_tabs else candidate) == marker:
                    break
                body.append(candidate)
            heredocs.append(
                Heredoc(command=logical, marker=marker, quoted=bool(quote), body="\n".join(body), line=start + 1)
            )
    return shell, heredocs


def _continues(line: str) -> bool:
    # An odd number of trailing backslashes: the last one escapes the newline.
    stripped = line.rstrip("\\")
    return (len(line) - len(stripped)) % 2 == 1


def is_base64_heredoc(heredoc: Heredoc) -> bool:
    """`base64 -d > file <<'MARKER'` (also --decode, -di): the body is data to decode."""
    return bool(_BASE64_DECODE.search(heredoc.command.split("<<", 1)[0]))


def heredoc_content(heredoc: Heredoc) -> str:
    """What the heredoc delivers: the decoded text for base64 ones, else the body."""
    if is_base64_heredoc(heredoc):
        return decode_user_data(heredoc.body, base64_encoded=True)
    return heredoc.body


_REDIRECT = re.compile(r"(?:^|[^0-9&<>])>>?[ \t]*(\"[^\"]*\"|'[^']*'|[^\s;&|<>]+)")
_TEE = re.compile(r"\btee[ \t]+(?:-[a-z]+[ \t]+)*(\"[^\"]*\"|'[^']*'|[^\s;&|<>]+)")


def heredoc_target(heredoc: Heredoc) -> str | None:
    """The file the heredoc's command writes (`> file`, `>> file`, `tee file`), quotes kept."""
    command = heredoc.command.split("<<", 1)[0]
    found = _REDIRECT.search(command) or _TEE.search(command)
    return found.group(1) if found else None


def documents(text: str, origin: str = "user data", *, depth: int = 0) -> Iterator[Document]:
    """The text itself and, recursively, every heredoc body it writes (decoded when base64)."""
    yield Document(origin=origin, text=text)
    if depth >= MAX_NESTING:
        return
    _, heredocs = split_shell(text)
    for heredoc in heredocs:
        kind = "base64 heredoc" if is_base64_heredoc(heredoc) else "heredoc"
        target = heredoc_target(heredoc)
        into = f" into {target}" if target else ""
        inner = f"{origin} line {heredoc.line}, {kind}{into}"
        yield from documents(heredoc_content(heredoc), inner, depth=depth + 1)


# --- token heuristics -----------------------------------------------------------------------

# Wallarm node and API tokens are base64 strings of 64+ characters. Anything in a token position
# that is shorter than this, or made of one kind of character only, is a word or a placeholder
# ("from-secrets-manager", "YOUR_WALLARM_TOKEN", "xxxxxxxxxxxxxxxxxxxx"), not a credential; a
# random base64 string of this length has at least two of lower case, upper case and digits.
MIN_TOKEN_LENGTH = 16
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9+/=_.\-]+")


def looks_like_token(raw: str) -> bool:
    """Whether a value in a token position is a literal credential rather than a reference.

    Not a token: shell or template expansions ($VAR, $(cmd), `cmd`, {{ var }}, %(var)s), paths,
    placeholders in angle brackets, and values that fail the length / character-class test above.
    """
    value = raw.strip().strip("\"'")
    if not value or value.startswith(("/", "./", "~", "<")):
        return False
    if any(marker in value for marker in ("$", "`", "{{", "%(")):
        return False
    if len(value) < MIN_TOKEN_LENGTH or not _TOKEN_CHARS.fullmatch(value):
        return False
    classes = sum(bool(re.search(pattern, value)) for pattern in ("[a-z]", "[A-Z]", "[0-9]"))
    return classes >= 2


@dataclass(frozen=True)
class TokenFinding:
    """A place where the user data holds a literal token; never carries the value itself."""

    where: str
    what: str  # e.g. "--token argument", "value of WALLARM_API_TOKEN"
    length: int


# `-t VALUE` is Wallarm's token flag only on Wallarm's tools; elsewhere -t means other things
# (`mktemp -t wallarm-boot.XXXXXXXXXX` in our own script, `docker run -t`, `sort -t`).
_WALLARM_TOOL = re.compile(r"cloud-init\.py|register-node|\baddnode\b|wallarm-[\w.\-]*\.sh\b|\bwcli\b")
_TOKEN_FLAG = re.compile(r"(?:^|\s)(--token|--api-token|--node-token)(?:=|\s+)(\"[^\"]*\"|'[^']*'|\S+)")
_SHORT_FLAG = re.compile(r"(?:^|\s)(-t)\s+(\"[^\"]*\"|'[^']*'|\S+)")
# NAME=value (shell, env files, docker -e) and key: value / "key": "value" (YAML, JSON, INI) where
# the name ends in "token". Names that merely contain it (TOKEN_FILE, token_url) are not secrets.
# With spaces around "=" only a quoted value counts: `token = token.strip()` is code, not a value.
_ASSIGNMENT = re.compile(
    r"(?<![\w-])(?P<name>(?:[A-Za-z_][\w-]*)?token)[\"']?"  # the name, maybe a quoted JSON key
    r"(?:=|\s*:\s+|\s*:(?=[\"'])|\s*=\s*(?=[\"']))"  # NAME=, key: , "key":"..., name = "...
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s,;}]+)",
    re.IGNORECASE,
)
# echo/printf of a literal into a file named like a token (printf's format argument skipped).
_ECHO_INTO = re.compile(
    r"\b(?:echo|printf)\s+(?:-[a-zA-Z]+\s+)*(?:\"[^\"]*%[^\"]*\"\s+|'[^']*%[^']*'\s+)?"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s|;&<>]+)\s*(?:\|\s*tee\s+(?:-a\s+)?|>>?\s*)"
    r"(?P<target>\"[^\"]*\"|'[^']*'|[^\s;&|<>]+)"
)
# A file named as holding a token: token, node-token, wallarm_token, api.token, token.txt. A
# program that handles tokens (fetch-token.py, token-refresh.sh) is not one.
_TOKEN_FILE = re.compile(r"(?:^|[\w.\-]*[-_.])token(?:\.(?:txt|secret|key))?", re.IGNORECASE)


def token_file(target: str) -> bool:
    """Whether a redirect target names a file that holds a token."""
    name = target.strip("\"'").rstrip("/").rsplit("/", 1)[-1]
    return bool(_TOKEN_FILE.fullmatch(name))


def find_tokens(text: str) -> list[TokenFinding]:
    """Every literal token in decoded user data, including files it writes through heredocs."""
    findings: list[TokenFinding] = []
    for document in documents(text):
        findings.extend(_tokens_in(document))
    return findings


def _tokens_in(document: Document) -> Iterator[TokenFinding]:
    shell_lines, heredocs = split_shell(document.text)
    for line in shell_lines:
        if line.text.lstrip().startswith("#"):
            continue  # a comment may show usage (`# cloud-init.py -t <token>`), it runs nothing
        for what, raw in _token_candidates(line.text):
            if looks_like_token(raw):
                yield TokenFinding(document.where(line.line), what, len(raw.strip().strip("\"'")))
    for heredoc in heredocs:
        target = heredoc_target(heredoc)
        if target is None or not token_file(target):
            continue
        content = heredoc_content(heredoc).strip()
        # An unquoted heredoc that only expands a variable (`cat > token <<EOF` / `$TOKEN`) holds a
        # reference, not the token; anything else written into a token file is the token itself,
        # whatever it looks like (this is how tokenDelivery userData delivers it).
        if not content or (not heredoc.quoted and not is_base64_heredoc(heredoc) and "$" in content):
            continue
        kind = "base64 heredoc" if is_base64_heredoc(heredoc) else "heredoc"
        yield TokenFinding(document.where(heredoc.line), f"{kind} written into the token file {target}", len(content))


def _token_candidates(code: str) -> Iterator[tuple[str, str]]:
    """(what it is, raw value) for every value in a token position on one logical line."""
    for match in _TOKEN_FLAG.finditer(code):
        yield f"{match.group(1)} argument", match.group(2)
    if _WALLARM_TOOL.search(code):
        for match in _SHORT_FLAG.finditer(code):
            yield "-t argument of a Wallarm tool", match.group(2)
    for match in _ASSIGNMENT.finditer(code):
        yield f"value of {match.group('name')}", match.group("value")
    for match in _ECHO_INTO.finditer(code):
        if token_file(match.group("target")):
            yield f"literal written into {match.group('target')}", match.group("value")


# --- Wallarm filtration mode ----------------------------------------------------------------

BLOCKING_MODES = ("safe_blocking", "block")

_CLOUD_INIT = re.compile(r"cloud-init\.py")
_MODE_FLAG = re.compile(r"(?:^|\s)(?:-m|--mode)(?:=|\s+)[\"']?([A-Za-z_$][\w${}]*)")
_NGINX_MODE = re.compile(r"(?:^|[\s;{])wallarm_mode\s+[\"']?([A-Za-z_$][\w${}]*)")
_ENV_MODE = re.compile(r"(?<![\w-])WALLARM_MODE=[\"']?([A-Za-z_$][\w${}]*)")


@dataclass(frozen=True)
class ModeSetting:
    """One place that sets Wallarm's filtration mode."""

    where: str
    how: str  # "cloud-init.py -m", "wallarm_mode directive", "WALLARM_MODE"
    mode: str


def find_modes(text: str) -> list[ModeSetting]:
    """Every filtration mode the user data sets: `cloud-init.py ... -m MODE` (continuation lines
    joined), NGINX `wallarm_mode MODE;` in written files, and `WALLARM_MODE=MODE`."""
    found: list[ModeSetting] = []
    for document in documents(text):
        shell_lines, _ = split_shell(document.text)
        for line in shell_lines:
            code = line.text
            if code.lstrip().startswith("#"):
                continue
            call = _CLOUD_INIT.search(code)
            # Only flags after the script's name are its own (`python3 -m x cloud-init.py` is not).
            if call and (flag := _MODE_FLAG.search(code, call.end())):
                found.append(ModeSetting(document.where(line.line), "cloud-init.py -m", flag.group(1)))
            for match in _ENV_MODE.finditer(code):
                found.append(ModeSetting(document.where(line.line), "WALLARM_MODE", match.group(1)))
            for match in _NGINX_MODE.finditer(code):
                found.append(ModeSetting(document.where(line.line), "wallarm_mode directive", match.group(1)))
    return found
