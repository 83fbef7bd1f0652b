"""PromQL signals: each of the service's pack signals, scoped by its selector, asked of Prometheus.

A signal's queries are alternatives: the first that returns a finite value is used (a recording rule,
then the raw expression; the live value, then the last one before a process stopped answering).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from agent.catalog.catalog import Service
from agent.catalog.packs import SignalSpec
from agent.clients.prometheus import PrometheusClient, QueryResult
from agent.domain.signals import Reading, SignalValue
from agent.signals.source import SourceReading


class PromQLSignals:
    name = "promql"

    def __init__(self, prometheus: PrometheusClient) -> None:
        self._prometheus = prometheus

    async def read(
        self, service: Service, *, only: set[str] | None = None, since: datetime | None = None
    ) -> SourceReading:
        specs = {
            name: spec
            for name, spec in service.signals.items()
            if spec.promql and (only is None or name in only)
        }
        answers = await asyncio.gather(*(self._first_answer(spec) for spec in specs.values()))
        reading = SourceReading()
        unavailable = 0
        for (name, spec), (value, result) in zip(specs.items(), answers, strict=True):
            if result is not None:
                reading.evidence[name] = {"query": result.query, "value": value, "error": result.error}
                unavailable += int(result.unavailable)
            if value is not None:
                reading.readings[name] = Reading(value=value, unit=spec.unit, source=self.name)
        if specs and unavailable == len(specs):
            reading.gaps.append("prometheus")
        return reading

    async def _first_answer(self, spec: SignalSpec) -> tuple[SignalValue, QueryResult | None]:
        result: QueryResult | None = None
        for query in spec.promql:
            result = await self._prometheus.query(query)
            value = _value(spec, result)
            if value is not None:
                return value, result
            if result.unavailable:
                break
        return None, result


def _value(spec: SignalSpec, result: QueryResult) -> SignalValue:
    if spec.label is not None:
        return next((s.metric.get(spec.label) for s in result.samples if spec.label in s.metric), None)
    number = result.first()
    if number is None:
        return None
    return number != 0 if spec.unit == "bool" else number
