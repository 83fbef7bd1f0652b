"""Symptoms → the text used to search runbooks and past incidents.

Values become words ("connection pool saturated", "request rate above baseline"), not numbers, so two
occurrences of the same failure read the same and meet the words runbooks are written in. The
`pattern:` line is a stable set of tags the deterministic diagnoser compares to decide that a past
incident had "the same symptom pattern".
"""

from __future__ import annotations

from collections.abc import Callable

from agent.diagnosis.models import Symptoms
from agent.knowledge.text import cosine, tokenize

# tag, predicate, words added to the query
_TAGS: list[tuple[str, Callable[[Symptoms], bool], str]] = [
    ("target-unreachable", lambda s: not s.target_reachable, "target down unreachable not answering"),
    ("error-rate-high", lambda s: (s.error_rate_percent or 0) >= 5, "high error rate requests failing"),
    ("latency-high", lambda s: (s.p95_latency_ms or 0) >= 500, "high latency slow responses"),
    (
        "pool-saturated",
        lambda s: (s.pool_utilization_ratio or 0) >= 0.9,
        "connection pool saturated exhausted",
    ),
    ("pool-waiting", lambda s: (s.pool_waiting or 0) > 0, "requests waiting for a database connection"),
    (
        "db-queries-slow",
        lambda s: (s.db_query_avg_ms or 0) >= 200,
        "slow database queries high query latency",
    ),
    (
        "dependency-slow",
        lambda s: (s.dependency_avg_ms or 0) >= 500,
        "slow dependency inventory service calls",
    ),
    ("traffic-surge", lambda s: _rps_ratio(s) >= 2.5, "traffic surge request rate above baseline"),
    ("cpu-high", lambda s: (s.cpu_ratio or 0) >= 0.8, "cpu saturated busy"),
    (
        "memory-growing",
        lambda s: (s.memory_growth_bytes_per_second or 0) > 131072,
        "memory growing steadily resident memory leak",
    ),
    ("disk-full", lambda s: (s.disk_used_ratio or 0) >= 0.9, "data disk full space"),
    (
        "release-recent",
        lambda s: s.release_changed_seconds_ago is not None and s.release_changed_seconds_ago < 900,
        "release changed recently new release deploy",
    ),
    ("rate-limited", lambda s: bool(s.rate_limit_enabled), "rate limiter enabled"),
    ("fallback-on", lambda s: bool(s.dependency_fallback_enabled), "dependency fallback enabled"),
]
MAX_SIGNATURES = 5
SAME_PATTERN_MIN_SIMILARITY = 0.75
SAME_PATTERN_MIN_OVERLAP = 0.75


def _rps_ratio(s: Symptoms) -> float:
    if s.requests_per_second is None or not s.baseline_rps:
        return 0.0
    return s.requests_per_second / s.baseline_rps


def pattern_tags(symptoms: Symptoms) -> list[str]:
    """The symptom pattern: alert names, failing checks and the tags whose thresholds are crossed."""
    tags = sorted(symptoms.alert_names())
    tags += [f"check-{c}" for c in sorted(symptoms.failing_checks)]
    tags += [tag for tag, applies, _ in _TAGS if applies(symptoms)]
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
    words = [text for _, applies, text in _TAGS if applies(symptoms)]
    if symptoms.failing_checks:
        words.append("failing health checks: " + " ".join(sorted(symptoms.failing_checks)))
    if words:
        lines.append("symptoms: " + "; ".join(words))
    if symptoms.log_error_signatures:
        top = sorted(symptoms.log_error_signatures.items(), key=lambda kv: -kv[1])[:MAX_SIGNATURES]
        lines.append("errors: " + " | ".join(sig for sig, _ in top))
    return "\n".join(lines)
