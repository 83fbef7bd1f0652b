"""The storm's problems: one catalog service per alert group (an organisation with many services), and
the groups' notifications sent by the lab's own Python client. Not a measurement: `hey` measures
(`lab.bench.hey`); this only opens the incidents whose workflows run while it does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from lab.bench.storm_floor import PATH

TOKEN = "storm-token"


def notification(group: int, status: str) -> dict[str, Any]:
    labels = {"alertname": "HighLatency", "service": f"svc-{group}", "severity": "warning"}
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


def write_catalog(folder: Path, groups: int) -> None:
    """One service per group, as an organisation with many services has: its alerts are its own."""
    folder.mkdir(parents=True, exist_ok=True)
    for group in range(groups):
        (folder / f"svc-{group}.yml").write_text(
            f"service: svc-{group}\nowns: ['service=\"svc-{group}\"']\n"
            f"selector: '{{job=\"svc-{group}\"}}'\npacks: [standard, http]\n"
        )


async def page(url: str, payloads: list[dict[str, Any]], rate: float) -> dict[int, int]:
    """Sends `payloads` at `rate` per second; the answers by status (0: no answer). Not a measurement:
    the lab's own Python client, only to open the storm's problems."""
    codes: dict[int, int] = {}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=50)) as client:

        async def send(body: dict[str, Any]) -> None:
            try:
                status = (await client.post(f"{url}{PATH}", json=body, headers=headers)).status_code
            except httpx.HTTPError:
                status = 0
            codes[status] = codes.get(status, 0) + 1

        tasks = []
        for body in payloads:
            tasks.append(asyncio.create_task(send(body)))
            await asyncio.sleep(1 / rate)
        await asyncio.gather(*tasks)
    return codes
