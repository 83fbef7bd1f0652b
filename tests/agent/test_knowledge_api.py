from __future__ import annotations

from pathlib import Path

from agent_testkit import LabUrls, agent_settings, standin_reasoning
from fastapi.testclient import TestClient

from agent.app import create_app
from agent.knowledge.runbooks import load_runbooks

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"


def test_knowledge_search_shows_what_the_agent_would_retrieve(tmp_path: Path, lab_urls: LabUrls) -> None:
    settings = agent_settings(tmp_path, lab_urls)
    app = create_app(settings, reasoning=standin_reasoning(), runbooks=load_runbooks(RUNBOOKS))
    with TestClient(app) as client:
        query = {"q": "writes fail: database is locked", "k": 3}
        answer = client.get("/agent/knowledge/search", params=query)
        assert answer.status_code == 200
        body = answer.json()
        assert body["runbooks"][0]["runbook_id"] == "db-lock-contention"
        assert len(body["runbooks"]) == 3 and body["incidents"] == []

        assert client.get("/agent/knowledge/search", params={"q": ""}).status_code == 422
        assert client.get("/agent/knowledge/search", params={"q": "x", "k": 0}).status_code == 422
