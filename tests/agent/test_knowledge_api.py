from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from agent.knowledge.embedder import SentenceTransformerEmbedder
from agent.knowledge.runbooks import load_runbooks
from agent.knowledge.store import open_knowledge_store
from lab.runner.ports import free_port

from .agent_testkit import LabUrls, agent_app, agent_settings, standin_reasoning
from .weaviate_standin import WeaviateStandIn

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"


def test_knowledge_search_shows_what_the_agent_would_retrieve(tmp_path: Path, lab_urls: LabUrls) -> None:
    settings = agent_settings(tmp_path, lab_urls)
    app = agent_app(settings, lab_urls, reasoning=standin_reasoning(), runbooks=load_runbooks(RUNBOOKS))
    with TestClient(app) as client:
        query = {"q": "writes fail: database is locked", "k": 3}
        answer = client.get("/agent/knowledge/search", params=query)
        assert answer.status_code == 200
        body = answer.json()
        assert body["runbooks"][0]["runbook_id"] == "db-lock-contention"
        assert len(body["runbooks"]) == 3 and body["incidents"] == []

        assert client.get("/agent/knowledge/search", params={"q": ""}).status_code == 422
        assert client.get("/agent/knowledge/search", params={"q": "x", "k": 0}).status_code == 422


def test_each_runbook_is_served_as_the_markdown_file_alert_links_open(
    tmp_path: Path, lab_urls: LabUrls
) -> None:
    settings = agent_settings(tmp_path, lab_urls)
    app = agent_app(settings, lab_urls, reasoning=standin_reasoning(), runbooks=load_runbooks(RUNBOOKS))
    with TestClient(app) as client:
        answer = client.get("/agent/runbooks/db-pool-exhaustion.md")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/markdown; charset=utf-8"
        assert answer.text == (RUNBOOKS / "db-pool-exhaustion.md").read_text(encoding="utf-8")
        for path in ("no-such-runbook.md", "db-pool-exhaustion", "..%2FREADME.md", "proposed.md"):
            assert client.get(f"/agent/runbooks/{path}").status_code == 404, path
        assert client.get("/agent/runbooks/proposed").json()["enabled"] is False


def test_weaviate_serves_the_agent_and_failures_are_counted(
    tmp_path: Path, lab_urls: LabUrls, weaviate_server: WeaviateStandIn
) -> None:
    settings = agent_settings(
        tmp_path,
        lab_urls,
        WEAVIATE_URL=weaviate_server.url,
        WEAVIATE_GRPC_PORT=weaviate_server.grpc_port,
        WEAVIATE_TIMEOUT_SECONDS=0.5,
    )
    app = agent_app(settings, lab_urls, reasoning=standin_reasoning(), runbooks=load_runbooks(RUNBOOKS))
    with TestClient(app) as client:
        status = client.get("/agent/status").json()
        assert status["knowledge_backend"] == "weaviate" and status["notes"] == []
        query = {"q": "writes fail: database is locked"}
        assert client.get("/agent/knowledge/search", params=query).json()["runbooks"][0]["runbook_id"] == (
            "db-lock-contention"
        )
        searched = {call["collection"] for call in weaviate_server.calls_of("search")}
        assert {"SreRunbook", "SreIncident"} <= searched  # a retry may come in either order

        weaviate_server.stop()
        answer = client.get("/agent/knowledge/search", params=query).json()
        assert answer["runbooks"][0]["runbook_id"] == "db-lock-contention"
        metrics = client.get("/metrics").text
        assert 'sre_agent_knowledge_fallbacks_total{operation="search_runbooks"} 1.0' in metrics
        knowledge = client.get("/health").json()["agent"]["knowledge"]
        assert not knowledge["ok"] and knowledge["backend"] == "weaviate"
        assert knowledge["weaviate_fallbacks_recent"] >= 1 and "answered from the file" in knowledge["reason"]


def test_weaviate_down_at_start_leaves_the_embedded_store_and_a_note(
    tmp_path: Path, lab_urls: LabUrls
) -> None:
    settings = agent_settings(tmp_path, lab_urls, WEAVIATE_URL=f"http://127.0.0.1:{free_port()}")
    app = agent_app(settings, lab_urls, reasoning=standin_reasoning(), runbooks=load_runbooks(RUNBOOKS))
    with TestClient(app) as client:
        status = client.get("/agent/status").json()
        assert status["knowledge_backend"] == "embedded"
        assert any("Weaviate" in note and "embedded store" in note for note in status["notes"])
        answer = client.get("/agent/knowledge/search", params={"q": "no space left on device"}).json()
        assert answer["runbooks"][0]["runbook_id"] == "disk-full"
        knowledge = client.get("/health").json()["agent"]["knowledge"]
        assert not knowledge["ok"] and "unavailable at start-up" in knowledge["reason"]


