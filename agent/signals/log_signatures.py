"""Error log lines → signatures: the same failure with other numbers, ids or paths counts as one."""

from __future__ import annotations

import re
from collections import Counter

_PATTERNS = (
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I), "<id>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"\b[0-9a-f]{12,}\b", re.I), "<hex>"),
    (re.compile(r"(?<![\w.])/[\w./-]+"), "<path>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
)


def signature(message: str, max_len: int = 160) -> str:
    text = message
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text.strip()[:max_len]


def signatures(messages: list[str]) -> dict[str, int]:
    return dict(Counter(signature(m) for m in messages).most_common(20))
