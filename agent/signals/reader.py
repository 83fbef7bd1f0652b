"""One look at a service: every source read at once, merged into a `Symptoms` snapshot.

Sources are merged in order and a later one's value replaces an earlier one's: PromQL first, then the
service's probes (the service's own answer, read now, wins over a scraped value). Derived signals are
computed last, and the signal packs' pattern tags from the merged values.

This is where what every source read from outside enters the agent, so secrets are redacted here
(`agent.redaction`): error log lines (in a thread: ~50 µs a line, up to 500 of them), health check
names and details, text values, and the URLs and errors the evidence echoes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from agent.catalog.catalog import Service
from agent.catalog.packs import derive
from agent.domain.alerts import AlertSummary
from agent.domain.signals import Reading, Symptoms, compare
from agent.redaction import redact, redact_data
from agent.signals.log_signatures import signatures
from agent.signals.source import SignalSource, SourceReading

MAX_LOG_SAMPLES = 5
MAX_SAMPLE_CHARS = 200


async def read_symptoms(
    service: Service,
    sources: Sequence[SignalSource],
    alerts: Sequence[AlertSummary] = (),
    *,
    since: datetime | None = None,
    only: set[str] | None = None,
) -> tuple[Symptoms, dict[str, Any]]:
    """The snapshot and the evidence (each query or URL with its outcome) for the timeline."""
    wanted = None if only is None else _with_inputs(service, only)
    reads: list[SourceReading] = [
        await _redacted(read)
        for read in await asyncio.gather(
            *(source.read(service, only=wanted, since=since) for source in sources)
        )
    ]
    symptoms = Symptoms(service=service.name, alerts=list(alerts))
    evidence: dict[str, Any] = {}
    messages: list[str] | None = None
    for read in reads:
        symptoms.signals.update(read.readings)
        symptoms.failing_checks += [c for c in read.failing_checks if c not in symptoms.failing_checks]
        symptoms.check_details.update(read.check_details)
        symptoms.gaps += read.gaps
        evidence.update(read.evidence)
        if read.log_messages is not None:
            messages = [*(messages or []), *read.log_messages]
    for name, spec in service.signals.items():
        if spec.derive is not None and (wanted is None or name in wanted):
            value = derive(spec.derive, symptoms.as_signals())
            if value is not None:
                symptoms.signals[name] = Reading(value=value, unit=spec.unit, source="derived")
    if messages is not None:
        symptoms.logs_read = True
        symptoms.log_error_count = len(messages)
        symptoms.log_error_signatures = signatures(messages)
        symptoms.log_samples = [m[:MAX_SAMPLE_CHARS] for m in messages[-MAX_LOG_SAMPLES:]]
    symptoms.tags = pattern_tags(service, symptoms)
    return symptoms, evidence


async def _redacted(read: SourceReading) -> SourceReading:
    messages = read.log_messages
    if messages:
        messages = await asyncio.to_thread(lambda: [redact(m) for m in messages or []])
    return SourceReading(
        readings={
            name: r.model_copy(update={"value": redact(r.value)}) if isinstance(r.value, str) else r
            for name, r in read.readings.items()
        },
        failing_checks=[redact(c) for c in read.failing_checks],
        check_details={redact(k): redact(v) for k, v in read.check_details.items()},
        log_messages=messages,
        gaps=read.gaps,
        evidence=redact_data(read.evidence),
    )


def pattern_tags(service: Service, symptoms: Symptoms) -> dict[str, str]:
    tags: dict[str, str] = {}
    for name, spec in service.signals.items():
        if spec.pattern is not None and compare(symptoms.value(name), spec.pattern.op, spec.pattern.value):
            tags[spec.pattern.tag] = spec.pattern.words
    return tags


def _with_inputs(service: Service, names: set[str]) -> set[str]:
    """The names plus what their derived signals are computed from."""
    wanted = set(names)
    for name in names:
        spec = service.signals.get(name)
        if spec is not None and spec.derive is not None:
            wanted |= {n for n in service.signals if n in spec.derive}
    return wanted
