"""Consumers at work: order per partition, a bad message blocks only its partition, retries, scaling."""

from __future__ import annotations

import sqlite3
import threading

from lab.worker.jobqueue import partition_of

from ..polling import eventually
from .worker_testkit import StartWorker


def consumer_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("consumer-") and t.is_alive())


def test_jobs_of_a_partition_are_committed_in_id_order(start_worker: StartWorker) -> None:
    worker = start_worker(consumers=4, partitions=2)
    ids = [worker.job(f"customer-{n % 6}", n)["id"] for n in range(30)]
    eventually(lambda: worker.value("messaging_client_consumed_messages_total") == 30)
    for partition in (0, 1):
        order = worker.done_order(partition)
        assert order == sorted(order) and order
    assert sorted(worker.done_order(0) + worker.done_order(1)) == ids


def test_a_bad_message_blocks_its_partition_and_only_it(start_worker: StartWorker) -> None:
    worker = start_worker(partitions=4)
    blocked = worker.job("customer-3", "12,50")
    behind = worker.job("customer-3", 5)
    others = [
        worker.job(f"customer-{n}", n)
        for n in range(40)
        if partition_of(f"customer-{n}", 4) != blocked["partition"]
    ]
    eventually(lambda: worker.value("messaging_client_consumed_messages_total") == len(others))
    head = eventually(lambda: [h for h in worker.queue()["heads"] if h["attempts"] >= 3])
    assert head == [
        {
            **head[0],
            "partition": blocked["partition"],
            "job_id": blocked["id"],
            "last_error": head[0]["last_error"],
        }
    ]
    assert head[0]["last_error"] == "ValueError: amount must be a number, got str"
    assert worker.states()[behind["id"]] == "ready"
    failures = worker.value("messaging_process_duration_seconds_count", error_type="ValueError")
    assert failures >= 3
    eventually(
        lambda: worker.value("messaging_process_duration_seconds_count", error_type="ValueError") > failures
    )

    moved = worker.admin("dead-letter", {"min_attempts": 3}).json()
    assert moved == {"moved": 1, "min_attempts": 3}
    eventually(lambda: worker.states()[behind["id"]] == "done")
    assert worker.states()[blocked["id"]] == "dead_letter"
    assert worker.value("queue_messages", state="dead_letter") == 1


def test_a_message_that_fails_once_succeeds_on_a_later_attempt(start_worker: StartWorker) -> None:
    """A handler failure that is not the payload's (the balances table gone) is retried until it works."""
    worker = start_worker()

    with sqlite3.connect(worker.data_dir / "queue.db") as conn:
        conn.execute("ALTER TABLE balances RENAME TO balances_moved")
    job = worker.job("customer-5", 2.5)
    eventually(
        lambda: (
            worker.observed("messaging_process_duration_seconds_count", error_type="OperationalError") >= 2
        )
    )
    with sqlite3.connect(worker.data_dir / "queue.db") as conn:
        conn.execute("ALTER TABLE balances_moved RENAME TO balances")
    eventually(lambda: worker.states()[job["id"]] == "done")
    with sqlite3.connect(worker.data_dir / "queue.db") as conn:
        assert conn.execute("SELECT attempts FROM jobs WHERE id = ?", (job["id"],)).fetchone()[0] >= 2
        assert conn.execute("SELECT total, jobs FROM balances WHERE key = 'customer-5'").fetchone() == (
            2.5,
            1,
        )


def test_consumers_change_live(start_worker: StartWorker) -> None:
    before = consumer_threads()
    worker = start_worker(consumers=2)
    eventually(lambda: consumer_threads() == before + 2)
    assert worker.admin("consumers", {"consumers": 6}).json() == {"consumers": 6, "previous": 2}
    assert worker.value("queue_consumers") == 6
    eventually(lambda: consumer_threads() == before + 6)
    assert worker.admin("consumers", {"consumers": 1}).json() == {"consumers": 1, "previous": 6}
    eventually(lambda: consumer_threads() == before + 1)
    worker.job("customer-1")
    eventually(lambda: worker.value("messaging_client_consumed_messages_total") == 1)
