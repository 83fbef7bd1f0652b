"""The worker's metrics, one fresh CollectorRegistry per app: what Prometheus scrapes at `GET /metrics`.

- client_python's own collectors: `process_*` (RSS, CPU, fds, start time), `python_gc_*`, `python_info`.
- OpenTelemetry's messaging and HTTP server metrics under the names Prometheus gives them
  (`messaging.process.duration` → `messaging_process_duration_seconds`, `error.type` → `error_type`).
- Queue gauges read from the queue file on every scrape by `QueueCollector`.

Label values are bounded: fixed names, route templates, exception class names.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator

import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from lab.worker.jobqueue import JobQueue

DESTINATION = {"messaging_system": "sqlite", "messaging_destination_name": "jobs"}
# OpenTelemetry's advised boundaries for http.server.request.duration and messaging.process.duration.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
STATES = ("ready", "in_flight", "dead_letter")

log = structlog.get_logger("worker")


class WorkerMetrics:
    """The counters and histograms the worker's code updates."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = list(DESTINATION)
        self.sent = Counter(
            "messaging_client_sent_messages", "Jobs accepted by POST /jobs.", labels, registry=registry
        ).labels(**DESTINATION)
        self.consumed = Counter(
            "messaging_client_consumed_messages", "Jobs committed as done.", labels, registry=registry
        ).labels(**DESTINATION)
        self._process = Histogram(
            "messaging_process_duration_seconds",
            "Duration of one processing attempt; error_type is the exception class, empty on success.",
            [*labels, "messaging_operation_name", "error_type"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self._process.labels(**DESTINATION, messaging_operation_name="process", error_type="")
        self.http = Histogram(
            "http_server_request_duration_seconds",
            "Duration of HTTP requests to the jobs API.",
            ["http_request_method", "http_route", "http_response_status_code"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )

    def processed(self, seconds: float, error_type: str = "") -> None:
        labels = {**DESTINATION, "messaging_operation_name": "process", "error_type": error_type}
        self._process.labels(**labels).observe(seconds)


class QueueCollector(Collector):
    """Queue gauges computed on each scrape; a queue file that cannot be read leaves them out.

    Sample exposition::

        # HELP queue_messages Jobs in the queue by state.
        # TYPE queue_messages gauge
        queue_messages{messaging_destination_name="jobs",state="ready"} 3.0
        queue_messages{messaging_destination_name="jobs",state="in_flight"} 2.0
        queue_messages{messaging_destination_name="jobs",state="dead_letter"} 0.0
        # HELP queue_oldest_message_age_seconds Age of the oldest ready or in-flight job (0 when none).
        # TYPE queue_oldest_message_age_seconds gauge
        queue_oldest_message_age_seconds{messaging_destination_name="jobs"} 0.21
        # HELP queue_consumers Consumer threads configured.
        # TYPE queue_consumers gauge
        queue_consumers{messaging_destination_name="jobs"} 2.0
    """

    def __init__(self, queue: JobQueue, consumers: Callable[[], int]) -> None:
        self._queue = queue
        self._consumers = consumers

    def collect(self) -> Iterator[Metric]:
        destination = [DESTINATION["messaging_destination_name"]]
        consumers = GaugeMetricFamily(
            "queue_consumers", "Consumer threads configured.", labels=["messaging_destination_name"]
        )
        consumers.add_metric(destination, self._consumers())
        yield consumers
        try:
            snapshot = self._queue.snapshot()
        except sqlite3.Error as exc:
            log.warning("queue file unreadable", error=f"{type(exc).__name__}: {exc}"[:200])
            return
        messages = GaugeMetricFamily(
            "queue_messages", "Jobs in the queue by state.", labels=["messaging_destination_name", "state"]
        )
        for state in STATES:
            messages.add_metric([*destination, state], getattr(snapshot, state))
        yield messages
        age = GaugeMetricFamily(
            "queue_oldest_message_age_seconds",
            "Age of the oldest ready or in-flight job (0 when none).",
            labels=["messaging_destination_name"],
        )
        oldest = snapshot.oldest_enqueued_at
        age.add_metric(destination, 0.0 if oldest is None else max(0.0, time.time() - oldest))
        yield age


def new_registry() -> CollectorRegistry:
    """A registry with client_python's process, platform and GC collectors on it."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
