"""Every relative link in README.md and docs/ lands on a file, and every #anchor on a heading, as GitHub
renders them (its heading slugs). No network: links with a scheme are not followed. (The alert rules'
`runbook_url`s are absolute, served by the agent: tests/alerting/test_alerting_config.py.)"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

_FENCE = re.compile(r"^(`{3,}|~{3,}).*?^\1\s*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def prose(text: str) -> str:
    """The text without fenced code blocks, whose brackets are not links."""
    return _FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower case, punctuation dropped, spaces → '-'."""
    text = _CODE_SPAN.sub(lambda m: m.group(0).strip("`"), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading: its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The heading anchors of a Markdown file; a repeated heading gets -1, -2… as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for match in _HEADING.finditer(prose(path.read_text(encoding="utf-8"))):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[str]:
    text = _CODE_SPAN.sub("", prose(path.read_text(encoding="utf-8")))
    return [m.group(1) for m in _LINK.finditer(text)]


def broken(source: Path, target: str, base: Path) -> str | None:
    """Why `target`, a link in `source` relative to `base`, does not resolve; None when it does."""
    if _SCHEME.match(target):
        return None
    where, _, anchor = target.partition("#")
    path = (base / unquote(where)).resolve() if where else source
    if not path.is_relative_to(ROOT):
        return f"{target}: outside the repository"
    if not path.exists():
        return f"{target}: no such file"
    if anchor and (path.suffix != ".md" or unquote(anchor).lower() not in anchors(path)):
        return f"{target}: no heading #{anchor} in {path.relative_to(ROOT)}"
    return None


def test_the_slugs_are_githubs() -> None:
    assert slug("What `make up` runs") == "what-make-up-runs"
    assert slug("What the choices cost: `python -m lab bench-knowledge`") == (
        "what-the-choices-cost-python--m-lab-bench-knowledge"
    )
    assert slug("3. The runbook") == "3-the-runbook"
    assert slug("Incidents: size, retention, concurrency") == "incidents-size-retention-concurrency"


def test_every_relative_link_and_anchor_resolves() -> None:
    assert len(PAGES) > 5
    problems = [
        f"{page.relative_to(ROOT)}: {why}"
        for page in PAGES
        for target in links(page)
        if (why := broken(page, target, page.parent))
    ]
    assert problems == []
