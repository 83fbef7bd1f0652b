"""The merge flood: the webhook's latency while an open incident merges a flood of notifications and
readers page through the history, against a twin agent's beside it, on real agent processes.

Alertmanager waits for the webhook's answer, so the event loop that answers it must never be busy
with the incident store or the flood's parsing: before, an incident merging 60 notifications of 500 new
alerts grew to 16.7 MB, rewritten on the loop at every merge, and four readers of `?limit=500` pushed
webhook answers from milliseconds to seconds. This is a behaviour, not a speed target: the loaded p99
must stay within twice the p99 of a twin (same configuration, same history, same open incident, no
flood and no readers) probed at the same moments. The twin shares the machine's cores, so a busy
machine slows both alike and the bound keeps up with it; what it does not share is the flood's work on
the agent's own event loop, which is what is measured. The agent's own idle p99, before the flood, is
reported too.

Both agents must run in approval mode: the paged incident then waits for a human, open and diagnosed,
while the flood (alerts its runbook explains) merges into one of them. Their histories are seeded with
past incidents before they start, so a reader's page is full. Used by `python -m lab reliability` (the
"merge flood" row) and by the agent's tests; a run takes about ten seconds.
"""

from __future__ import annotations

import json
import queue
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from agent.domain.diagnosis import Diagnosis
from agent.incidents.models import ActionRecord, Incident, TimelineEntry, utcnow
from agent.incidents.sqlite import SqliteHistory
from lab.agent_process import PAGE
from lab.standins import notification

FLOOD_NOTIFICATIONS = 60
ALERTS_PER_NOTIFICATION = 500
FLOOD_GAP_SECONDS = 0.1  # 10 notifications a second: 5,000 new alerts a second into one incident
READERS = 4
PROBES = 100  # idle; loaded, at least as many and for as long as the flood lasts
PROBE_GAP_SECONDS = 0.02  # 50 webhook requests a second to each agent, beside the flood
POLL_SECONDS = 0.05  # each reader asks for a full page 20 times a second
LOADED_OVER_TWIN = 2.0  # the bound: the loaded p99 within twice the twin's


@dataclass
class FloodResult:
    idle_p99: float  # the agent's, before the flood
    loaded_p99: float  # the agent's, during the flood
    twin_p99: float  # the twin's, probed at the same moments as `loaded_p99`
    probes: int
    flood_accepted: int
    reads: int
    incident_alerts: int
    alerts_dropped: int
    codes: Counter[int] = field(default_factory=Counter)  # both agents' answers to the probes

    @property
    def bound(self) -> float:
        return LOADED_OVER_TWIN * self.twin_p99

    @property
    def ratio(self) -> float:
        return self.loaded_p99 / self.twin_p99 if self.twin_p99 else float("inf")

    @property
    def within_bound(self) -> bool:
        return self.loaded_p99 <= self.bound

    def summary(self) -> str:
        return (
            f"webhook p99 idle {self.idle_p99 * 1000:.1f} ms; with the flood and {READERS} readers "
            f"{self.loaded_p99 * 1000:.1f} ms, its idle twin beside it {self.twin_p99 * 1000:.1f} ms "
            f"({self.ratio:.2f}x, bound {LOADED_OVER_TWIN:g}x: {self.bound * 1000:.0f} ms); "
            f"{self.flood_accepted} notifications of {ALERTS_PER_NOTIFICATION} new alerts merged, "
            f"{self.reads} pages of {PAGE} read; the incident kept {self.incident_alerts} alerts and counted "
            f"{self.alerts_dropped} dropped"
        )


def seed_history(db: Path, count: int = 2 * PAGE, timeline: int = 40) -> None:
    """Past incidents, each with a long timeline and a few actions, written before the agent starts."""
    history = SqliteHistory(db)
    try:
        for n in range(count):
            at = utcnow() - timedelta(hours=count - n)
            history.save(
                Incident(
                    id=f"inc-seed-{n:05d}",
                    status="resolved",
                    step="done",
                    service="target",
                    diagnosis=Diagnosis(diagnosis_id="db-pool-exhaustion", confidence=0.9),
                    actions=[
                        ActionRecord(
                            key=f"seed-{n}-{a}", action="remediate-db-pool-exhaustion", status="succeeded"
                        )
                        for a in range(3)
                    ],
                    timeline=[TimelineEntry(step="gather", message="looked " * 20) for _ in range(timeline)],
                    opened_at=at,
                    closed_at=at + timedelta(minutes=5),
                )
            )
    finally:
        history.close()