def test_the_running_agent_rereads_runbooks_that_people_edit(tmp_path: Path, lab_urls: LabUrls) -> None:
    folder = tmp_path / "runbooks"
    shutil.copytree(RUNBOOKS, folder)
    settings = agent_settings(tmp_path, lab_urls, RUNBOOKS_PATH=folder, RUNBOOKS_CHECK_SECONDS=0.05)
    with TestClient(agent_app(settings, lab_urls, reasoning=standin_reasoning())) as client:

        def eventually(condition: Callable[[], bool]) -> None:
            deadline = time.monotonic() + 10
            while not condition():
                assert time.monotonic() < deadline, client.get("/agent/status").json()
                time.sleep(0.05)

        def top(query: str) -> str:
            return str(
                client.get("/agent/knowledge/search", params={"q": query}).json()["runbooks"][0]["runbook_id"]
            )

        shipped = len(list(RUNBOOKS.glob("*.md")))
        assert client.get("/agent/status").json()["runbooks"] == shipped
        (folder / "inventory-tls.md").write_text(
            (folder / "dependency-outage.md")
            .read_text()
            .replace("id: dependency-outage", "id: inventory-tls")
            .replace("\n# ", "\nStock lookups fail: SSLError certificate verify failed.\n\n# ", 1)
        )
        eventually(lambda: top("sslerror certificate verify failed") == "inventory-tls")
        assert client.get("/agent/status").json()["runbooks"] == shipped + 1
        assert (
            'sre_agent_incidents_total{diagnosis="inventory-tls",outcome="resolved",service="target"} 0.0'
            in (client.get("/metrics").text)
        )

        (folder / "disk-full.md").write_text("not a runbook any more")
        eventually(lambda: any("disk-full.md" in n for n in client.get("/agent/status").json()["notes"]))
        status = client.get("/agent/status").json()
        assert status["runbooks"] == shipped + 1 and top("no space left on device") == "disk-full"


def test_an_embedding_model_that_cannot_load_leaves_lexical_search_and_a_note(
    tmp_path: Path, lab_urls: LabUrls
) -> None:
    settings = agent_settings(tmp_path, lab_urls, EMBEDDING_MODEL=str(tmp_path / "no-model-here"))
    app = agent_app(settings, lab_urls, reasoning=standin_reasoning(), runbooks=load_runbooks(RUNBOOKS))
    with TestClient(app) as client:
        notes = client.get("/agent/status").json()["notes"]
        assert any("semantic search off" in n and "ranked lexically" in n for n in notes), notes
        best = client.get("/agent/knowledge/search", params={"q": "no space left on device"}).json()
        assert best["runbooks"][0]["runbook_id"] == "disk-full"
        assert best["runbooks"][0]["semantic_similarity"] is None


def test_the_agent_searches_by_meaning_with_the_embedder(
    tmp_path: Path, lab_urls: LabUrls, minilm: SentenceTransformerEmbedder
) -> None:
    runbooks = load_runbooks(RUNBOOKS)
    knowledge = open_knowledge_store(tmp_path / "knowledge.json", embedder=minilm)
    knowledge.sync_runbooks(runbooks)
    app = agent_app(
        agent_settings(tmp_path, lab_urls),
        lab_urls,
        reasoning=standin_reasoning(),
        runbooks=runbooks,
        knowledge=knowledge,
    )
    with TestClient(app) as client:
        assert client.get("/agent/status").json()["notes"] == []
        query = {"q": "the storage volume ran out of room", "k": 1}
        (best,) = client.get("/agent/knowledge/search", params=query).json()["runbooks"]
        assert best["runbook_id"] == "disk-full" and best["semantic_similarity"] > 0.4


def test_with_weaviate_the_agent_loads_the_model_and_searches_weaviate_by_meaning(
    tmp_path: Path, lab_urls: LabUrls, weaviate_server: WeaviateStandIn, minilm: SentenceTransformerEmbedder
) -> None:
    settings = agent_settings(
        tmp_path,
        lab_urls,
        WEAVIATE_URL=weaviate_server.url,
        WEAVIATE_GRPC_PORT=weaviate_server.grpc_port,
        EMBEDDING_MODEL="auto",  # the packaged model `minilm` needs: loaded again here, a few seconds
    )
    app = agent_app(settings, lab_urls, reasoning=standin_reasoning(), runbooks=load_runbooks(RUNBOOKS))
    with TestClient(app) as client:
        status = client.get("/agent/status").json()
        assert status["knowledge_backend"] == "weaviate" and status["notes"] == []
        query = {"q": "the storage volume ran out of room", "k": 1}
        (best,) = client.get("/agent/knowledge/search", params=query).json()["runbooks"]
        assert best["runbook_id"] == "disk-full" and best["semantic_similarity"] > 0.4
        hybrid = [c for c in weaviate_server.calls_of("search") if "alpha" in c]
        assert {c["collection"] for c in hybrid} == {"SreRunbook", "SreIncident"}
        assert all(c["vectors"] == {"default": 384} for c in weaviate_server.calls_of("batch"))
