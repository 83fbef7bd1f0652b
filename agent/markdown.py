"""Outside text put into Markdown that people render (the incident report, proposed runbook amendments).

An alert annotation, a log line or an action's answer is written by whoever can make the service log or
page: as Markdown it could add links, images, headings or raw HTML to a report, and ANSI sequences or
bidirectional overrides could make it read as something else in a terminal. So it goes in as one line of
text: escape sequences and control characters removed, HTML's `<`, `>` and `&` as entities, and the
Markdown characters that would start a link, an image, emphasis, code or a table cell escaped.
"""

from __future__ import annotations

import re

# CSI (colours, cursor), OSC (titles, hyperlinks; ended by BEL or ST) and the two-character escapes
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_BREAKS = re.compile(r"[\t\n\r\x0b\x0c\x85\u2028\u2029]+")
# C0 and C1 controls, DEL, zero-width and bidirectional formatting characters, the byte-order mark
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_INLINE = re.compile(r"[\\`*\[\]|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# what would start a heading, a list item or a setext underline at the start of a line
_LEADING = re.compile(r"^[#+=-]|^\d+(?=[.)])")
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def plain(text: object) -> str:
    """One line of visible text: escape sequences and invisible characters out, line breaks as spaces."""
    text = _ANSI.sub("", str(text))
    return _INVISIBLE.sub("", _BREAKS.sub(" ", text)).strip()


def inline(text: object) -> str:
    """`plain(text)`, safe anywhere in a line of Markdown: it renders as the text it is, nothing more."""
    escaped = _INLINE.sub(lambda m: "\\" + m.group(0), plain(text).translate(_HTML))
    return _LEADING.sub(_leading, escaped)


def _leading(match: re.Match[str]) -> str:
    """`1.` becomes `1\\.`, `#` becomes `\\#`."""
    found = match.group(0)
    return found + "\\" if found[0].isdigit() else "\\" + found


def code(text: object) -> str:
    """`plain(text)` as an inline code span, fenced with more backticks than any run in it."""
    body = plain(text)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{fence}{pad}{body}{pad}{fence}"
