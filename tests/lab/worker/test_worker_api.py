"""The worker's HTTP surface: enqueue and its refusals, liveness, the metrics contract, auth, blindness."""

from __future__ import annotations

import re

import httpx
import pytest

from ..polling import eventually
from .worker_testkit import ADMIN, HOOK, StartWorker, sample

JOBS = {"messaging_system": "sqlite", "messaging_destination_name": "jobs"}
PROCESS = {**JOBS, "messaging_operation_name": "process"}
FORBIDDEN = re.compile(
    r"chaos|(?<!de)fault|attack|inject|hook|poison|stall|flood|crash|" + ADMIN + "|" + HOOK, re.I
)


def test_a_job_is_accepted_with_its_id_and_partition(start_worker: StartWorker) -> None:
    worker = start_worker()
    first = worker.job("customer-17", 12.5)
    second = worker.job("customer-17", 3)
    assert second["id"] > first["id"] and second["partition"] == first["partition"]
    assert worker.http.get("/healthz").json() == {"status": "ok"}
    assert worker.registry.get_sample_value("messaging_client_sent_messages_total", JOBS) == 2
    eventually(
        lambda: worker.registry.get_sample_value("messaging_client_consumed_messages_total", JOBS) == 2
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "kind: Field required"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"kind": "invoice"}', "key: Field required"),
        (b'{"kind": "invoice", "key": "a b"}', "key: String should match pattern"),
        (b'{"kind": "Invoice!", "key": "k"}', "kind: String should match pattern"),
        (b'{"kind": "invoice", "key": ""}', "key: String should have at least 1 character"),
    ],
)
def test_bad_input_is_refused_with_a_reason(start_worker: StartWorker, body: bytes, reason: str) -> None:
    worker = start_worker()
    response = worker.http.post("/jobs", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and reason in response.json()["detail"]
    assert worker.registry.get_sample_value("messaging_client_sent_messages_total", JOBS) == 0


def test_a_large_body_is_413_declared_or_streamed(start_worker: StartWorker) -> None:
    worker = start_worker(max_body_bytes=1024)
    big = b'{"kind": "invoice", "key": "k", "note": "' + b"x" * 2000 + b'"}'
    declared = worker.http.post("/jobs", content=big)
    assert declared.status_code == 413 and "1024 bytes" in declared.json()["detail"]
    streamed = worker.http.post("/jobs", content=iter([big[:600], big[600:]]))  # chunked: no length
    assert streamed.status_code == 413
    assert worker.registry.get_sample_value("messaging_client_sent_messages_total", JOBS) == 0


def test_metrics_exposition_has_the_contract_names_and_labels(start_worker: StartWorker) -> None:
    worker = start_worker()
    worker.job("customer-1", 1.0)
    worker.job("customer-2", "12,50")
    worker.http.post("/jobs", json={"kind": "invoice"})
    eventually(  # the two jobs are in different partitions: either may be taken first
        lambda: (
            sample(worker.metrics(), "messaging_process_duration_seconds_count", error_type="ValueError")
            and sample(worker.metrics(), "messaging_client_consumed_messages_total", **JOBS) == 1
        )
    )
    response = worker.http.get("/metrics", follow_redirects=False)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    for name in (
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_start_time_seconds",
        "process_open_fds",
        "python_gc_objects_collected_total",
        "python_info",
    ):
        assert sample(text, name) is not None, name
    assert sample(text, "messaging_client_sent_messages_total", **JOBS) == 2
    assert sample(text, "messaging_client_consumed_messages_total", **JOBS) == 1
    assert sample(text, "messaging_process_duration_seconds_count", **PROCESS, error_type="") == 1
    assert sample(text, "messaging_process_duration_seconds_count", **PROCESS, error_type="ValueError") >= 1  # type: ignore[operator]
    assert sample(text, "messaging_process_duration_seconds_bucket", **PROCESS, error_type="", le="0.1") == 1
    http = {"http_request_method": "POST", "http_route": "/jobs"}
    assert (
        sample(text, "http_server_request_duration_seconds_count", **http, http_response_status_code="202")
        == 2
    )
    assert (
        sample(text, "http_server_request_duration_seconds_count", **http, http_response_status_code="422")
        == 1
    )
    assert sample(text, "queue_messages", messaging_destination_name="jobs", state="ready") == 1
    assert sample(text, "queue_messages", messaging_destination_name="jobs", state="dead_letter") == 0
    assert sample(text, "queue_messages", messaging_destination_name="jobs", state="in_flight") is not None
    assert sample(text, "queue_oldest_message_age_seconds", messaging_destination_name="jobs") > 0  # type: ignore[operator]
    assert sample(text, "queue_consumers", messaging_destination_name="jobs") == 2
    assert "/healthz" not in text and "/metrics" not in text  # only business routes are timed


def test_an_empty_queue_has_no_age_and_each_app_its_own_registry(start_worker: StartWorker) -> None:
    first, second = start_worker(), start_worker(consumers=3)
    first.job("customer-1")
    eventually(lambda: first.value("messaging_client_consumed_messages_total") == 1)
    assert first.value("queue_oldest_message_age_seconds") == 0
    assert second.value("messaging_client_sent_messages_total") == 0
    assert second.value("queue_consumers") == 3


def test_admin_and_levers_need_their_tokens_and_stay_out_of_openapi(start_worker: StartWorker) -> None:
    worker = start_worker()
    for path, body in (("consumers", {"consumers": 2}), ("dead-letter", {"min_attempts": 5})):
        assert worker.http.post(f"/admin/{path}", json=body).status_code == 401
        assert worker.admin(path, body, token=HOOK).status_code == 401
    assert worker.http.get("/admin/queue", headers={"Authorization": f"Bearer {HOOK}"}).status_code == 401
    for path in ("stall", "memory-retain", "exit"):
        assert worker.http.post(f"/_hooks/{path}", json={}).status_code == 401
        assert worker.lever(path, {}, token=ADMIN).status_code == 401
    spec = worker.http.get("/openapi.json").json()
    assert sorted(spec["paths"]) == ["/healthz", "/jobs", "/metrics"]


@pytest.mark.parametrize(
    ("path", "body"),
    [("consumers", {"consumers": 0}), ("consumers", {"consumers": 17}), ("dead-letter", {"min_attempts": 0})],
)
def test_admin_refuses_bad_parameters(start_worker: StartWorker, path: str, body: object) -> None:
    response = start_worker().admin(path, body)
    assert response.status_code == 422 and response.json()["detail"]


def test_nothing_public_names_what_was_done_to_it(start_worker: StartWorker) -> None:
    worker = start_worker()
    worker.lever("memory-retain", {"enabled": True, "bytes_per_job": 1024})
    worker.job("customer-9", "12,50")
    eventually(lambda: worker.queue()["heads"] and worker.queue()["heads"][0]["attempts"] >= 2)
    worker.lever("stall")
    for path in ("/metrics", "/healthz", "/openapi.json", "/docs", "/jobs", "/nope"):
        response = httpx.get(worker.url + path)
        shown = response.text + str(dict(response.headers))
        assert FORBIDDEN.search(shown) is None, (path, FORBIDDEN.search(shown))
