"""The tokenizer and similarity both retrieval and memory matching use, so "similar" means one thing.

Lowercase word pieces, CamelCase alert names split into words (and kept whole), numbers and stop words
dropped, and a light suffix stemmer so "locked"/"locks"/"lock" and "saturated"/"saturation" meet.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import numpy as np
from numpy.typing import NDArray

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_STOP_WORDS = (
    "a an and are as at be but by for from has have if in into is it its no not of on or so such that the "
    "their then there these this to was were will with when which while who why how what than too very "
    "can could should would may might must do does did done been being i we you they he she them our your"
)
_STOP = frozenset(_STOP_WORDS.split())
_SUFFIXES = (
    ("ations", "at"),
    ("ation", "at"),
    ("ness", ""),
    ("ing", ""),
    ("ies", "y"),
    ("ed", ""),
    ("es", ""),
    ("s", ""),
)


def stem(word: str) -> str:
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + replacement
    return word


def tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    for word in _WORD.findall(text):
        parts = [p for p in word.replace("_", " ").split() for p in _CAMEL.findall(p)]
        if len(parts) > 1:
            tokens.append(word.lower().replace("_", ""))
        for part in parts:
            lower = part.lower()
            if lower.isdigit() or lower in _STOP or len(lower) < 2:
                continue
            tokens.append(stem(lower))
    return tokens


def cosine(a: list[str], b: list[str]) -> float:
    """Cosine similarity of two token bags, 0..1."""
    ca, cb = Counter(a), Counter(b)
    dot = sum(n * cb[t] for t, n in ca.items())
    if not dot:
        return 0.0
    return dot / (math.sqrt(sum(n * n for n in ca.values())) * math.sqrt(sum(n * n for n in cb.values())))


def blended_score(bm25: float, top_bm25: float, similarity: float) -> float:
    """The ranking both stores use: BM25 normalised by the search's best, half and half with the token cosine.

    BM25 alone is unstable on a handful of documents (IDF goes to zero); the cosine keeps the order.
    """
    return 0.5 * max(bm25, 0.0) / (top_bm25 if top_bm25 > 0 else 1.0) + 0.5 * similarity


# Hybrid ranking, with an embedder. The lexical score is relative to the search's best BM25, so a document
# sharing one stray word with a short query gets full lexical marks; in the blend it counts in proportion to
# the share of the query's terms it holds (`coverage`). A document sharing no word joins only from the
# embeddings' cosine (all-MiniLM-L6-v2 puts unrelated operations texts near 0.1-0.3, rewordings above 0.4).
SEMANTIC_WEIGHT = 0.5
SEMANTIC_MIN_SIMILARITY = 0.35


def hybrid_score(lexical: NDArray[Any], covered: NDArray[Any], semantic: NDArray[Any]) -> NDArray[np.float64]:
    """Per document: the lexical score, its query coverage (0..1) and the embeddings' cosine (0..1)."""
    return (1 - SEMANTIC_WEIGHT) * lexical * covered + SEMANTIC_WEIGHT * np.maximum(semantic, 0.0)
