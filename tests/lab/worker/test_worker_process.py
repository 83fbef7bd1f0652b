"""`python -m lab.worker` as a real process: stuck consumers, held memory, an exit, recovery after a kill."""

from __future__ import annotations

import signal
import time

import psutil

from ..polling import eventually


def test_stuck_consumers_hold_their_jobs_and_a_kill_gives_them_back(spawn_worker) -> None:  # type: ignore[no-untyped-def]
    worker, process = spawn_worker(consumers="3", job_seconds="0.05")
    worker.lever("stall")
    ids = [worker.job(f"customer-{n}", n)["id"] for n in range(12)]
    eventually(lambda: worker.value("queue_messages", state="in_flight") == 3)
    consumed = worker.value("messaging_client_consumed_messages_total")
    cpu = worker.value("process_cpu_seconds_total")
    time.sleep(1.0)
    assert worker.value("messaging_client_consumed_messages_total") == consumed
    assert worker.value("queue_messages", state="in_flight") == 3
    assert worker.observed("messaging_process_duration_seconds_count", error_type="") == consumed
    assert worker.value("process_cpu_seconds_total") - cpu < 0.5  # idle, not spinning
    assert worker.value("queue_oldest_message_age_seconds") >= 1.0

    process.process.send_signal(signal.SIGKILL)
    process.process.wait(5)
    again, _ = spawn_worker(data_dir=worker.data_dir, consumers="3", job_seconds="0.01")
    eventually(lambda: all(again.states()[i] == "done" for i in ids))
    assert again.value("queue_messages", state="in_flight") == 0


def test_a_graceful_stop_while_stuck_is_quick_and_loses_nothing(spawn_worker) -> None:  # type: ignore[no-untyped-def]
    worker, process = spawn_worker(consumers="2")
    worker.lever("stall")
    ids = [worker.job(f"customer-{n}")["id"] for n in range(4)]
    eventually(lambda: worker.value("queue_messages", state="in_flight") == 2)
    started = time.monotonic()
    assert process.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM once it has shut down
    assert time.monotonic() - started < 4
    assert '"worker stopping"' in process.stderr_path.read_text()
    again, restarted = spawn_worker(data_dir=worker.data_dir)
    eventually(lambda: all(again.states()[i] == "done" for i in ids))
    assert '"requeued_unfinished_jobs": 2' in restarted.stderr_path.read_text()


def test_each_committed_job_keeps_memory_while_retaining(spawn_worker) -> None:  # type: ignore[no-untyped-def]
    worker, _ = spawn_worker(job_seconds="0.001")
    baseline = worker.value("process_resident_memory_bytes")
    answer = worker.lever("memory-retain", {"enabled": True, "bytes_per_job": 2 * 1024 * 1024}).json()
    assert answer["enabled"] is True and answer["bytes_per_job"] == 2 * 1024 * 1024
    for n in range(30):
        worker.job(f"customer-{n}")
    eventually(lambda: worker.value("messaging_client_consumed_messages_total") == 30)
    grown = worker.value("process_resident_memory_bytes") - baseline
    assert grown > 50 * 1024 * 1024
    worker.lever("memory-retain", {"enabled": False})
    for n in range(10):
        worker.job(f"customer-{n}")
    eventually(lambda: worker.value("messaging_client_consumed_messages_total") == 40)
    assert worker.value("process_resident_memory_bytes") - baseline > 50 * 1024 * 1024  # what was held stays


def test_exit_ends_the_process_with_the_code(spawn_worker) -> None:  # type: ignore[no-untyped-def]
    worker, process = spawn_worker()
    assert worker.lever("exit", {"code": 3}).json() == {"exiting_with": 3}
    assert process.process.wait(5) == 3
    assert (
        not psutil.pid_exists(process.process.pid) or psutil.Process(process.process.pid).status() == "zombie"
    )
