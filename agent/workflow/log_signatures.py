"""Error log lines → signatures: the same failure with other numbers, ids or paths counts as one."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

_PATTERNS = (
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I), "<id>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"\b[0-9a-f]{12,}\b", re.I), "<hex>"),
    (re.compile(r"(?<![\w.])/[\w./-]+"), "<path>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
)
# Fields a person reads as part of the message; `service` names the dependency a call failed against.
MESSAGE_FIELDS = ("error", "exception", "exc", "message", "detail", "reason", "service")


def log_message(event: str, fields: dict[str, Any], traceback: str | None) -> str:
    """The human-meaningful text of a log line: the event, its error field, and the exception line."""
    parts = [event]
    parts += [str(fields[name]) for name in MESSAGE_FIELDS if fields.get(name)]
    if traceback:
        lines = [line for line in traceback.strip().splitlines() if line.strip()]
        if lines:
            parts.append(lines[-1].strip())
    return ": ".join(dict.fromkeys(p for p in parts if p))


def signature(message: str, max_len: int = 160) -> str:
    text = message
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text.strip()[:max_len]


def signatures(messages: list[str]) -> dict[str, int]:
    return dict(Counter(signature(m) for m in messages).most_common(20))
