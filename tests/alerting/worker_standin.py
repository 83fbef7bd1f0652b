"""A stand-in for the queue worker's /metrics: its metric contract, values that follow wall time.

Healthy, it enqueues and completes 8 jobs/s over 2 consumers at 0.1 s a job. `hang()` freezes the
consumers: nothing completes or is observed any more, both consumers hold a job, and jobs keep
arriving. Served by client_python's exposition on a real HTTP server, as the worker serves it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from ..helpers.pipeline import QuietHandler, serving

RATE = 8.0
JOB_SECONDS = 0.1
CONSUMERS = 2
QUEUE = {"messaging_system": "sqlite", "messaging_destination_name": "jobs"}


class WorkerStandIn(Collector):
    def __init__(self) -> None:
        self.started_at = time.time()
        self.hung_at: float | None = None

    def hang(self) -> None:
        self.hung_at = time.time()

    def collect(self) -> Iterator[Any]:
        now = time.time()
        elapsed = now - self.started_at
        done = RATE * ((self.hung_at or now) - self.started_at)
        waiting_since = self.hung_at or now - 0.2
        sent = CounterMetricFamily("messaging_client_sent_messages", "Jobs enqueued.", labels=list(QUEUE))
        sent.add_metric(list(QUEUE.values()), RATE * elapsed)
        consumed = CounterMetricFamily(
            "messaging_client_consumed_messages", "Jobs committed as done.", labels=list(QUEUE)
        )
        consumed.add_metric(list(QUEUE.values()), done)
        process = HistogramMetricFamily(
            "messaging_process_duration_seconds",
            "One observation per processing attempt.",
            labels=[*QUEUE, "messaging_operation_name"],
        )
        process.add_metric(
            [*QUEUE.values(), "process"], [("0.25", done), ("+Inf", done)], sum_value=done * JOB_SECONDS
        )
        queue = {"messaging_destination_name": QUEUE["messaging_destination_name"]}
        messages = GaugeMetricFamily("queue_messages", "Jobs by state.", labels=[*queue, "state"])
        messages.add_metric([*queue.values(), "ready"], RATE * (now - waiting_since) + 1)
        messages.add_metric([*queue.values(), "in_flight"], CONSUMERS if self.hung_at else 1)
        messages.add_metric([*queue.values(), "dead_letter"], 0)
        age = GaugeMetricFamily("queue_oldest_message_age_seconds", "The oldest job's age.", labels=[*queue])
        age.add_metric(list(queue.values()), now - waiting_since)
        consumers = GaugeMetricFamily("queue_consumers", "Consumer threads.", labels=[*queue])
        consumers.add_metric(list(queue.values()), CONSUMERS)
        memory = GaugeMetricFamily("process_resident_memory_bytes", "Resident memory size in bytes.")
        memory.add_metric([], 45_000_000)
        start = GaugeMetricFamily("process_start_time_seconds", "Start time of the process.")
        start.add_metric([], self.started_at)
        yield from (sent, consumed, process, messages, age, consumers, memory, start)

    @contextmanager
    def serve(self, port: int) -> Iterator[WorkerStandIn]:
        registry = CollectorRegistry()
        registry.register(self)

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                body = generate_latest(registry)
                self.send_response(200 if self.path == "/metrics" else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

        with serving(Handler, port):
            yield self