def run_flood(
    url: str, twin_url: str, alert: dict[str, Any], webhook_token: str, api_token: str = ""
) -> FloodResult:
    """Pages both agents with `alert`, waits for their incidents to wait for approval, then measures:
    both webhooks probed together, idle, then while the agent at `url` takes the flood and the readers.
    The flood and the readers run in a process of their own (this module's `__main__`): sharing this
    one's GIL, their work would be measured as the agent's latency."""
    hook = {"Authorization": f"Bearer {webhook_token}", "Content-Type": "application/json"}
    read = {"Authorization": f"Bearer {api_token}"} if api_token else {}
    page = json.dumps(notification([alert])).encode()
    with (
        httpx.Client(base_url=url, timeout=30) as client,
        httpx.Client(base_url=twin_url, timeout=30) as twin,
    ):
        for each in (client, twin):
            assert each.post("/webhooks/alertmanager", content=page, headers=hook).status_code == 202
        incident_id = _waiting_for_approval(client, read)
        _waiting_for_approval(twin, read)
        probe = Probe(client, twin, page, hook)
        idle, _ = probe.run()  # re-sends of the page: answered, nothing to merge
        with LoadProcess(url, alert, hook, read) as load:
            loaded, beside = probe.run(until=load.flood_over)
            accepted, reads = load.finish()
        incident = _merged(client, read, incident_id, accepted)
    return FloodResult(
        idle_p99=_p99(idle),
        loaded_p99=_p99(loaded),
        twin_p99=_p99(beside),
        probes=len(loaded),
        flood_accepted=accepted,
        reads=reads,
        incident_alerts=len(incident["alerts"]),
        alerts_dropped=int(incident["alerts_dropped"]),
        codes=probe.codes,
    )


class Probe:
    """Both agents' webhooks asked at the same moments: each round sends the page to both at once (a
    thread each) and waits for both answers, then PROBE_GAP_SECONDS. The same schedule, so whatever
    else the machine does at a moment lands on both measurements."""

    def __init__(self, agent: httpx.Client, twin: httpx.Client, body: bytes, headers: dict[str, str]) -> None:
        self._clients = (agent, twin)
        self._body, self._headers = body, headers
        self.codes: Counter[int] = Counter()

    def run(self, until: Callable[[], bool] = lambda: True) -> tuple[list[float], list[float]]:
        """PROBES rounds, and more until `until()` says the load is over: the agent's latencies and the
        twin's."""
        agent: list[float] = []
        twin: list[float] = []
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="probe") as pool:
            while len(agent) < PROBES or not until():
                (first, code), (second, twin_code) = pool.map(self._one, self._clients)
                agent.append(first)
                twin.append(second)
                self.codes.update((code, twin_code))
                time.sleep(PROBE_GAP_SECONDS)
        return agent, twin

    def _one(self, client: httpx.Client) -> tuple[float, int]:
        started = time.perf_counter()
        answer = client.post("/webhooks/alertmanager", content=self._body, headers=self._headers)
        return time.perf_counter() - started, answer.status_code


