"""The Weaviate knowledge store against a stand-in that speaks Weaviate's REST and gRPC protocols.

What the stand-in saw is asserted too: the collection, the BM25 query and its properties, the limit, the
metadata asked for, the objects written and their uuids.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr
from weaviate.exceptions import UnexpectedStatusCodeError
from weaviate.util import generate_uuid5

from agent.knowledge.embedded import EmbeddedKnowledgeStore
from agent.knowledge.runbooks import load_runbooks
from agent.knowledge.text import tokenize
from agent.knowledge.weaviate_collections import INCIDENT_RETURN, RUNBOOK_RETURN, connect_weaviate
from agent.knowledge.weaviate_store import WeaviateKnowledgeStore

from ..weaviate_standin import WeaviateStandIn
from .knowledge_kit import RUNBOOKS, memory

OpenStore = Callable[..., WeaviateKnowledgeStore]


def test_start_creates_collections_and_syncs_runbooks_by_hash(
    tmp_path: Path, runbook_dir: Path, weaviate_server: WeaviateStandIn, weaviate_store: OpenStore
) -> None:
    store = weaviate_store(tmp_path / "k.json")
    assert len(store.start(load_runbooks(runbook_dir)).added) == len(load_runbooks(runbook_dir))
    runbook_class = weaviate_server.schemas["SreRunbook"]
    assert runbook_class["vectorConfig"]["default"]["vectorizer"] == {"none": {}}
    assert runbook_class["invertedIndexConfig"]["stopwords"]["preset"] == "none"
    searched = [p for p in runbook_class["properties"] if p.get("indexSearchable", True)]
    assert [(p["name"], p["tokenization"]) for p in searched] == [("search_text", "whitespace")]
    assert {p["name"] for p in weaviate_server.schemas["SreIncident"]["properties"]} == set(INCIDENT_RETURN)
    written = {c["uuid"]: c["properties"] for c in weaviate_server.calls_of("batch")}
    disk = written[str(generate_uuid5("disk-full", "SreRunbook"))]
    assert disk["runbook_id"] == "disk-full" and disk["search_text"].split() == tokenize(disk["text"])

    weaviate_server.calls.clear()
    reopened = weaviate_store(tmp_path / "k.json")
    assert len(reopened.start(load_runbooks(runbook_dir)).unchanged) == len(load_runbooks(runbook_dir))
    assert not weaviate_server.calls_of("batch"), "an unchanged runbook is not written again"

    file = runbook_dir / "disk-full.md"
    file.write_text(file.read_text() + "\nAlso seen as the quokka condition.\n")
    (runbook_dir / "memory-leak.md").unlink()
    report = reopened.sync_runbooks(load_runbooks(runbook_dir))
    assert report.updated == ["disk-full"] and report.removed == ["memory-leak"] and not report.added
    assert [c["uuid"] for c in weaviate_server.calls_of("batch")] == [
        str(generate_uuid5("disk-full", "SreRunbook"))
    ]
    memory_leak = str(generate_uuid5("memory-leak", "SreRunbook"))
    assert f"rest DELETE /v1/objects/SreRunbook/{memory_leak}" in [c["kind"] for c in weaviate_server.calls]
    left = len(load_runbooks(runbook_dir))
    assert len(weaviate_server.objects["SreRunbook"]) == left
    assert [h.runbook_id for h in reopened.search_runbooks("quokka condition", k=left)] == ["disk-full"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("target down not answering health endpoint unreachable", "service-down"),
        ("QueuePool limit reached connection timed out pool exhausted", "db-pool-exhaustion"),
        ("database is locked slow queries", "db-lock-contention"),
        ("resident memory keeps growing", "memory-leak"),
        ("cpu saturated at normal traffic", "cpu-saturation"),
        ("errors started right after the new release", "bad-release"),
        ("inventory service timed out dependency check failing", "dependency-outage"),
        ("requests per second far above baseline", "traffic-surge"),
        ("no space left on device", "disk-full"),
    ],
)
def test_bm25_ranks_the_right_runbook_first(
    tmp_path: Path, weaviate_server: WeaviateStandIn, weaviate_store: OpenStore, query: str, expected: str
) -> None:
    store = weaviate_store(tmp_path / "k.json")
    store.start(load_runbooks(RUNBOOKS))
    hits = store.search_runbooks(query)
    assert hits[0].runbook_id == expected and hits[0].title and hits[0].snippet
    (search,) = [c for c in weaviate_server.calls_of("search") if "query" in c]
    assert search == {
        "kind": "search",
        "collection": "SreRunbook",
        "query": " ".join(tokenize(query)),
        "query_properties": ["search_text"],
        "limit": 50,
        "metadata": ["score", "uuid"],
        "properties": sorted(RUNBOOK_RETURN),
    }
    assert not store.fallbacks


def test_an_incident_is_found_for_a_similar_one_with_the_embedded_similarity(
    tmp_path: Path, weaviate_server: WeaviateStandIn, weaviate_store: OpenStore
) -> None:
    store = weaviate_store(tmp_path / "k.json")
    store.start([])
    store.add_incident(memory("inc-1", "data disk full no space left on device"))
    store.add_incident(memory("inc-2", "traffic surge request rate above baseline", "traffic-surge"))
    (written,) = [c for c in weaviate_server.calls_of("batch") if c["properties"]["incident_id"] == "inc-1"]
    assert written["uuid"] == str(generate_uuid5("inc-1", "SreIncident"))
    assert written["properties"]["actions_worked"] == ["clean-disk"]
    assert written["properties"]["time_to_mitigate_seconds"] == 42.5

    found = store.search_incidents("disk full no space", k=3)
    assert [f.incident_id for f in found] == ["inc-1"]
    assert found[0].memory == memory("inc-1", "x").model_copy(
        update={
            "symptoms_text": "data disk full no space left on device",
            "created_at": found[0].memory.created_at,
        }
    )
    assert weaviate_server.calls_of("search")[-1]["collection"] == "SreIncident"
    embedded = EmbeddedKnowledgeStore(tmp_path / "k.json").search_incidents("disk full no space", k=3)
    assert found[0].similarity == embedded[0].similarity
    assert store.search_incidents("") == [] and not store.fallbacks


def test_weaviate_failing_at_runtime_answers_from_the_record_and_loses_nothing(
    tmp_path: Path, weaviate_server: WeaviateStandIn, weaviate_store: OpenStore
) -> None:
    fallbacks: list[str] = []
    store = weaviate_store(
        tmp_path / "k.json", deadline_seconds=1.0, retry_after_seconds=0.0, on_fallback=fallbacks.append
    )
    store.start(load_runbooks(RUNBOOKS))
    weaviate_server.stop()

    started = time.monotonic()
    assert store.search_runbooks("no space left on device")[0].runbook_id == "disk-full"
    assert time.monotonic() - started < 3, "the client's retry sleeps are cut off by the deadline"
    store.add_incident(memory("inc-down", "data disk full no space left on device"))
    assert store.search_incidents("disk full")[0].incident_id == "inc-down"
    assert fallbacks == ["search_runbooks", "add_incident", "search_incidents"]
    assert store.pending == 1
    assert [m.incident_id for m in EmbeddedKnowledgeStore(tmp_path / "k.json").incidents()] == ["inc-down"]

    weaviate_server.start()  # the same ports: Weaviate restarted with its data
    deadline = time.monotonic() + 15
    while store.pending and time.monotonic() < deadline:
        store.search_incidents("disk full")
        time.sleep(0.2)
    assert store.pending == 0
    assert str(generate_uuid5("inc-down", "SreIncident")) in weaviate_server.objects["SreIncident"]
    fell_back = len(fallbacks)
    assert store.search_incidents("disk full")[0].incident_id == "inc-down"
    assert len(fallbacks) == fell_back, "answered by Weaviate again"


def test_start_indexes_incidents_the_record_has_and_weaviate_lacks(
    tmp_path: Path, weaviate_server: WeaviateStandIn, weaviate_store: OpenStore
) -> None:
    record = EmbeddedKnowledgeStore(tmp_path / "k.json")
    record.add_incident(memory("inc-a", "disk full"))
    record.add_incident(memory("inc-b", "traffic surge", "traffic-surge"))

    store = weaviate_store(tmp_path / "k.json")
    store.start([])
    assert store.pending == 0
    assert set(weaviate_server.objects["SreIncident"]) == {
        str(generate_uuid5(i, "SreIncident")) for i in ("inc-a", "inc-b")
    }
    assert [f.incident_id for f in store.search_incidents("traffic surge")] == ["inc-b"]


def test_api_key_is_sent_on_rest_and_grpc(tmp_path: Path) -> None:
    server = WeaviateStandIn(api_key="s3cret").start()
    try:
        with pytest.raises(UnexpectedStatusCodeError, match="401"):
            connect_weaviate(server.url, server.grpc_port, SecretStr("wrong"), 2.0).close()
        client = connect_weaviate(server.url, server.grpc_port, SecretStr("s3cret"), 2.0)
        store = WeaviateKnowledgeStore(client, EmbeddedKnowledgeStore(tmp_path / "k.json"))
        try:
            store.start(load_runbooks(RUNBOOKS))  # the stand-in refuses gRPC calls without the key too
            assert store.search_runbooks("database is locked")[0].runbook_id == "db-lock-contention"
        finally:
            store.close()
    finally:
        server.stop()
