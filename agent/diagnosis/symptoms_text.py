"""Symptoms → the text used to search runbooks and past incidents.

Values become words ("connection pool saturated", "request rate above baseline"), not numbers, so two
occurrences of the same failure read the same and meet the words runbooks are written in. The words
and the `pattern:` tags come from the signal packs (a signal's `pattern`), the alerts and the failing
health checks; the deterministic diagnoser compares the tags to decide that a past incident had "the
same symptom pattern".
"""

from __future__ import annotations

from agent.domain.signals import Symptoms
from agent.knowledge.text import cosine, tokenize

MAX_SIGNATURES = 5
SAME_PATTERN_MIN_SIMILARITY = 0.75
SAME_PATTERN_MIN_OVERLAP = 0.75


def pattern_tags(symptoms: Symptoms) -> list[str]:
    """The symptom pattern: alert names, failing checks and the tags whose thresholds are crossed."""
    tags = sorted(symptoms.alert_names())
    tags += [f"check-{c}" for c in sorted(symptoms.failing_checks)]
    tags += sorted(symptoms.tags)
    return tags


def parse_pattern(text: str) -> set[str] | None:
    """The tags of a `symptoms_query` text, or None for a text without a pattern line."""
    for line in text.splitlines():
        if line.startswith("pattern:"):
            return set(line.removeprefix("pattern:").split())
    return None


def same_pattern(query: str, remembered: str) -> float | None:
    """How alike two symptom texts are (token cosine) when they show the same pattern; None otherwise.

    The same pattern: their `pattern:` tags overlap enough (when both have them) and their words do.
    The diagnoser lends a past incident's diagnosis on it, and the planner its failed actions.
    """
    ours, theirs = parse_pattern(query), parse_pattern(remembered)
    if ours is not None and theirs is not None:
        union = ours | theirs
        if union and len(ours & theirs) / len(union) < SAME_PATTERN_MIN_OVERLAP:
            return None
    similarity = cosine(tokenize(query), tokenize(remembered))
    return similarity if similarity >= SAME_PATTERN_MIN_SIMILARITY else None


def symptoms_query(symptoms: Symptoms) -> str:
    lines = [f"pattern: {' '.join(pattern_tags(symptoms))}"]
    if symptoms.alerts:
        lines.append("alerts: " + " ".join(sorted(symptoms.alert_names())))
    words = [symptoms.tags[tag] for tag in sorted(symptoms.tags)]
    if symptoms.failing_checks:
        words.append("failing health checks: " + " ".join(sorted(symptoms.failing_checks)))
    if words:
        lines.append("symptoms: " + "; ".join(words))
    if symptoms.log_error_signatures:
        top = sorted(symptoms.log_error_signatures.items(), key=lambda kv: -kv[1])[:MAX_SIGNATURES]
        lines.append("errors: " + " | ".join(sig for sig, _ in top))
    return "\n".join(lines)
