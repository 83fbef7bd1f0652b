"""The agent's own monitor (MONITOR_ENABLED): polls each catalog service and pages itself on anomalies.

It reads the signals every HTTP pack gives (`error_ratio`, `latency_p95_seconds`,
`requests_per_second`, `up`) through the service's sources, for setups whose Prometheus has no alert
rules for it yet; a service without them is not watched.

Each signal keeps an EWMA mean and variance learned from normal polls. A poll is anomalous when a
signal is both far from its baseline (z-score) and past an absolute floor, so a quiet service's tiny
variance cannot page on noise; the error-rate floor (ANOMALY_THRESHOLD_ERROR_RATE) pages on its own
before the baseline is warm. Two anomalous polls in a row open one incident per episode, through the
same correlator as the webhook; anomalous polls are not learned into the baseline.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

from agent.catalog.catalog import Service, ServiceCatalog
from agent.incidents.models import utcnow
from agent.intake.alertmanager import Alert
from agent.intake.correlation import Correlator
from agent.signals.reader import read_symptoms
from agent.workflow.deps import WorkflowDeps

WATCHED = frozenset({"error_ratio", "latency_p95_seconds", "requests_per_second", "up"})

log = structlog.get_logger("agent.monitor")


@dataclass
class Ewma:
    alpha: float = 0.1
    mean: float = 0.0
    var: float = 0.0
    n: int = 0

    def update(self, x: float) -> None:
        if self.n == 0:
            self.mean = x
        else:
            diff = x - self.mean
            increment = self.alpha * diff
            self.mean += increment
            self.var = (1 - self.alpha) * (self.var + diff * increment)
        self.n += 1

    def z(self, x: float, min_std: float) -> float:
        return (x - self.mean) / max(math.sqrt(self.var), min_std)


@dataclass(frozen=True)
class Sample:
    """One poll of a service: error rate in percent, p95 in milliseconds, requests per second."""

    error_rate: float | None = None
    p95_ms: float | None = None
    rps: float | None = None


@dataclass
class AnomalyDetector:
    error_rate_floor: float = 5.0
    latency_floor_ms: float = 500.0
    rps_ratio: float = 2.5
    z_threshold: float = 3.0
    warmup: int = 5
    error_rate: Ewma = field(default_factory=Ewma)
    p95_ms: Ewma = field(default_factory=Ewma)
    rps: Ewma = field(default_factory=Ewma)

    @property
    def warm(self) -> bool:
        return self.rps.n >= self.warmup

    def baseline_rps(self) -> float | None:
        return self.rps.mean if self.warm else None

    def observe(self, sample: Sample | None) -> list[str]:
        """Names of the anomalous signals in this poll (empty = normal, and then learned)."""
        if sample is None:
            return ["unreachable"]
        err, p95, rps = sample.error_rate, sample.p95_ms, sample.rps
        signals = []
        if (
            err is not None
            and err >= self.error_rate_floor
            and (not self.warm or self.error_rate.z(err, 1.0) >= self.z_threshold)
        ):
            signals.append("error_rate")
        if (
            self.warm
            and p95 is not None
            and p95 >= self.latency_floor_ms
            and self.p95_ms.z(p95, 10.0) >= self.z_threshold
        ):
            signals.append("p95_latency")
        if (
            self.warm
            and rps is not None
            and rps >= self.rps_ratio * max(self.rps.mean, 0.1)
            and self.rps.z(rps, 0.5) >= self.z_threshold
        ):
            signals.append("request_rate")
        if not signals:
            for ewma, value in ((self.error_rate, err), (self.p95_ms, p95), (self.rps, rps)):
                if value is not None:
                    ewma.update(value)
        return signals


class MonitorLoop:
    def __init__(
        self,
        catalog: ServiceCatalog,
        deps: WorkflowDeps,
        correlator: Correlator,
        interval_seconds: float,
        error_rate_floor: float = 5.0,
    ) -> None:
        self._catalog = catalog
        self._deps = deps
        self._correlator = correlator
        self._interval = interval_seconds
        self._floor = error_rate_floor
        self.detectors: dict[str, AnomalyDetector] = {}
        self._streak: dict[str, int] = {}
        self._episode_open: dict[str, bool] = {}

    async def poll_once(self) -> list[str]:
        """One poll of every watched service; the ids of the incidents it opened or merged into."""
        opened = []
        for service in self._catalog.services().values():
            if WATCHED & service.signal_names():
                incident_id = await self.poll_service(service)
                if incident_id is not None:
                    opened.append(incident_id)
        return opened

    async def poll_service(self, service: Service) -> str | None:
        name = service.name
        symptoms, _ = await read_symptoms(service, self._deps.sources(service), only=set(WATCHED))
        detector = self.detectors.setdefault(name, AnomalyDetector(error_rate_floor=self._floor))
        sample = None if symptoms.value("up") is False else _sample(symptoms.as_signals())
        signals = detector.observe(sample)
        if not signals:
            self._streak[name], self._episode_open[name] = 0, False
            return None
        self._streak[name] = self._streak.get(name, 0) + 1
        if self._streak[name] < 2 or self._episode_open.get(name):
            return None
        self._episode_open[name] = True
        now = utcnow()
        alert = Alert(
            status="firing",
            startsAt=now,
            fingerprint=f"monitor-{name}-{now:%Y%m%d%H%M%S}",
            labels={"alertname": "AgentDetectedAnomaly", "service": name, "severity": "warning"},
            annotations={"summary": f"monitor: anomalous {', '.join(signals)}"},
        )
        result = await self._correlator.open_or_merge(
            source="monitor",
            service=name,
            group_key=f"monitor:{name}",
            alerts=[alert],
            reason=f"monitor detected {', '.join(signals)}",
        )
        log.info("monitor_anomaly", service=name, signals=signals, incident_id=result.incident_id)
        return result.incident_id

    async def run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:  # the monitor must keep polling whatever one poll did
                log.exception("monitor_poll_failed")
            await asyncio.sleep(self._interval)


def _sample(values: Mapping[str, object]) -> Sample:
    def number(name: str, scale: float) -> float | None:
        value = values.get(name)
        return (
            float(value) * scale if isinstance(value, int | float) and not isinstance(value, bool) else None
        )

    return Sample(
        error_rate=number("error_ratio", 100.0),
        p95_ms=number("latency_p95_seconds", 1000.0),
        rps=number("requests_per_second", 1.0),
    )
