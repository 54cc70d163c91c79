"""The user data heuristics on plain strings: what counts as a token or a mode, and what does not."""

from __future__ import annotations

import base64
import gzip

import pytest
from plans import FAKE_TOKEN, base64_heredoc
from user_data_scan import (
    decode_user_data,
    documents,
    find_modes,
    find_tokens,
    looks_like_token,
    split_shell,
    token_file,
)


@pytest.mark.parametrize(
    "value",
    [FAKE_TOKEN, f'"{FAKE_TOKEN}"', "abcdEFGH12345678", "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"],
)
def test_literal_credentials_look_like_tokens(value: str) -> None:
    assert looks_like_token(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        '"$WALLARM_TOKEN"',
        "${TOKEN:-}",
        "$(cat /run/token)",
        "`cat token`",
        "{{ wallarm_token }}",
        "<YOUR_WALLARM_TOKEN>",
        "YOUR_WALLARM_TOKEN_HERE",  # one character class: a placeholder
        "from-secrets-manager",
        "/run/wallarm/token",
        "short1A",
        "token.strip()",
    ],
)
def test_references_words_and_placeholders_do_not(value: str) -> None:
    assert not looks_like_token(value)


@pytest.mark.parametrize(
    ("line", "what"),
    [
        (f"/usr/share/wallarm-common/cloud-init.py -t {FAKE_TOKEN} -p mirror -m monitoring", "-t argument"),
        (f"sh wallarm-4.8.0.x86_64-glibc.sh -- --batch -t {FAKE_TOKEN} -c US", "-t argument"),
        (f"docker run -d -e WALLARM_API_TOKEN={FAKE_TOKEN} wallarm/node:4.8.0", "value of WALLARM_API_TOKEN"),
        (f"register-node --token {FAKE_TOKEN} -H us1.api.wallarm.com", "--token argument"),
        (f'  "token": "{FAKE_TOKEN}",', "value of token"),
        (f"api_token: {FAKE_TOKEN}", "value of api_token"),
        (f'WALLARM_TOKEN = "{FAKE_TOKEN}"', "value of WALLARM_TOKEN"),
        (f"printf '%s' {FAKE_TOKEN} | tee /etc/wallarm/api.token", "literal written into /etc/wallarm/api.token"),
    ],
)
def test_literal_tokens_are_found(line: str, what: str) -> None:
    findings = find_tokens(line + "\n")
    assert len(findings) == 1, findings
    assert findings[0].what.startswith(what)
    assert findings[0].length == len(FAKE_TOKEN)


@pytest.mark.parametrize(
    "line",
    [
        'work_dir="$(mktemp -d -t wallarm-boot.XXXXXXXXXX)"',  # our own script: -t of mktemp
        f"docker run -t -i {FAKE_TOKEN[:20]}/image",  # -t of another tool
        "token = token.strip()",  # python in an embedded file
        'headers = {"X-aws-ec2-metadata-token": body.decode("ascii").strip()}',
        '"X-aws-ec2-metadata-token-ttl-seconds": "21600"',
        'sys.argv = [script, "-t", token] + sys.argv[3:]',
        f"# usage: cloud-init.py -t {FAKE_TOKEN}",  # a comment runs nothing
        f"TOKEN_FILE={FAKE_TOKEN}",  # the name does not end in token
        f"echo {FAKE_TOKEN} > /usr/local/bin/fetch-token.py",  # not a token file
    ],
)
def test_lookalikes_are_not_tokens(line: str) -> None:
    assert find_tokens(line + "\n") == []


def test_base64_blobs_are_decoded_and_not_tokens_themselves() -> None:
    script = "#!/bin/bash\n" + base64_heredoc('"$work_dir/http-snippet.conf"', "server { listen 9447; }\n" * 20)
    inner = [d for d in documents(script) if "http-snippet" in d.origin]
    assert [d.text for d in inner] == ["server { listen 9447; }\n" * 20]
    assert find_tokens(script) == []


def test_anything_written_literally_into_a_token_file_is_a_token() -> None:
    script = "#!/bin/bash\n" + base64_heredoc('"$work_dir/token"', "short")
    (finding,) = find_tokens(script)
    assert finding.what == 'base64 heredoc written into the token file "$work_dir/token"'
    assert finding.where == "user data, line 2"


def test_heredoc_that_expands_a_variable_into_a_token_file_holds_no_literal() -> None:
    expanded = "cat > /etc/wallarm/token <<EOF\n$WALLARM_TOKEN\nEOF\n"
    literal = f"cat > /etc/wallarm/token <<'EOF'\n{FAKE_TOKEN}\nEOF\n"
    assert find_tokens(expanded) == []
    assert len(find_tokens(literal)) == 1


def test_split_shell_joins_continuations_and_takes_heredoc_bodies_out() -> None:
    text = "a \\\n  -m block \\\n  -x\ncat <<-EOF\n\tbody -m block\n\tEOF\nb <<< here\n# x <<EOF\nlast\n"
    lines, heredocs = split_shell(text)
    assert [(line.line, line.text) for line in lines] == [
        (1, "a    -m block    -x"),
        (4, "cat <<-EOF"),
        (7, "b <<< here"),
        (8, "# x <<EOF"),
        (9, "last"),
        (10, ""),
    ]
    assert [(h.marker, h.body, h.quoted) for h in heredocs] == [("EOF", "\tbody -m block", False)]


@pytest.mark.parametrize(
    ("encode", "base64_encoded"),
    [
        (lambda t: base64.b64encode(t.encode()).decode(), True),
        (lambda t: base64.b64encode(gzip.compress(t.encode())).decode(), True),
        (lambda t: t, False),
        (lambda t: t, True),  # not base64 after all: read as it is
    ],
)
def test_user_data_is_decoded_as_cloud_init_would(encode: object, base64_encoded: bool) -> None:
    text = "#!/bin/bash\necho hello\n"
    assert decode_user_data(encode(text), base64_encoded=base64_encoded) == text  # type: ignore[operator]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ('"$work_dir/token"', True),
        ("/etc/wallarm/node-token", True),
        ("/run/wallarm_token.txt", True),
        ("api.token", True),
        ("/usr/local/bin/fetch-token.py", False),
        ("/etc/tokens", False),
        ("/etc/wallarm/node.yaml", False),
    ],
)
def test_token_file_names(name: str, expected: bool) -> None:
    assert token_file(name) is expected


@pytest.mark.parametrize(
    ("script", "how", "mode"),
    [
        ("/opt/wallarm/usr/share/wallarm-common/cloud-init.py -p mirror --mode=block\n", "cloud-init.py -m", "block"),
        (
            '"$py" "$dir/run-cloud-init.py" "$dir/token" "$ci" \\\n  -H h \\\n  -m safe_blocking \\\n  </dev/null\n',
            "cloud-init.py -m",
            "safe_blocking",
        ),
        ("docker run -e WALLARM_MODE=block wallarm/node\n", "WALLARM_MODE", "block"),
        ("server {\n  wallarm_mode monitoring;\n}\n", "wallarm_mode directive", "monitoring"),
    ],
)
def test_modes_are_read_where_they_are_set(script: str, how: str, mode: str) -> None:
    (setting,) = find_modes(script)
    assert (setting.how, setting.mode) == (how, mode)


def test_module_flags_before_cloud_init_are_not_its_mode() -> None:
    assert find_modes("python3 -m block cloud-init.py -p mirror\n") == []
