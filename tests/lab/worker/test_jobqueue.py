"""The queue file on its own: partitions, heads, retries, dead letters, recovery, pruning."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from lab.worker.jobqueue import JobQueue, partition_of


def keys_in_distinct_partitions(count: int, partitions: int) -> list[str]:
    found: dict[int, str] = {}
    n = 0
    while len(found) < count:
        found.setdefault(partition_of(f"customer-{n}", partitions), f"customer-{n}")
        n += 1
    return list(found.values())


@pytest.fixture
def queue(tmp_path: Path) -> JobQueue:
    return JobQueue(tmp_path / "queue.db", partitions=4)


def test_a_key_always_lands_in_the_same_partition() -> None:
    assert partition_of("customer-17", 8) == partition_of("customer-17", 8)
    assert {partition_of(f"customer-{n}", 8) for n in range(200)} == set(range(8))


def test_the_file_is_sqlite_in_wal_mode(queue: JobQueue) -> None:
    queue.enqueue("customer-1", "{}")
    with sqlite3.connect(queue.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT key, state, attempts FROM jobs").fetchall() == [
            ("customer-1", "ready", 0)
        ]


def test_a_partition_head_goes_to_one_consumer_at_a_time(queue: JobQueue) -> None:
    first, partition = queue.enqueue("customer-1", "{}")
    second, _ = queue.enqueue("customer-1", "{}")
    job = queue.claim()
    assert job is not None and (job.id, job.partition) == (first, partition)
    assert queue.claim() is None  # the second job waits behind the head in flight
    assert queue.complete(first, lambda conn: None)
    following = queue.claim()
    assert following is not None and following.id == second


def test_a_failing_head_holds_back_only_its_partition(queue: JobQueue) -> None:
    stuck, other = keys_in_distinct_partitions(2, queue.partitions)
    bad, _ = queue.enqueue(stuck, "{}")
    behind, _ = queue.enqueue(stuck, "{}")
    free, _ = queue.enqueue(other, "{}")
    claimed = {job.id for job in (queue.claim(), queue.claim()) if job is not None}
    assert claimed == {bad, free}  # both partitions' heads
    assert queue.fail(bad, "ValueError: no", backoff_seconds=0.3) == 1
    assert queue.complete(free, lambda conn: None)
    assert queue.claim() is None  # the failed head waits out its backoff, and `behind` waits for it
    time.sleep(0.35)
    again = queue.claim()
    assert again is not None and (again.id, again.attempts) == (bad, 1)
    heads = {h.partition: h for h in queue.heads()}
    assert heads[again.partition].job_id == bad and heads[again.partition].state == "in_flight"
    assert behind not in {h.job_id for h in heads.values()}


def test_dead_letter_moves_jobs_that_failed_often_enough(queue: JobQueue) -> None:
    poisoned, healthy = keys_in_distinct_partitions(2, queue.partitions)
    bad, _ = queue.enqueue(poisoned, "{}")
    queue.enqueue(healthy, "{}")
    for _ in range(3):
        job = queue.claim()
        while job is not None and job.id != bad:
            queue.complete(job.id, lambda conn: None)
            job = queue.claim()
        assert job is not None
        queue.fail(bad, "ValueError: no", backoff_seconds=0)
    assert queue.dead_letter(min_attempts=4) == 0
    assert queue.dead_letter(min_attempts=3) == 1
    snapshot = queue.snapshot()
    assert (snapshot.ready, snapshot.in_flight, snapshot.dead_letter) == (0, 0, 1)


def test_a_job_dead_lettered_in_flight_is_never_committed(queue: JobQueue) -> None:
    job_id, _ = queue.enqueue("customer-1", "{}")
    queue.claim()
    queue.fail(job_id, "ValueError: no", backoff_seconds=0)
    queue.claim()
    assert queue.dead_letter(min_attempts=1) == 1
    writes: list[int] = []
    assert queue.complete(job_id, lambda conn: writes.append(1)) is False
    assert writes == [] and queue.fail(job_id, "late", 0) == 0


def test_recover_hands_in_flight_jobs_out_again(queue: JobQueue, tmp_path: Path) -> None:
    job_id, _ = queue.enqueue("customer-1", "{}")
    assert queue.claim() is not None
    queue.close()
    restarted = JobQueue(tmp_path / "queue.db", partitions=4)
    assert restarted.claim() is None
    assert restarted.recover() == 1
    job = restarted.claim()
    assert job is not None and job.id == job_id and job.attempts == 0


def test_prune_deletes_only_old_done_jobs(queue: JobQueue) -> None:
    done, _ = queue.enqueue("customer-1", "{}")
    queue.claim()
    queue.complete(done, lambda conn: None)
    queue.enqueue("customer-1", "{}")
    assert queue.prune(older_than_seconds=60) == 0
    assert queue.prune(older_than_seconds=0) == 1
    assert queue.snapshot().ready == 1 and queue.snapshot().oldest_enqueued_at is not None
