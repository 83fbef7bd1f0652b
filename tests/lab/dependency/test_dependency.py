"""The inventory service as a real process: stock answers, health, and the hidden latency lever."""

from __future__ import annotations

import time

import httpx
import pytest

from lab.runner.ports import free_port

TOKEN = "inv-tok-1618"


@pytest.fixture(scope="module")
def inventory(session_servers) -> str:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {"DEPENDENCY_PORT": str(port), "DEPENDENCY_HOOK_TOKEN": TOKEN}
    return str(session_servers.spawn("lab.dependency", env, port, "/health").url)


def test_stock_and_health(inventory: str) -> None:
    stock = httpx.get(f"{inventory}/api/v1/stock/widget").json()
    assert stock["item"] == "widget" and isinstance(stock["available"], int) and stock["available"] >= 0
    assert httpx.get(f"{inventory}/api/v1/stock/widget").json() == stock
    assert httpx.get(f"{inventory}/health").json() == {"status": "ok"}


def test_latency_lever_needs_its_token_and_valid_seconds(inventory: str) -> None:
    url = f"{inventory}/_hooks/latency"
    assert httpx.post(url, json={"seconds": 1}).status_code == 401
    assert httpx.post(url, json={"seconds": 1}, headers={"Authorization": "Bearer nope"}).status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for bad in ({"seconds": -1}, {}, {"seconds": "slow"}):
        response = httpx.post(url, json=bad, headers=auth)
        assert response.status_code == 422 and response.json()["detail"]
    malformed = httpx.post(url, content=b"{", headers={**auth, "Content-Type": "application/json"})
    assert malformed.status_code == 422


def test_latency_slows_stock_answers_only(inventory: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.post(f"{inventory}/_hooks/latency", json={"seconds": 0.4}, headers=auth).status_code == 200
    try:
        started = time.monotonic()
        httpx.get(f"{inventory}/api/v1/stock/gadget")
        assert time.monotonic() - started >= 0.4
        started = time.monotonic()
        httpx.get(f"{inventory}/health")
        assert time.monotonic() - started < 0.3
    finally:
        httpx.post(f"{inventory}/_hooks/latency", json={"seconds": 0}, headers=auth)
    started = time.monotonic()
    httpx.get(f"{inventory}/api/v1/stock/gadget")
    assert time.monotonic() - started < 0.3


def test_lever_is_not_in_openapi(inventory: str) -> None:
    spec = httpx.get(f"{inventory}/openapi.json")
    assert sorted(spec.json()["paths"]) == ["/api/v1/stock/{item}", "/health"]
    assert "hook" not in spec.text.lower()
