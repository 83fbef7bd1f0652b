"""Who may call the agent: it refuses to start open, checks the token before it reads a body, takes only
JSON writes, refuses cross-site requests and foreign Host headers, and can guard its reads."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from agent.config import Settings, UnauthenticatedRefused

from .agent_testkit import FIRING, ServedApp, agent_app, agent_settings

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {"WEBHOOK_TOKEN": SecretStr("hook-secret"), "API_TOKEN": SecretStr("api-secret")}
API = {"Authorization": "Bearer api-secret"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def agent(served_agent: Callable[..., ServedApp]) -> Iterator[Callable[..., httpx.Client]]:
    """An httpx client on a served agent (real port, lifespan, SQLite); tokens set unless given."""
    clients: list[httpx.Client] = []

    def start(**overrides: Any) -> httpx.Client:
        client = httpx.Client(base_url=served_agent(**(TOKENS | overrides)).url, timeout=10)
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.close()


def test_the_app_factory_refuses_empty_write_tokens(tmp_path: Path) -> None:
    with pytest.raises(UnauthenticatedRefused) as refused:
        agent_app(agent_settings(tmp_path, None, ALLOW_UNAUTHENTICATED=False), None)
    reason = str(refused.value)
    assert "WEBHOOK_TOKEN and API_TOKEN are empty" in reason and "ALLOW_UNAUTHENTICATED=true" in reason
    with pytest.raises(UnauthenticatedRefused, match="API_TOKEN is empty"):
        settings = agent_settings(tmp_path, None, ALLOW_UNAUTHENTICATED=False, WEBHOOK_TOKEN=SecretStr("h"))
        agent_app(settings, None)
    agent_app(agent_settings(tmp_path, None, ALLOW_UNAUTHENTICATED=False, **TOKENS), None)


def test_python_m_agent_without_tokens_exits_non_zero_with_the_reason(tmp_path: Path) -> None:
    env = {**os.environ, "WEBHOOK_TOKEN": "", "API_TOKEN": "", "AGENT_DATA_DIR": str(tmp_path / "data")}
    env.pop("ALLOW_UNAUTHENTICATED", None)
    env["PYTHONPATH"] = str(ROOT)  # run from an empty folder: no `.env` of the checkout's
    done = subprocess.run(
        [sys.executable, "-m", "agent"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "refusing to start: WEBHOOK_TOKEN and API_TOKEN are empty" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was opened


def test_the_development_setting_starts_open_and_says_so(agent: Callable[..., httpx.Client]) -> None:
    client = agent(WEBHOOK_TOKEN=SecretStr(""), API_TOKEN=SecretStr(""))  # the kit sets the dev setting
    access = client.get("/health").json()["access"]
    assert access["open_routes"] == ["POST /webhooks/alertmanager", "POST /agent/*", "GET /agent/*"]
    assert "ALLOW_UNAUTHENTICATED" in access["warning"]
    assert client.get("/agent/status").json()["access"] == access
    assert client.post("/agent/trigger", json={"service": "target"}).status_code == 202
    guarded = agent().get("/health").json()["access"]
    assert guarded == {"open_routes": ["GET /agent/*"], "warning": ""}


def test_anonymous_writes_are_refused_before_the_body_is_read(agent: Callable[..., httpx.Client]) -> None:
    client = agent()
    trigger = client.post("/agent/trigger", json={"service": "target"})
    assert trigger.status_code == 401 and trigger.headers["www-authenticate"] == "Bearer"
    assert client.post("/agent/incidents/nope/approve").status_code == 401
    assert client.post("/agent/kill-switch", json={"enabled": True}).status_code == 401
    for path in ("/agent/trigger", "/webhooks/alertmanager", "/agent/incidents/x/resolution"):
        for auth in ({}, {"Authorization": "Bearer nope"}):
            malformed = client.post(path, content=b'{"service": ', headers={**JSON, **auth})
            assert malformed.status_code == 401, path  # was a 422: the body parsed for anyone
    assert client.get("/agent/status").json()["kill_switch_engaged"] is False
    assert client.post("/agent/trigger", json={"service": "target"}, headers=API).status_code == 202


def test_writes_take_only_json(agent: Callable[..., httpx.Client]) -> None:
    client = agent()
    form = client.post("/agent/trigger", content=b"service=target", headers={**API, **FORM})
    assert form.status_code == 415 and "application/json" in form.json()["detail"]
    assert client.post("/agent/incidents/x/approve", headers={**API, **FORM}).status_code == 415
    plain = client.post(
        "/agent/kill-switch", content=b'{"enabled": true}', headers={**API, "Content-Type": "text/plain"}
    )
    assert plain.status_code == 415
    assert client.post("/agent/trigger", content=b"x", headers=API).status_code == 415  # a body, no type
    assert client.post("/agent/incidents/x/approve", headers=API).status_code == 404  # no body: fine
    assert client.post("/agent/trigger", content=b"service=target", headers=FORM).status_code == 401
    json_charset = {**API, "Content-Type": "application/json; charset=utf-8"}
    assert (
        client.post("/agent/trigger", content=b'{"service": "target"}', headers=json_charset).status_code
        == 202
    )


def test_cross_site_requests_are_refused_even_when_the_routes_are_open(
    agent: Callable[..., httpx.Client],
) -> None:
    client = agent(WEBHOOK_TOKEN=SecretStr(""), API_TOKEN=SecretStr(""))
    foreign = client.post("/agent/trigger", headers={**FORM, "Origin": "http://evil.example"})
    assert foreign.status_code == 403 and "cross-site" in foreign.json()["detail"]
    assert client.post("/agent/incidents/x/approve", headers={"Origin": "null"}).status_code == 403
    assert client.post("/agent/trigger", headers=FORM).status_code == 415
    same = {"Origin": str(client.base_url).rstrip("/")}
    assert client.post("/agent/trigger", json={"service": "target"}, headers=same).status_code == 202
    assert client.get("/agent/incidents", headers={"Origin": "http://evil.example"}).status_code == 200


def test_foreign_host_headers_are_refused(agent: Callable[..., httpx.Client]) -> None:
    client = agent(ALLOWED_HOSTS=["agent.example.com"])
    assert client.get("/health").status_code == 400
    assert client.get("/health", headers={"Host": "agent.example.com"}).status_code == 200
    # The development default answers localhost names only (a page rebinding its name to 127.0.0.1).
    dev = agent(ALLOWED_HOSTS=[])
    assert dev.get("/health", headers={"Host": "evil.example:9001"}).status_code == 400
    assert dev.get("/health", headers={"Host": "localhost:9001"}).status_code == 200


def test_the_allowed_hosts_defaults_and_the_env_list() -> None:
    production = Settings(_env_file=None, **TOKENS)  # type: ignore[call-arg]
    assert production.allowed_hosts() == ["*"]
    development = Settings(_env_file=None, ALLOW_UNAUTHENTICATED=True)  # type: ignore[call-arg]
    assert development.allowed_hosts() == ["localhost", "127.0.0.1"]
    listed = Settings(_env_file=None, ALLOWED_HOSTS="agent.example.com, *.internal")  # type: ignore[call-arg]
    assert listed.allowed_hosts() == ["agent.example.com", "*.internal"]


def test_read_token_guards_the_reads_but_not_health_or_metrics(agent: Callable[..., httpx.Client]) -> None:
    client = agent(READ_TOKEN=SecretStr("read-secret"))
    for path in (
        "/agent/incidents",
        "/agent/status",
        "/agent/knowledge/search?q=pool",
        "/agent/runbooks/proposed",
        "/agent/runbooks/db-pool-exhaustion.md",
    ):
        assert client.get(path).status_code == 401, path
    assert client.get("/agent/incidents", headers={"Authorization": "Bearer read-secret"}).status_code == 200
    assert client.get("/agent/incidents", headers=API).status_code == 200
    reader = {"Authorization": "Bearer read-secret"}
    assert client.post("/agent/trigger", json={"service": "target"}, headers=reader).status_code == 401
    assert client.get("/health").status_code == 200 and client.get("/metrics").status_code == 200
    assert client.get("/health").json()["access"]["open_routes"] == []


def test_refused_webhooks_are_counted(agent: Callable[..., httpx.Client]) -> None:
    client = agent()
    assert client.post("/webhooks/alertmanager", json=FIRING).status_code == 401
    hook = {"Authorization": "Bearer hook-secret"}
    assert client.post("/webhooks/alertmanager", content=b"{}", headers={**hook, **FORM}).status_code == 415
    metrics = client.get("/metrics").text
    assert 'sre_agent_webhook_requests_total{result="unauthorized"} 1.0' in metrics
    assert 'sre_agent_webhook_requests_total{result="invalid"} 1.0' in metrics
