"""The agent's own monitor (MONITOR_ENABLED): polls the target and pages itself on anomalies.

Each signal keeps an EWMA mean and variance learned from normal polls. A poll is anomalous when a
signal is both far from its baseline (z-score) and past an absolute floor, so a quiet service's tiny
variance cannot page on noise; the error-rate floor (ANOMALY_THRESHOLD_ERROR_RATE) pages on its own
before the baseline is warm. Two anomalous polls in a row open one incident per episode, through the
same correlator as the webhook; anomalous polls are not learned into the baseline.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

import structlog

from agent.clients.target import MetricsView, TargetClient
from agent.incidents.models import utcnow
from agent.intake.alertmanager import Alert
from agent.intake.correlation import Correlator

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

    def observe(self, metrics: MetricsView | None) -> list[str]:
        """Names of the anomalous signals in this poll (empty = normal, and then learned)."""
        if metrics is None:
            return ["target_unreachable"]
        err, p95, rps = metrics.error_rate, metrics.p95_response_time_ms, metrics.requests_per_second
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
        target: TargetClient,
        detector: AnomalyDetector,
        correlator: Correlator,
        interval_seconds: float,
        service: str = "target",
    ) -> None:
        self._target = target
        self.detector = detector
        self._correlator = correlator
        self._interval = interval_seconds
        self._service = service
        self._streak = 0
        self._episode_open = False

    async def poll_once(self) -> str | None:
        """One poll; returns the id of the incident it opened or merged into, if any."""
        metrics = await self._target.metrics()
        signals = self.detector.observe(metrics.value)
        if not signals:
            self._streak, self._episode_open = 0, False
            return None
        self._streak += 1
        if self._streak < 2 or self._episode_open:
            return None
        self._episode_open = True
        now = utcnow()
        alert = Alert(
            status="firing",
            startsAt=now,
            fingerprint=f"monitor-{self._service}-{now:%Y%m%d%H%M%S}",
            labels={"alertname": "AgentDetectedAnomaly", "service": self._service, "severity": "warning"},
            annotations={"summary": f"monitor: anomalous {', '.join(signals)}"},
        )
        result = self._correlator.open_or_merge(
            source="monitor",
            service=self._service,
            group_key=f"monitor:{self._service}",
            alerts=[alert],
            reason=f"monitor detected {', '.join(signals)}",
        )
        log.info("monitor_anomaly", signals=signals, incident_id=result.incident_id)
        return result.incident_id

    async def run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:  # the monitor must keep polling whatever one poll did
                log.exception("monitor_poll_failed")
            await asyncio.sleep(self._interval)
