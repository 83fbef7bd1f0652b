"""A whole incident with secrets everywhere the agent reads, on the real app over real HTTP: the secret
corpus in the target's error log and in an alert's annotations, secrets in its labels, credentials in
the target's and Prometheus's URLs, a model that repeats a secret in its answer, an action server that
answers with its internals. Afterwards none of it is in an API answer, a log record or event, the SQLite
files (incidents, checkpoints), the knowledge file, the proposed amendment or a prompt."""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from pydantic import SecretStr

from agent.actions.http import RESULT_FIELDS
from agent.diagnosis.llm import LLMDiagnoser
from agent.redaction import MARK, install_log_redaction
from lab.bench.secret_corpus import corpus, leaks, secrets
from lab.standins import LLMStandIn, notification

from .agent_testkit import (
    Lab,
    LabUrls,
    ServedApp,
    agent_app,
    agent_settings,
    firing_alert,
    standin_reasoning,
    standin_runbooks,
)

TOKEN = "hook-secret"
# secrets that are not in the corpus: the URLs' credentials, a label, what the model says
URL_SECRETS = ["probe-pass-7Qx2", "prom-pass-9Lk4"]
LABEL_SECRETS = ["labelpass-Zq81", "instance-pass-42"]
MODEL_SECRET = "ghp_M0delR3peat5aT0kenF0rYou1234567890"
INTERNALS = "python -m lab.chaos.lock_holder /srv/target/orders.db --seconds 60"


@pytest.fixture
def log_redaction() -> Iterator[None]:
    """What `python -m agent` installs for the standard library's records (httpx logs every URL)."""
    before, level = logging.getLogRecordFactory(), logging.getLogger("httpx").level
    install_log_redaction()
    yield
    logging.setLogRecordFactory(before)
    logging.getLogger("httpx").setLevel(level)


def with_credentials(url: str, userinfo: str) -> str:
    return url.replace("http://", f"http://{userinfo}@", 1)


def finished(url: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = httpx.get(f"{url}/agent/incidents", timeout=5).json()["incidents"]
        if listed and listed[0]["status"] in {"resolved", "escalated", "failed"}:
            return dict(httpx.get(f"{url}/agent/incidents/{listed[0]['id']}", timeout=5).json())
        time.sleep(0.05)
    raise AssertionError(f"no finished incident: {listed}")


def test_no_secret_read_during_an_incident_is_kept_anywhere(
    tmp_path: Path,
    lab: Lab,
    serve: Callable[[FastAPI], ServedApp],
    log_redaction: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    importlib.import_module("litellm")  # ~15 s on a busy machine; in the diagnose step it would stall the API
    logging.getLogger("httpx").setLevel(
        logging.INFO
    )  # litellm's import sets it to WARNING: URLs logged again
    base = serve(lab.combined_app()).url
    urls = LabUrls(
        target=with_credentials(base, f"probe:{URL_SECRETS[0]}"),
        action=base,  # the bearer token is its credential
        prometheus=with_credentials(base, f"prom:{URL_SECRETS[1]}"),
    )
    lab.extra_logs = [entry.line for entry in corpus()]
    lab.action_answer = {
        "detail": f"reclaimed 3 connections; db password={LABEL_SECRETS[0]}",
        "duration_seconds": 0.2,
        "changes": {"holders": [{"pid": 4242, "command": INTERNALS}], "db_path": "/srv/target/orders.db"},
    }
    model = LLMStandIn(
        answer={
            "diagnosis_id": "db-pool-exhaustion",
            "confidence": 0.9,
            "root_cause": f"the pool is exhausted; the deploy token is {MODEL_SECRET}",
            "evidence": ["QueuePool limit reached", f"Authorization: Bearer {MODEL_SECRET}"],
        }
    )
    model.url = f"{serve(model.app).url}/v1"
    reasoning = standin_reasoning()
    reasoning.llm = LLMDiagnoser(model="openai/stand-in", api_base=model.url, timeout_seconds=30, api_key="k")
    settings = agent_settings(
        tmp_path,
        urls,
        WEBHOOK_TOKEN=SecretStr(TOKEN),
        LLM_MODEL="openai/stand-in",
        PROPOSED_RUNBOOKS_ENABLED=True,
        PROPOSED_RUNBOOKS_PATH=tmp_path / "proposed",
    )
    url = serve(agent_app(settings, urls, reasoning=reasoning, runbooks=standin_runbooks())).url

    alert = firing_alert()
    alert["labels"] |= {
        "db_password": LABEL_SECRETS[0],
        "instance": f"http://ops:{LABEL_SECRETS[1]}@10.0.0.5:8000",
    }
    alert["annotations"] |= {"description": "\n".join(e.line for e in corpus()[::3])}
    with structlog.testing.capture_logs() as events:
        answer = httpx.post(
            f"{url}/webhooks/alertmanager",
            json=notification([alert]),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert answer.status_code == 202
        incident = finished(url, timeout=90)  # litellm's first import: up to 15 s on a busy machine

    # It ran as it would have: the lines were read, the model asked, the fix made, a proposal written.
    assert incident["status"] == "resolved" and incident["diagnosis"]["source"] == "llm"
    gathered = next(e for e in incident["timeline"] if e["step"] == "gather")["data"]
    assert any(MARK in signature for signature in gathered["log_error_signatures"])
    proposals = list((tmp_path / "proposed").glob("*.md"))
    assert proposals and MARK in proposals[0].read_text()
    assert (tmp_path / "knowledge.json").is_file() and model.requests

    # The action server's answer: only the fields the agent knows, none of its internals.
    (action,) = incident["actions"]
    assert action["result"] and set(action["result"]) <= set(RESULT_FIELDS)
    assert "changes" not in str(incident) and "lock_holder" not in str(incident)

    answers = [
        httpx.get(f"{url}{path}", timeout=10).text
        for path in (
            "/agent/incidents",
            f"/agent/incidents/{incident['id']}",
            "/agent/status",
            "/health",
            "/metrics",
            "/agent/runbooks/proposed",
            "/agent/knowledge/search?q=pool+password+token+session",
        )
    ]
    files = [path.read_bytes().decode("latin-1") for path in sorted(tmp_path.rglob("*")) if path.is_file()]
    stored = {path.name for path in tmp_path.rglob("*") if path.is_file()}
    assert {"incidents.db", "checkpoints.db", "knowledge.json"} <= stored, stored
    logs = [caplog.text, *(repr(event) for event in events)]
    assert any(f"prom:{URL_SECRETS[1]}" not in r.getMessage() and "HTTP Request" in r.getMessage()
               for r in caplog.records)  # fmt: skip
    everything = {
        "API answers": "\n".join(answers),
        "files (SQLite, knowledge, proposals)": "\n".join(files),
        "logs": "\n".join(logs),
        "prompts": "\n".join(model.prompts()),
    }
    every_secret = [*secrets(), *URL_SECRETS, *LABEL_SECRETS, MODEL_SECRET]
    found = {where: leaks(text, every_secret) for where, text in everything.items()}
    assert found == {where: [] for where in everything}, found
