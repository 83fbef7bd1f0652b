"""Request, query and dependency statistics over a sliding window, plus process CPU and memory.

Only business requests are recorded. Windowed values look at the last `window` seconds; totals only grow.
Each sample is a small tuple in a deque, so the cost per request is an append and an occasional prune.
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
import time
from collections import deque

import psutil

Sample = tuple[float, float, bool]  # (monotonic time, duration seconds, failed)
# Request duration buckets (upper bounds, seconds), as prometheus_client's default histogram has them.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


class Window:
    """Timed samples kept for `seconds`; thread-safe because queries run in worker threads."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._samples: deque[Sample] = deque()
        self._lock = threading.Lock()

    def add(self, duration: float, failed: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            self._samples.append((now, duration, failed))
            self._prune(now)

    def snapshot(self) -> list[Sample]:
        with self._lock:
            self._prune(time.monotonic())
            return list(self._samples)

    def _prune(self, now: float) -> None:
        cutoff = now - self.seconds
        while self._samples and self._samples[0][0] < cutoff:
            self._samples.popleft()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class Telemetry:
    def __init__(self, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        self.started_monotonic = time.monotonic()
        self.started_at = time.time()
        self.requests = Window(window_seconds)
        self.queries = Window(window_seconds)
        self.dependency = Window(window_seconds)
        self.requests_total = 0
        self.errors_total = 0
        self.throttled_total = 0
        self.request_seconds_total = 0.0
        self.queries_total = 0
        self.query_seconds_total = 0.0
        self._duration_counts = [0] * (len(DURATION_BUCKETS) + 1)
        self.dependency_errors_total = 0
        self._process = psutil.Process()
        self._cpu_samples: deque[tuple[float, float]] = deque()
        self._lock = threading.Lock()
        self.sample_cpu()

    def record_request(self, duration: float, failed: bool) -> None:
        self.requests.add(duration, failed)
        with self._lock:
            self.requests_total += 1
            self.errors_total += int(failed)
            self.request_seconds_total += duration
            self._duration_counts[bisect.bisect_left(DURATION_BUCKETS, duration)] += 1

    def duration_buckets(self) -> dict[str, int]:
        """Cumulative request counts per upper bound (`+Inf`: all): what a histogram exposes, so a
        quantile can be taken over any range, such as the time since a fix, not only the window."""
        with self._lock:
            counts = list(self._duration_counts)
        bounds = [f"{b:g}" for b in DURATION_BUCKETS] + ["+Inf"]
        return dict(zip(bounds, itertools.accumulate(counts), strict=True))

    def record_throttled(self) -> None:
        with self._lock:
            self.throttled_total += 1

    def record_query(self, duration: float) -> None:
        self.queries.add(duration)
        with self._lock:
            self.queries_total += 1
            self.query_seconds_total += duration

    def record_dependency(self, duration: float, failed: bool) -> None:
        self.dependency.add(duration, failed)
        if failed:
            with self._lock:
                self.dependency_errors_total += 1

    def uptime(self) -> float:
        return time.monotonic() - self.started_monotonic

    def span(self) -> float:
        """The window actually covered: shorter than the window while the process is young."""
        return max(1e-3, min(self.window_seconds, self.uptime()))

    def request_stats(self) -> dict[str, float]:
        samples = self.requests.snapshot()
        durations = [s[1] for s in samples]
        failed = sum(1 for s in samples if s[2])
        return {
            "error_rate": round(100.0 * failed / len(samples), 3) if samples else 0.0,
            "avg_response_time_ms": round(1000 * sum(durations) / len(durations), 3) if durations else 0.0,
            "p95_response_time_ms": round(1000 * percentile(durations, 0.95), 3),
            "requests_per_second": round(len(samples) / self.span(), 3),
        }

    @staticmethod
    def average_ms(window: Window) -> float:
        samples = window.snapshot()
        return round(1000 * sum(s[1] for s in samples) / len(samples), 3) if samples else 0.0

    def cpu_seconds(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)

    def sample_cpu(self) -> None:
        """Called about once a second so `cpu_ratio` can look back over the window."""
        now = time.monotonic()
        with self._lock:
            self._cpu_samples.append((now, self.cpu_seconds()))
            while len(self._cpu_samples) > 2 and self._cpu_samples[1][0] < now - self.window_seconds:
                self._cpu_samples.popleft()

    def cpu_ratio(self) -> float:
        now, cpu = time.monotonic(), self.cpu_seconds()
        with self._lock:
            start, start_cpu = self._cpu_samples[0]
        elapsed = now - start
        return round(max(0.0, (cpu - start_cpu) / elapsed), 4) if elapsed > 0.05 else 0.0

    def rss_bytes(self) -> int:
        return int(self._process.memory_info().rss)
