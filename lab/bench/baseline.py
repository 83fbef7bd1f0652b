"""What a team without the agent wires up: an Alertmanager receiver that restarts the paged service on
every page."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import datetime

import httpx
import uvicorn
from fastapi import FastAPI, Request
from pydantic import BaseModel

from lab.bench.groundtruth import FaultTruth
from lab.bench.scenario import LabClient, RunResult, floor_seconds, now, page_floor


class Notification(BaseModel):
    """What one Alertmanager webhook carried, as received (the detection tests read these)."""

    received_at: datetime
    status: str
    firing: list[str]
    resolved: list[str]


RESTART = {"target": "restart-target", "worker": "restart-worker"}


class RestartOnEveryPage:
    """An Alertmanager receiver on its own port; while armed, each firing notification restarts the
    service its alerts name (`service` label), through that service's action server.

    Armed or not, it records every notification, so it doubles as the detection tests' receiver.
    """

    def __init__(self, action_urls: dict[str, str], action_token: str, port: int) -> None:
        self.action_urls = action_urls  # service -> its action server
        self.action_token = action_token
        self.port = port
        self.armed = False
        self.pages: list[datetime] = []
        self.restarts: list[datetime] = []
        self.restarted: list[str] = []  # the restart actions, in order
        self.restart_seconds: list[float] = []  # the action server's own duration of each restart
        self.paged_alerts: set[str] = set()
        self.notifications: list[Notification] = []
        self._lock = threading.Lock()
        self._server = uvicorn.Server(
            uvicorn.Config(self._app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/webhook")
        async def webhook(request: Request) -> dict[str, str]:
            body = await request.json()
            alerts = body.get("alerts") or []
            with self._lock:
                self.notifications.append(
                    Notification(
                        received_at=now(),
                        status=str(body.get("status")),
                        firing=[a["labels"]["alertname"] for a in alerts if a.get("status") == "firing"],
                        resolved=[a["labels"]["alertname"] for a in alerts if a.get("status") == "resolved"],
                    )
                )
            if self.armed and body.get("status") == "firing":
                with self._lock:
                    self.pages.append(now())
                    self.paged_alerts.update(self.notifications[-1].firing)
                services = {
                    a.get("labels", {}).get("service", "") for a in alerts if a.get("status") == "firing"
                }
                for service in sorted(services & set(self.action_urls)):
                    threading.Thread(target=self._restart, args=(service,), daemon=True).start()
            return {"status": "ok"}

        return app

    def _restart(self, service: str) -> None:
        with self._lock:
            self.restarts.append(now())
            self.restarted.append(RESTART[service])
        headers = {"Authorization": f"Bearer {self.action_token}"}
        with contextlib.suppress(httpx.HTTPError, ValueError):
            response = httpx.post(
                f"{self.action_urls[service]}/action/{RESTART[service]}", headers=headers, json={}, timeout=60
            )
            seconds = float(response.json().get("duration_seconds") or 0.0)
            with self._lock:
                self.restart_seconds.append(seconds)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def reset(self) -> None:
        with self._lock:
            self.pages.clear()
            self.restarts.clear()
            self.restarted.clear()
            self.restart_seconds.clear()
            self.paged_alerts.clear()


def baseline_run(
    lab: LabClient,
    receiver: RestartOnEveryPage,
    fault: str,
    truth: FaultTruth,
    run: int,
    deadline: float,
    hold: float,
    floors: dict[str, float] | None = None,
) -> RunResult:
    """Inject, let the receiver restart on every page, and time recovery as the bench sees it from outside.

    Recovery is the page being over (target healthy, no alert firing) for `hold` seconds after a
    restart, timed at the end of the hold as the agent's verified recovery is, and judged the way the
    agent's claim of recovery is checked: the two times to mitigate mean the same thing.
    """
    result = RunResult(
        fault=fault, responder="restart-baseline", run=run, started_at=now(), service=truth.service
    )
    receiver.reset()
    receiver.armed = True
    attack_id = lab.inject(fault)
    healthy_since: float | None = None
    end = time.monotonic() + deadline
    try:
        while time.monotonic() < end:
            if receiver.restarts and lab.page_is_over(truth.service):
                healthy_since = healthy_since or time.monotonic()
                if time.monotonic() - healthy_since >= hold:
                    result.mitigated = True
                    result.seconds_to_mitigate = (now() - result.started_at).total_seconds()
                    break
            else:
                healthy_since = None
            time.sleep(1.0)
    finally:
        receiver.armed = False
        lab.stop(fault, attack_id)
    result.paged = bool(receiver.pages)
    if receiver.pages:
        result.seconds_to_page = (receiver.pages[0] - result.started_at).total_seconds()
        result.page_floor_seconds = page_floor(floors or {}, sorted(receiver.paged_alerts))
    if receiver.restarts:
        result.seconds_to_first_action = (receiver.restarts[0] - result.started_at).total_seconds()
    result.actions = list(receiver.restarted)
    if result.mitigated:
        fix = receiver.restart_seconds[-1] if receiver.restart_seconds else 0.0
        result.floor_seconds = floor_seconds(floors or {}, sorted(receiver.paged_alerts), fix, hold)
    result.wrong_actions = [a for a in result.actions if not truth.is_right_fix(a)]
    result.harmful_actions = [a for a in result.actions if truth.is_harmful(a)]
    result.diagnosis = None
    return result
