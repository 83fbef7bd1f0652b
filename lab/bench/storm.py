"""`python -m lab storm`: an Alertmanager webhook storm against a real agent process.

Thousands of notifications at a rising rate: many groups, each re-sent (duplicates, repeat_interval
re-sends) and later resolved. It prints what the agent accepted per second, the webhook's latency
p50/p99, the incidents opened (must equal the distinct problems) and the agent's memory before and
after. The agent runs in dry-run against unreachable services: this measures intake, not remediation.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from rich.console import Console
from rich.table import Table

from lab.agent_process import all_incidents
from lab.runner.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "storm-token"


def notification(group: int, status: str) -> dict[str, Any]:
    labels = {"alertname": "TargetHighLatency", "service": f"svc-{group}", "severity": "warning"}
    return {
        "version": "4",
        "status": status,
        "receiver": "sre-agent",
        "groupKey": f'{{}}:{{service="svc-{group}"}}',
        "groupLabels": {"service": f"svc-{group}"},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": "p95 latency high"},
                "startsAt": "2026-11-24T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-24T10:05:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": f"fp-{group}",
            }
        ],
    }


async def storm(
    url: str, groups: int, resends: int, rates: list[float]
) -> tuple[list[float], dict[int, int]]:
    """Sends every group's firing notification `resends` times, then its resolved one, at rising rates."""
    payloads = [notification(g, "firing") for _ in range(resends) for g in range(groups)]
    payloads += [notification(g, "resolved") for g in range(groups)]
    latencies: list[float] = []
    codes: dict[int, int] = {}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=50)) as client:

        async def send(body: dict[str, Any]) -> None:
            start = time.perf_counter()
            try:
                response = await client.post(f"{url}/webhooks/alertmanager", json=body, headers=headers)
                codes[response.status_code] = codes.get(response.status_code, 0) + 1
            except httpx.HTTPError:
                codes[0] = codes.get(0, 0) + 1
            latencies.append(time.perf_counter() - start)

        chunk = max(1, len(payloads) // len(rates))
        tasks = []
        for index, body in enumerate(payloads):
            rate = rates[min(index // chunk, len(rates) - 1)]
            tasks.append(asyncio.create_task(send(body)))
            await asyncio.sleep(1 / rate)
        await asyncio.gather(*tasks)
    return latencies, codes


def _idle_cpu_seconds_per_minute(process: psutil.Process, seconds: float) -> float:
    """CPU the agent burns doing nothing (no incident, no webhook) for `seconds`, scaled to a minute."""
    if seconds <= 0:
        return 0.0
    before, began = process.cpu_times(), time.perf_counter()
    time.sleep(seconds)
    after, elapsed = process.cpu_times(), time.perf_counter() - began
    used = (after.user - before.user) + (after.system - before.system)
    return used / elapsed * 60


def run(groups: int, resends: int, rates: list[float], idle_seconds: float = 20.0) -> int:
    console = Console()
    data_dir = Path(tempfile.mkdtemp(prefix="storm-"))
    port, dead = free_port(), f"http://127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "PORT": str(port),
        "WEBHOOK_TOKEN": TOKEN,
        "API_TOKEN": secrets.token_urlsafe(32),  # unused: the storm only pages
        "AGENT_MODE": "dry-run",
        "AGENT_DATA_DIR": str(data_dir),
        "VECTOR_STORE_PATH": str(data_dir / "knowledge.json"),
        "RUNBOOKS_PATH": str(ROOT / "runbooks"),
        "EMBEDDING_MODEL": os.environ.get("EMBEDDING_MODEL", ""),  # lexical unless asked: the footprint below
        "PROPOSED_RUNBOOKS_PATH": str(data_dir / "proposed-runbooks"),
        "TARGET_API_BASE_URL": dead,
        "ACTION_SERVER_URL": dead,
        "PROMETHEUS_URL": dead,
        "HTTP_TIMEOUT_SECONDS": "0.5",
        "INTAKE_QUEUE_SIZE": "1000",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "agent"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        startup = time.perf_counter() - started
        agent = psutil.Process(process.pid)
        idle_cpu_per_minute = _idle_cpu_seconds_per_minute(agent, idle_seconds)
        rss_before = agent.memory_info().rss
        began = time.perf_counter()
        latencies, codes = asyncio.run(storm(url, groups, resends, rates))
        elapsed = time.perf_counter() - began
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            incidents = all_incidents(url, timeout=10)
            if len(incidents) >= groups:
                break
            time.sleep(1)
        rss_after = agent.memory_info().rss
    finally:
        process.terminate()
        process.wait(10)
    ordered = sorted(latencies)
    table = Table(title=f"webhook storm: {len(latencies)} notifications, {groups} problems")
    for column in ("measure", "value"):
        table.add_column(column)
    rows = [
        ("agent start-up", f"{startup:.2f} s"),
        (f"agent idle CPU (over {idle_seconds:g} s)", f"{idle_cpu_per_minute:.2f} CPU-seconds per minute"),
        ("rates (notifications/s)", ", ".join(f"{r:g}" for r in rates)),
        ("accepted per second", f"{codes.get(202, 0) / elapsed:.0f}"),
        ("answers", ", ".join(f"{code}: {n}" for code, n in sorted(codes.items()))),
        (
            "latency p50 / p99",
            f"{statistics.median(ordered) * 1000:.1f} / "
            f"{ordered[int(0.99 * (len(ordered) - 1))] * 1000:.1f} ms",
        ),
        ("incidents opened / distinct problems", f"{len(incidents)} / {groups}"),
        ("agent RSS idle / after the storm", f"{rss_before / 2**20:.0f} / {rss_after / 2**20:.0f} MiB"),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    return 0 if len(incidents) == groups else 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--groups", type=int, default=200, help="alert groups, at most 500")
    parser.add_argument("--resends", type=int, default=5, help="firing notifications per group")
    parser.add_argument("--rates", default="50,100,200,400", help="rising send rates, notifications/s")
    parser.add_argument(
        "--idle-seconds", type=float, default=20.0, help="idle period measured before the storm"
    )
