"""How the Weaviate stand-in ranks: Weaviate's BM25 and its default (relative-score) hybrid fusion.

Kept apart from the protocol (`weaviate_standin.py`): the store's tests rely on the protocol being exact,
and on this ranking only for plausible candidates (the record ranks them).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

K1, B = 1.2, 0.75


def split_terms(text: str, tokenization: str) -> list[str]:
    if tokenization == "whitespace":
        return text.split()
    if tokenization == "lowercase":
        return text.lower().split()
    return re.findall(r"[0-9a-z]+", text.lower())


def bm25(query: str, stored: dict[str, dict[str, Any]], searched: dict[str, str]) -> list[tuple[str, float]]:
    """Weaviate's BM25 (k1 1.2, b 0.75, idf ln(1 + (N - n + 0.5) / (n + 0.5))), OR over the query's terms.

    One bag of terms per object over the searched properties (Weaviate's BM25F weighs them separately).
    """
    docs = {
        u: [t for name, how in searched.items() for t in split_terms(str(props.get(name) or ""), how)]
        for u, props in stored.items()
    }
    if not docs:
        return []
    terms = {t for how in set(searched.values()) for t in split_terms(query, how)}
    average = sum(len(d) for d in docs.values()) / len(docs) or 1.0
    scored = []
    for object_id, tokens in docs.items():
        counts, score = Counter(tokens), 0.0
        for term in terms:
            n = sum(1 for d in docs.values() if term in d)
            if not counts[term]:
                continue
            idf = math.log(1 + (len(docs) - n + 0.5) / (n + 0.5))
            score += idf * counts[term] * (K1 + 1) / (counts[term] + K1 * (1 - B + B * len(tokens) / average))
        if score > 0:
            scored.append((object_id, score))
    scored.sort(key=lambda s: (-s[1], s[0]))
    return scored


def hybrid(
    call: dict[str, Any],
    stored: dict[str, dict[str, Any]],
    vectors: dict[str, dict[str, list[float]]],
    searched: dict[str, str],
) -> list[tuple[str, float]]:
    """Relative-score fusion: BM25 and the vectors' cosine each scaled to 0..1 over its hits, then alpha.

    An object without a vector of the target is found by its keywords only, as in Weaviate.
    """
    keyword = dict(bm25(call["query"], stored, searched)) if call["query"] else {}
    semantic: dict[str, float] = {}
    query = call["vector"]
    if query is not None:
        for object_id, named in vectors.items():
            vector = named.get(call["target"])
            if vector is not None:
                dot = sum(a * b for a, b in zip(query, vector, strict=True))
                norms = math.sqrt(sum(a * a for a in query)) * math.sqrt(sum(b * b for b in vector))
                semantic[object_id] = dot / norms if norms else 0.0
    alpha, fused = call["alpha"], dict.fromkeys([*keyword, *semantic], 0.0)
    for weight, scores in ((1 - alpha, keyword), (alpha, semantic)):
        if not scores:
            continue
        low, high = min(scores.values()), max(scores.values())
        for object_id, score in scores.items():
            fused[object_id] += weight * ((score - low) / (high - low) if high > low else 1.0)
    return sorted(fused.items(), key=lambda s: (-s[1], s[0]))
