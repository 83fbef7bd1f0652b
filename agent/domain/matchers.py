"""Alertmanager label matchers (`service="checkout"`, `namespace=~"pay.*"`, `severity!=info`).

The service catalog says which alerts are a service's own in the syntax people already write in
Alertmanager routes and silences. Regexes are anchored, as in Alertmanager; an absent label matches as
the empty string. A matcher renders as a PromQL label matcher too, so the same words select the
service's `ALERTS` series in Prometheus.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel

MatchOp = Literal["=", "!=", "=~", "!~"]
_MATCHER = re.compile(
    r"""^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*
    (?P<value>"(?:[^"\\]|\\.)*"|[^\s,{}"]*)\s*$""",
    re.X,
)


class MatcherError(ValueError):
    """A matcher that does not parse; the message says which and why."""


class Matcher(BaseModel):
    name: str
    op: MatchOp
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found

    def promql(self) -> str:
        return f"{self.name}{self.op}{json.dumps(self.value)}"

    def __str__(self) -> str:
        return self.promql()


def parse_matcher(text: str) -> Matcher:
    match = _MATCHER.match(text)
    if match is None:
        raise MatcherError(f'not an Alertmanager matcher: {text!r} (e.g. service="checkout")')
    raw = match["value"]
    try:
        value = json.loads(raw) if raw.startswith('"') else raw
    except ValueError as exc:
        raise MatcherError(f"bad quoting in {text!r}: {exc}") from exc
    op = match["op"]
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise MatcherError(f"bad regex in {text!r}: {exc}") from exc
    return Matcher(name=match["name"], op=op, value=value)  # type: ignore[arg-type]


def parse_matchers(text: str) -> list[Matcher]:
    """One matcher (`a="b"`) or a braced set (`{a="b", c=~"d"}`), all of which must hold."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    parts = _split(body)
    if not parts:
        raise MatcherError(f"no matcher in {text!r}")
    return [parse_matcher(part) for part in parts]


def _split(body: str) -> list[str]:
    """Split on commas outside double quotes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in body:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def all_match(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def promql_selector(matchers: Sequence[Matcher], *extra: str) -> str:
    """`{a="b",c=~"d"}` (with any extra PromQL matchers first)."""
    return "{" + ",".join([*extra, *(m.promql() for m in matchers)]) + "}"
