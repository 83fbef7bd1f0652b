"""The secret corpus (`secret_corpus.txt`, beside this module): lines as they turn up in error logs and
alert annotations, each with its secrets marked. The agent's redaction tests and the reliability row
"secret corpus" read it.

`leaks(text)` names the secrets any of whose 12-character stretches is in `text`: a secret cut, widened
or partly redacted counts as leaked, not only one found whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).resolve().with_name("secret_corpus.txt")
WINDOW = 12


@dataclass(frozen=True)
class CorpusLine:
    kind: str
    line: str
    secrets: tuple[str, ...]


def corpus() -> list[CorpusLine]:
    found = []
    for raw in CORPUS.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        kind, marked = raw.split("\t", 1)
        secrets = tuple(re.findall(r"«(.*?)»", marked))
        found.append(CorpusLine(kind, marked.replace("«", "").replace("»", ""), secrets))
    return found


def secrets() -> list[str]:
    return [secret for entry in corpus() for secret in entry.secrets]


def leaks(text: str, among: list[str] | None = None) -> list[str]:
    """The secrets (of the corpus, or `among`) that show in `text`, whole or in part."""
    return [s for s in among or secrets() if any(piece in text for piece in _pieces(s))]


def _pieces(secret: str) -> list[str]:
    if len(secret) <= WINDOW:
        return [secret]
    return [secret[i : i + WINDOW] for i in range(len(secret) - WINDOW + 1)]