class LoadProcess:
    """`python -m lab.bench.merge_flood`: the flood and the readers, started on entering (once its
    notifications are built); it says `accepted N` when the flood is over, and `reads N` after `finish`."""

    def __init__(self, url: str, alert: dict[str, Any], hook: dict[str, str], read: dict[str, str]) -> None:
        self._args = json.dumps({"url": url, "alert": alert, "hook": hook, "read": read})
        self._lines: queue.Queue[str] = queue.Queue()
        self._accepted: int | None = None

    def __enter__(self) -> LoadProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "lab.bench.merge_flood", self._args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        if self._next(60) != "ready":
            raise RuntimeError("the load process did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait(10)

    def flood_over(self) -> bool:
        if self._accepted is None and not self._lines.empty():
            self._accepted = int(self._next(1).split()[1])
        return self._accepted is not None or self._process.poll() is not None

    def finish(self) -> tuple[int, int]:
        """Waits for the flood's end, stops the readers; (notifications accepted, pages read)."""
        if self._accepted is None:
            self._accepted = int(self._next(120).split()[1])
        assert self._process.stdin is not None
        self._process.stdin.close()  # the readers' signal to stop
        reads = int(self._next(60).split()[1])
        return self._accepted, reads

    def _pump(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line.strip())

    def _next(self, timeout: float) -> str:
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError("the load process went quiet") from None


def _load(url: str, alert: dict[str, Any], hook: dict[str, str], read: dict[str, str]) -> None:
    """The load process's work: see LoadProcess."""
    flood = [
        json.dumps(notification([_copy(alert, f"flood-{n}-{i}") for i in range(ALERTS_PER_NOTIFICATION)]))
        for n in range(FLOOD_NOTIFICATIONS)
    ]
    accepted: list[int] = []
    reads: list[int] = []
    readers_done = threading.Event()
    flooder = threading.Thread(target=_flood, args=(url, flood, hook, accepted))
    readers = [threading.Thread(target=_read, args=(url, read, readers_done, reads)) for _ in range(READERS)]
    print("ready", flush=True)
    for worker in [flooder, *readers]:
        worker.start()
    flooder.join(120)
    print(f"accepted {len(accepted)}", flush=True)
    sys.stdin.read()  # until the parent closes it
    readers_done.set()
    for reader in readers:
        reader.join(30)
    print(f"reads {len(reads)}", flush=True)


def _copy(alert: dict[str, Any], fingerprint: str) -> dict[str, Any]:
    return {**alert, "fingerprint": fingerprint, "labels": {**alert["labels"], "instance": fingerprint}}


def _waiting_for_approval(client: httpx.Client, headers: dict[str, str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = client.get("/agent/incidents", params={"status": "awaiting_approval"}, headers=headers).json()
        if found["incidents"]:
            return str(found["incidents"][0]["id"])
        time.sleep(0.1)
    raise RuntimeError("the page's incident did not wait for approval (is the agent in approval mode?)")


def _flood(url: str, bodies: list[str], headers: dict[str, str], accepted: list[int]) -> None:
    """Each notification until it is accepted (a 503 asks for a re-send; Alertmanager would retry)."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for body in bodies:
            for _ in range(100):
                code = client.post("/webhooks/alertmanager", content=body, headers=headers).status_code
                if code == 202:
                    accepted.append(code)
                    break
                time.sleep(0.05)
            time.sleep(FLOOD_GAP_SECONDS)


def _read(url: str, headers: dict[str, str], done: threading.Event, reads: list[int]) -> None:
    """A full page of the history every POLL_SECONDS (the bytes only: parsing here would slow the
    probes, which share this process)."""
    with httpx.Client(base_url=url, timeout=30, headers=headers) as client:
        while not done.wait(POLL_SECONDS):
            answer = client.get("/agent/incidents", params={"limit": PAGE})
            reads.append(len(answer.content))


def _merged(
    client: httpx.Client, headers: dict[str, str], incident_id: str, accepted: int, timeout: float = 60
) -> dict[str, Any]:
    """The incident once every accepted notification was merged (its alerts kept and dropped add up)."""
    expected = 1 + accepted * ALERTS_PER_NOTIFICATION
    deadline = time.monotonic() + timeout
    while True:
        incident = dict(client.get(f"/agent/incidents/{incident_id}", headers=headers).json())
        if len(incident["alerts"]) + incident["alerts_dropped"] >= expected or time.monotonic() > deadline:
            return incident
        time.sleep(0.1)


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[int(0.99 * (len(ordered) - 1))] if ordered else statistics.fmean(samples or [0.0])


if __name__ == "__main__":
    _load(**json.loads(sys.argv[1]))
