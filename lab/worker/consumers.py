"""Consumer threads: each takes the next claimable partition head, processes it, commits it or retries it.

The number of threads changes live (`resize`): new threads start at once; surplus ones leave after the
job they hold. A failed attempt is counted with its exception class, the job goes back to ready with one
more attempt after the backoff, and stays the head of its partition.
"""

from __future__ import annotations

import contextvars
import sqlite3
import threading
import time

import structlog

from lab.memory_retainer import MemoryRetainer
from lab.worker.handler import ConsumerStopped, JobHandler
from lab.worker.jobqueue import Job, JobQueue
from lab.worker.metrics import WorkerMetrics

log = structlog.get_logger("worker")
QUEUE_ERROR_PAUSE_SECONDS = 1.0


def worth_logging(attempts: int) -> bool:
    """Failures are logged on attempts 1, 2, 4, 8…: a job retried forever does not flood the log."""
    return attempts > 0 and attempts & (attempts - 1) == 0


class ConsumerPool:
    def __init__(
        self,
        queue: JobQueue,
        handler: JobHandler,
        metrics: WorkerMetrics,
        memory: MemoryRetainer,
        retry_backoff_seconds: float,
        poll_seconds: float,
    ) -> None:
        self._queue = queue
        self._handler = handler
        self._metrics = metrics
        self._memory = memory
        self._backoff = retry_backoff_seconds
        self._poll = poll_seconds
        self._wanted = 0
        self._threads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()

    @property
    def count(self) -> int:
        """Consumer threads configured (a surplus thread may still be finishing its job)."""
        return self._wanted

    def resize(self, count: int) -> int:
        """Sets the number of consumers; returns the previous number."""
        with self._lock:
            previous, self._wanted = self._wanted, count
            for index in range(count):
                thread = self._threads.get(index)
                if thread is None or not thread.is_alive():
                    context = contextvars.copy_context()  # the log context (service name) goes along
                    thread = threading.Thread(
                        target=context.run, args=(self._run, index), name=f"consumer-{index}", daemon=True
                    )
                    self._threads[index] = thread
                    thread.start()
        return previous

    def close(self, timeout: float = 5.0) -> None:
        """Stops every consumer; a job being processed is committed if it finishes within `timeout`."""
        self._closing.set()
        deadline = time.monotonic() + timeout
        for thread in list(self._threads.values()):
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self, index: int) -> None:
        while not self._closing.is_set() and index < self._wanted:
            try:
                job = self._queue.claim()
                if job is None:
                    self._closing.wait(self._poll)
                    continue
                self._process(job)
            except ConsumerStopped:
                return
            except sqlite3.Error as exc:  # the queue file itself: the job (if any) waits for a restart
                log.error("queue file error", error=f"{type(exc).__name__}: {exc}"[:200])
                self._closing.wait(QUEUE_ERROR_PAUSE_SECONDS)

    def _process(self, job: Job) -> None:
        started = time.perf_counter()
        try:
            write = self._handler.process(job)
            committed = self._queue.complete(job.id, write)
        except ConsumerStopped:
            raise
        except Exception as exc:  # the consumer's boundary: any failure is the job's, counted and retried
            self._metrics.processed(time.perf_counter() - started, type(exc).__name__)
            attempts = self._queue.fail(job.id, f"{type(exc).__name__}: {exc}", self._backoff)
            if worth_logging(attempts):
                log.warning(
                    "job failed, will retry",
                    job_id=job.id,
                    partition=job.partition,
                    attempts=attempts,
                    error_type=type(exc).__name__,
                    error=str(exc)[:200],
                )
            return
        self._metrics.processed(time.perf_counter() - started)
        if committed:
            self._metrics.consumed.inc()
            self._memory.retain()
