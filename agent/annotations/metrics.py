"""`sre_agent_annotations_*`: what became of each annotation, on the registry the app passes in."""

from __future__ import annotations

from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge

Result = Literal["delivered", "kept_local", "retried", "unauthorized", "rejected", "overflow", "orphaned"]
RESULTS: tuple[Result, ...] = (
    "delivered",  # Grafana answered 2xx
    "kept_local",  # recorded in the outbox file while GRAFANA_URL is unset
    "retried",  # Grafana down, slow, 5xx or 429: kept, tried again with backoff
    "unauthorized",  # 401/403: kept (a fixed token and a restart deliver it), tried again with backoff
    "rejected",  # any other 4xx: Grafana will never take it, dropped
    "overflow",  # the outbox was full: the oldest request was dropped
    "orphaned",  # a PATCH for an annotation that was never created (dropped)
)


class AnnotationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.total = Counter(
            "sre_agent_annotations",
            "Grafana annotation requests by what became of them",
            ["result"],
            registry=registry,
        )
        self.pending = Gauge(
            "sre_agent_annotations_pending", "Annotation requests waiting in the outbox", registry=registry
        )
        for result in RESULTS:
            self.total.labels(result=result)

    def count(self, result: Result) -> None:
        self.total.labels(result=result).inc()
