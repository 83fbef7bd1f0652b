"""GrafanaAnnotator against a stand-in Grafana on a real port: shape, order, retries, drops, restarts."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from agent.annotations import GrafanaAnnotator
from lab.runner.ports import free_port

from .grafana_standin import GrafanaStandIn, Served

pytestmark = pytest.mark.timeout(30)
TOKEN = "glsa_test-token"


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def count(registry: CollectorRegistry, result: str) -> float:
    return registry.get_sample_value("sre_agent_annotations_total", {"result": result}) or 0.0


@pytest.fixture
def grafana() -> Iterator[tuple[GrafanaStandIn, int]]:
    """A stand-in and the port it will listen on; tests start it with `Served(standin.app(), port)`."""
    yield GrafanaStandIn(token=TOKEN), free_port()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def make(http: httpx.AsyncClient, tmp_path: Path) -> Iterator[Callable[..., GrafanaAnnotator]]:
    made: list[GrafanaAnnotator] = []

    def build(url: str, registry: CollectorRegistry | None = None, **kw: object) -> GrafanaAnnotator:
        options: dict[str, object] = {
            "outbox_path": tmp_path / "annotations.jsonl",
            "timeout_seconds": 1.0,
            "backoff_initial_seconds": 0.02,
            "backoff_max_seconds": 0.1,
            "dashboard_uid": "sre-target",
            **kw,
        }
        annotator = GrafanaAnnotator(
            http,
            url=url,
            token=TOKEN,
            registry=registry or CollectorRegistry(),
            **options,  # type: ignore[arg-type]
        )
        made.append(annotator)
        return annotator

    yield build
    for annotator in made:
        assert annotator._task is None or annotator._task.done(), "tests close what they start"


async def test_incident_region_and_events_have_grafanas_documented_shape(grafana, make) -> None:
    standin, port = grafana
    registry = CollectorRegistry()
    with Served(standin.app(), port):
        annotator = make(f"http://127.0.0.1:{port}", registry)
        annotator.start()
        ref = annotator.open_incident("inc-1", "db-pool-exhaustion", "pool exhausted on target")
        annotator.add_event(
            "inc-1",
            "db-pool-exhaustion",
            "remediate-db-pool-exhaustion: succeeded",
            tags=["remediate-db-pool-exhaustion", "succeeded"],
        )
        annotator.close_incident("inc-1", "db-pool-exhaustion", "resolved", text="resolved in 42 s")
        await wait_until(lambda: annotator.pending == 0 and len(standin.requests) == 3)
        await annotator.aclose()

    assert standin.shape_errors == []
    assert [(r.method, r.path) for r in standin.requests] == [
        ("POST", "/api/annotations"),
        ("POST", "/api/annotations"),
        ("PATCH", "/api/annotations/1"),
    ]
    opened, event, closed = (r.body for r in standin.requests)
    assert opened["dashboardUID"] == "sre-target" and opened["tags"] == ["sre-agent", "db-pool-exhaustion"]
    assert abs(opened["time"] - time.time() * 1000) < 60_000
    assert "timeEnd" not in opened
    assert event["tags"] == ["sre-agent", "db-pool-exhaustion", "remediate-db-pool-exhaustion", "succeeded"]
    assert set(closed) == {"timeEnd", "tags", "text"} and closed["timeEnd"] >= opened["time"]
    assert closed["tags"] == ["sre-agent", "db-pool-exhaustion", "resolved"]
    assert annotator.grafana_id(ref) == 1
    assert standin.annotations[1]["timeEnd"] == closed["timeEnd"]  # a region now
    assert count(registry, "delivered") == 3


async def test_grafana_down_then_up_delivers_each_once_in_order(grafana, make) -> None:
    standin, port = grafana
    registry = CollectorRegistry()
    annotator = make(f"http://127.0.0.1:{port}", registry)
    annotator.start()
    for n in range(3):
        annotator.open_incident(f"inc-{n}", "memory-leak", f"incident {n}")
    await wait_until(lambda: count(registry, "retried") >= 2)
    assert annotator.pending == 3
    with Served(standin.app(), port):
        await wait_until(lambda: annotator.pending == 0)
        await annotator.aclose()
    assert [r.body["text"] for r in standin.requests] == ["incident 0", "incident 1", "incident 2"]
    assert count(registry, "delivered") == 3


async def test_5xx_is_retried_until_grafana_accepts(grafana, make) -> None:
    standin, port = grafana
    standin.statuses = [503, 500]
    registry = CollectorRegistry()
    with Served(standin.app(), port):
        annotator = make(f"http://127.0.0.1:{port}", registry)
        annotator.start()
        annotator.open_incident("inc-1", "bad-release", "errors after release")
        await wait_until(lambda: annotator.pending == 0)
        await annotator.aclose()
    assert len(standin.requests) == 3
    assert (count(registry, "retried"), count(registry, "delivered")) == (2, 1)


async def test_4xx_is_dropped_and_counted_not_retried(grafana, make) -> None:
    standin, port = grafana
    standin.statuses = [400]
    registry = CollectorRegistry()
    with Served(standin.app(), port):
        annotator = make(f"http://127.0.0.1:{port}", registry)
        annotator.start()
        annotator.open_incident("inc-1", "disk-full", "rejected by Grafana")
        annotator.open_incident("inc-2", "disk-full", "accepted")
        await wait_until(lambda: annotator.pending == 0)
        await asyncio.sleep(0.1)  # a retry of the dropped one would show up here
        await annotator.aclose()
    assert [r.body["text"] for r in standin.requests] == ["rejected by Grafana", "accepted"]
    results = ("rejected", "delivered", "retried")
    assert [count(registry, r) for r in results] == [1, 1, 0]


async def test_a_close_whose_open_was_rejected_is_dropped_as_orphaned(grafana, make) -> None:
    standin, port = grafana
    standin.statuses = [422]
    registry = CollectorRegistry()
    with Served(standin.app(), port):
        annotator = make(f"http://127.0.0.1:{port}", registry)
        annotator.open_incident("inc-1", "disk-full", "rejected")
        annotator.close_incident("inc-1", "disk-full", "resolved")
        annotator.start()
        await wait_until(lambda: annotator.pending == 0)
        await annotator.aclose()
    assert len(standin.requests) == 1
    assert (count(registry, "rejected"), count(registry, "orphaned")) == (1, 1)


async def test_unauthorized_is_kept_for_a_fixed_token(grafana, make) -> None:
    standin, port = grafana
    standin.statuses = [401, 401, 401, 401, 401, 401, 401, 401, 401, 401]
    registry = CollectorRegistry()
    with Served(standin.app(), port):
        annotator = make(f"http://127.0.0.1:{port}", registry)
        annotator.start()
        annotator.open_incident("inc-1", "cpu-saturation", "cpu hot")
        await wait_until(lambda: count(registry, "unauthorized") >= 2)
        await annotator.aclose()
    assert annotator.pending == 1 and count(registry, "rejected") == 0


async def test_slow_grafana_never_blocks_the_caller_and_is_retried(grafana, make) -> None:
    standin, port = grafana
    standin.delay_seconds = 1.0
    registry = CollectorRegistry()
    with Served(standin.app(), port):
        annotator = make(f"http://127.0.0.1:{port}", registry, timeout_seconds=0.2)
        annotator.start()
        started = time.monotonic()
        for n in range(20):
            annotator.add_event("inc-1", "traffic-surge", f"event {n}")
        assert time.monotonic() - started < 0.5
        await wait_until(lambda: count(registry, "retried") >= 1)
        standin.delay_seconds = 0.0
        await wait_until(lambda: annotator.pending == 0, timeout=10)
        await annotator.aclose()
    # A timed-out request may have reached Grafana: at-least-once, in order.
    delivered = [r.body["text"] for r in standin.requests]
    assert sorted(set(delivered), key=lambda t: int(t.split()[1])) == [f"event {n}" for n in range(20)]
    assert count(registry, "delivered") == 20


async def test_no_grafana_url_keeps_annotations_in_the_outbox_file(make, tmp_path: Path) -> None:
    registry = CollectorRegistry()
    annotator = make("", registry)
    annotator.start()
    assert not annotator.enabled and annotator._task is None
    annotator.open_incident("inc-1", "dependency-outage", "inventory service timing out")
    annotator.close_incident("inc-1", "dependency-outage", "resolved")
    lines = [json.loads(line) for line in (tmp_path / "annotations.jsonl").read_text().splitlines()]
    assert [(line["method"], line["ref"]) for line in lines] == [
        ("create", "incident-inc-1"),
        ("patch", "incident-inc-1"),
    ]
    assert count(registry, "kept_local") == 2
    assert registry.get_sample_value("sre_agent_annotations_pending") == 2


async def test_a_restart_delivers_what_the_outbox_file_holds(grafana, make) -> None:
    standin, port = grafana
    first = make("")  # no Grafana yet: everything stays in the file
    first.open_incident("inc-1", "target-down", "target not answering")
    first.close_incident("inc-1", "target-down", "resolved", text="restarted")
    await first.aclose()
    registry = CollectorRegistry()
    with Served(standin.app(), port):
        second = make(f"http://127.0.0.1:{port}", registry)
        assert second.pending == 2
        second.start()
        await wait_until(lambda: second.pending == 0)
        await second.aclose()
    assert [(r.method, r.path) for r in standin.requests] == [
        ("POST", "/api/annotations"),
        ("PATCH", "/api/annotations/1"),
    ]
    assert standin.shape_errors == [] and count(registry, "delivered") == 2


async def test_delivered_ids_survive_a_restart_for_the_closing_patch(grafana, make) -> None:
    standin, port = grafana
    with Served(standin.app(), port):
        first = make(f"http://127.0.0.1:{port}")
        first.start()
        first.open_incident("inc-7", "memory-leak", "rss growing")
        await wait_until(lambda: first.pending == 0)
        await first.aclose()
        second = make(f"http://127.0.0.1:{port}")
        second.start()
        second.open_incident("inc-7", "memory-leak", "rss growing")  # a resumed workflow: no duplicate
        second.close_incident("inc-7", "memory-leak", "resolved")
        await wait_until(lambda: second.pending == 0)
        await second.aclose()
    assert [(r.method, r.path) for r in standin.requests] == [
        ("POST", "/api/annotations"),
        ("PATCH", "/api/annotations/1"),
    ]


async def test_closing_an_incident_never_opened_here_creates_the_whole_region(grafana, make) -> None:
    standin, port = grafana
    opened_at = datetime.now(UTC) - timedelta(minutes=5)
    with Served(standin.app(), port):
        annotator = make(f"http://127.0.0.1:{port}")
        annotator.start()
        annotator.close_incident("inc-9", "unknown", "escalated", opened_at=opened_at)
        await wait_until(lambda: annotator.pending == 0)
        await annotator.aclose()
    (seen,) = standin.requests
    assert seen.body["time"] == int(opened_at.timestamp() * 1000)
    assert seen.body["timeEnd"] - seen.body["time"] >= 5 * 60 * 1000 - 1000
    assert seen.body["tags"] == ["sre-agent", "unknown", "escalated"]


async def test_the_outbox_is_bounded(make) -> None:
    registry = CollectorRegistry()
    annotator = make("", registry, max_pending=2)
    for n in range(3):
        annotator.open_incident(f"inc-{n}", "unknown", f"incident {n}")
    assert annotator.pending == 2 and count(registry, "overflow") == 1


def test_tags_stay_few_and_short(make) -> None:
    annotator = make("")
    annotator.add_event("inc-1", "bad-release", "x", tags=["sre-agent", "a" * 80, "b", "c", "d", "e", "f"])
    (entry,) = annotator._outbox.pending()
    assert entry.body["tags"][:3] == ["sre-agent", "bad-release", "a" * 50] and len(entry.body["tags"]) == 6


async def test_a_keyed_event_is_sent_once_even_when_the_node_runs_again(grafana, make) -> None:
    standin, port = grafana
    with Served(standin.app(), port):
        annotator = make(f"http://127.0.0.1:{port}")
        annotator.start()
        annotator.add_event("inc-1", "disk-full", "clean-disk: succeeded", key="action-1")
        await wait_until(lambda: annotator.pending == 0)
        annotator.add_event("inc-1", "disk-full", "clean-disk: succeeded", key="action-1")
        await asyncio.sleep(0.05)
        await annotator.aclose()
    assert len(standin.requests) == 1
