"""`sre_agent_event_loop_lag_seconds`: a blocked loop shows in it, an idle one stays near zero."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from agent.telemetry.loop_lag import watch_event_loop_lag
from agent.telemetry.metrics import AgentMetrics

from .agent_testkit import LabUrls, ServedApp, agent_app, agent_settings

LAG = "sre_agent_event_loop_lag_seconds"


def lags(registry: CollectorRegistry, le: str) -> float:
    return registry.get_sample_value(f"{LAG}_bucket", {"le": le}) or 0.0


def test_a_blocked_loop_shows_in_the_agents_lag_histogram(
    tmp_path: Path, lab_urls: LabUrls, serve: Callable[[FastAPI], ServedApp]
) -> None:
    app = agent_app(agent_settings(tmp_path, lab_urls, EVENT_LOOP_LAG_INTERVAL_SECONDS=0.05), lab_urls)

    @app.post("/test/block")
    async def block() -> None:
        time.sleep(0.6)  # what a blocking call in a coroutine does to everything else on the loop

    served = serve(app)
    registry: CollectorRegistry = app.state.registry
    deadline = time.monotonic() + 10
    while lags(registry, "+Inf") < 3:  # the sampler runs from the app's start
        assert time.monotonic() < deadline, "no lag observed"
        time.sleep(0.02)
    late_before = lags(registry, "+Inf") - lags(registry, "0.25")

    assert httpx.post(f"{served.url}/test/block", timeout=10).status_code == 200
    while lags(registry, "+Inf") - lags(registry, "0.25") <= late_before:
        assert time.monotonic() < deadline, "the block was not observed"
        time.sleep(0.02)
    exposed = httpx.get(f"{served.url}/metrics", timeout=5).text
    assert f'{LAG}_bucket{{le="1.0"}}' in exposed


async def test_an_idle_loop_records_small_lags() -> None:
    registry = CollectorRegistry()
    metrics = AgentMetrics(registry)
    sampler = asyncio.create_task(watch_event_loop_lag(metrics.event_loop_lag.observe, 0.01))
    deadline = time.monotonic() + 10
    while lags(registry, "+Inf") < 30 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    sampler.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sampler
    observed = lags(registry, "+Inf")
    assert observed >= 30
    assert lags(registry, "0.01") >= 0.9 * observed  # under a millisecond each when the machine is quiet
    assert lags(registry, "0.25") == observed
