"""Every relative link in the README, CONTRIBUTING.md and docs/ resolves: the file exists and, for
`file.md#anchor`, the heading does (anchors as GitHub makes them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md")])
# [text](target) outside code; images too. Absolute URLs (scheme:) and mail links are not ours to check.
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^\s*(```|~~~)")
README_MAX_LINES = 300


def prose(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans blanked."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(re.sub(r"`[^`]*`", "``", line))
    return lines


def anchors(path: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation other than - and _ dropped, spaces to -, and -1,
    -2 ... after repeats."""
    seen: dict[str, int] = {}
    found = set()
    for line in prose(path.read_text()):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1))
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(path: Path) -> list[str]:
    # Headings' own code spans are blanked too, which is fine: links are what is checked here.
    text = "\n".join(prose(path.read_text()))
    return [t for t in _LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        file_part, _, anchor = target.partition("#")
        resolved = (page.parent / file_part).resolve() if file_part else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    assert broken == []


def test_the_checker_finds_a_broken_file_and_a_broken_anchor(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Real heading\n\n## Two ways: A, B\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#real-heading) [ok](other.md#two-ways-a-b) [bad](missing.md) [bad](other.md#nope)\n"
        "```\n[in code](ignored.md)\n```\n[web](https://example.com/x)\n"
    )
    assert links(page) == ["other.md#real-heading", "other.md#two-ways-a-b", "missing.md", "other.md#nope"]
    assert anchors(tmp_path / "other.md") == {"real-heading", "two-ways-a-b"}


def test_the_readme_is_short_and_for_users() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == [
        "## Choosing an analyser",
        "## Before you start",
        "## Two commands",
        "## Quickstart: nginxNode",
        "## Quickstart: nativeNode",
        "## Is it working?",
        "## More",
    ]
