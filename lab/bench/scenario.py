"""One benchmark run: a healthy baseline, a fault (or none), the agent's response timed from outside.

The lab has several services (the target, the queue worker), each with its own action server and health
verdict. A run is judged on the incidents of the faulted service; an action the agent ran on another
service meanwhile is a cross-service action (never right).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

import httpx
from pydantic import BaseModel, Field

from lab.bench.groundtruth import FaultTruth
from lab.bench.observer import AgentObserver, IncidentView, surviving

Responder = Literal["agent", "restart-baseline"]
WORKER_CONSUMERS = 2  # the lab worker's consumers when it starts (lab/worker/config.py)
NO_FAULT = "no-fault"


class BenchError(RuntimeError):
    """The lab did not do what the benchmark asked (an injection refused, a stack that will not settle)."""


class LabEndpoints(BaseModel):
    chaos_url: str
    action_url: str
    target_url: str
    prometheus_url: str
    agent_url: str
    action_token: str
    admin_token: str
    chaos_token: str = ""
    agent_token: str = ""  # the agent's API_TOKEN: the baseline turns its kill switch
    worker_url: str = ""
    worker_action_url: str = ""

    def services(self) -> list[str]:
        """The services this lab runs (the worker only when its action server is there)."""
        return ["target", "worker"] if self.worker_action_url else ["target"]

    def action_server(self, service: str) -> tuple[str, str]:
        """A service's action server and the path of its health verdict."""
        if service == "worker":
            return self.worker_action_url, "verify-worker-health"
        return self.action_url, "verify-target-health"


class RunResult(BaseModel):
    """Seconds are measured from the injection; None means it never happened before the deadline."""

    fault: str
    responder: Responder
    run: int
    started_at: datetime
    service: str = "target"
    scenario: str = Field(default="", description="the several-faults scenario this run was part of")
    paged: bool = False
    seconds_to_page: float | None = None
    seconds_to_diagnosis: float | None = None
    seconds_to_first_action: float | None = None
    seconds_to_mitigate: float | None = None
    diagnosis: str | None = None
    diagnosis_correct: bool | None = None
    mitigated: bool = False
    actions: list[str] = Field(default_factory=list)
    wrong_actions: list[str] = Field(default_factory=list)
    harmful_actions: list[str] = Field(default_factory=list)
    cross_service_actions: list[str] = Field(
        default_factory=list, description="actions run on a service the fault was not on"
    )
    incidents: int = 0
    workflow_steps: int = 0
    llm_calls: int = 0
    llm_tokens: int = 0
    llm_answers: int = Field(default=0, description="diagnose steps where the LLM named a valid runbook id")
    llm_agreed: int = Field(default=0, description="of those, the answers equal to the deterministic one")
    llm_fallbacks: int = Field(default=0, description="diagnose steps that did not act on the LLM's answer")
    floor_seconds: float | None = None
    page_floor_seconds: float | None = Field(
        default=None, description="the fastest page the alerts that fired allow (detection's floor)"
    )
    note: str = ""


def _seconds(since: datetime, when: datetime | None) -> float | None:
    return None if when is None else max(0.0, (when - since).total_seconds())


class LabClient:
    """The lab operator's hands: chaos to inject and stop, the action server and admin API to clean up."""

    def __init__(self, endpoints: LabEndpoints, timeout: float = 10.0) -> None:
        self.endpoints = endpoints
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    def inject(self, fault: str) -> str:
        url = f"{self.endpoints.chaos_url}/api/v1/break/{fault}"
        response = self._http.post(url, json={}, headers=self._auth(self.endpoints.chaos_token))
        if (
            response.status_code == 502
        ):  # nothing was injected (a hook refused or was out of reach): once more
            time.sleep(2.0)
            response = self._http.post(url, json={}, headers=self._auth(self.endpoints.chaos_token))
        if response.status_code not in (200, 202):  # 202: active, a hook answered late (maybe partly in)
            raise BenchError(f"injecting {fault} failed: {response.status_code} {response.text[:300]}")
        return str(response.json()["attack_id"])

    def stop(self, fault: str, attack_id: str) -> None:
        url = f"{self.endpoints.chaos_url}/api/v1/break/{fault}/{attack_id}/stop"
        response = self._http.post(url, headers=self._auth(self.endpoints.chaos_token))
        if response.status_code not in (200, 409):
            response.raise_for_status()

    def run_action(self, name: str, service: str = "target", **params: object) -> bool:
        server, _ = self.endpoints.action_server(service)
        response = self._http.post(
            f"{server}/action/{name}", json=params, headers=self._auth(self.endpoints.action_token)
        )
        return response.status_code == 200 and response.json().get("status") == "succeeded"

    def healthy(self, service: str = "target") -> bool:
        """The service's action server's own health verdict."""
        return bool(self.verdict(service).get("is_healthy"))

    def verdict(self, service: str = "target") -> dict[str, object]:
        """The service's action server's health verdict as it answers it (`is_healthy`, `detail`...)."""
        server, path = self.endpoints.action_server(service)
        try:
            response = self._http.get(
                f"{server}/action/{path}", headers=self._auth(self.endpoints.action_token)
            )
            body = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            body = {}
        return body if isinstance(body, dict) else {}

    def why_not_over(self, service: str | None = None) -> str:
        """What keeps the page going, for a run's note: unhealthy verdicts and the alerts still firing."""
        reasons = []
        for name in [service] if service else self.endpoints.services():
            verdict = self.verdict(name)
            if not verdict.get("is_healthy"):
                detail = verdict.get("detail") or verdict.get("status") or "no verdict"
                reasons.append(f"{name} unhealthy ({detail})")
        firing = self.firing_alerts(service)
        if firing:
            reasons.append("firing: " + ", ".join(sorted(set(firing))))
        return "; ".join(reasons)

    def target_healthy(self) -> bool:
        return self.healthy("target")

    def services_healthy(self) -> bool:
        return all(self.healthy(service) for service in self.endpoints.services())

    def firing_alerts(self, service: str | None = None) -> list[str]:
        """The services' alerts firing now, of one service when given (the agent's own alerts, for
        people, are not a page)."""
        scope = f'service="{service}"' if service else 'service!="sre-agent"'
        try:
            query = {"query": f'ALERTS{{alertstate="firing",{scope}}}'}
            response = self._http.get(f"{self.endpoints.prometheus_url}/api/v1/query", params=query)
            return [r["metric"]["alertname"] for r in response.json()["data"]["result"]]
        except (httpx.HTTPError, KeyError, ValueError):
            return ["<prometheus unreachable>"]

    def reset_mitigations(self, service: str | None = None) -> None:
        """Undo what mitigations leave on (rate limit, fallback, reaper, extra consumers) so each run
        starts the same way; of one service when given."""
        headers = self._auth(self.endpoints.admin_token)
        base = self.endpoints.target_url
        target = service in (None, "target")
        for path, body in (
            ()
            if not target
            else (
                ("/admin/rate-limit", {"requests_per_second": None}),
                ("/admin/dependency/fallback", {"enabled": False}),
                ("/admin/pool/reclaim", {"enable_reaper": False}),
            )
        ):
            with contextlib.suppress(httpx.HTTPError):
                self._http.post(f"{base}{path}", json=body, headers=headers)
        if self.endpoints.worker_url and service in (None, "worker"):
            # Extra consumers drain a flood's backlog first: back to the usual count with the backlog
            # still there, the next run would start on a queue hours behind.
            self.wait_for(self._worker_drained, timeout=180, interval=1)
            with contextlib.suppress(httpx.HTTPError):
                self._http.post(
                    f"{self.endpoints.worker_url}/admin/consumers",
                    json={"consumers": WORKER_CONSUMERS},
                    headers=headers,
                )

    def _worker_drained(self, most: int = 20) -> bool:
        try:
            response = self._http.get(
                f"{self.endpoints.worker_url}/admin/queue", headers=self._auth(self.endpoints.admin_token)
            )
            return response.status_code == 200 and int(response.json().get("ready", most + 1)) <= most
        except (httpx.HTTPError, ValueError):
            return False

    def harmless_deploy(self) -> None:
        """A healthy release change, the kind of wobble a no-fault run must not page on."""
        release = f"{time.strftime('%Y.%m')}.{int(time.time()) % 900 + 100}"
        response = self._http.post(
            f"{self.endpoints.target_url}/admin/release/deploy",
            json={"release": release},
            headers=self._auth(self.endpoints.admin_token),
        )
        response.raise_for_status()

    def traffic_baseline_is_clean(self, tolerance: float = 1.3) -> bool:
        """The surge alert's baseline (a median of the recent past) is back near the current rate: an
        earlier surge no longer hides in it. No baseline yet counts as clean (the warm-up covers it)."""
        try:
            query = {
                "query": "max(instance:target_requests:rate_baseline) / max(instance:target_requests:rate)"
            }
            response = self._http.get(f"{self.endpoints.prometheus_url}/api/v1/query", params=query)
            result = response.json()["data"]["result"]
        except (httpx.HTTPError, KeyError, ValueError):
            return False
        return not result or float(result[0]["value"][1]) <= tolerance

    def page_is_over(self, service: str | None = None) -> bool:
        """What anyone outside can check: the service (every one, by default) says it is healthy and
        Prometheus fires none of its alerts."""
        healthy = self.healthy(service) if service else self.services_healthy()
        return healthy and not self.firing_alerts(service)

    def wait_for(self, condition: Callable[[], bool], timeout: float, interval: float = 1.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(interval)
        return False

    def wait_quiet(self, hold: float, timeout: float, service: str | None = None) -> bool:
        """The page over (for one service, when given), continuously for `hold` seconds."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            if self.page_is_over(service):
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= hold:
                    return True
            else:
                quiet_since = None
            time.sleep(1.0)
        return False


def page_floor(floors: dict[str, float], alerts: list[str]) -> float | None:
    """The fastest page the alerts that fired allow: scrape + evaluation + `for` + group_wait."""
    paged = [floors[a] for a in alerts if a in floors]
    return min(paged) if paged else None


def floor_seconds(
    floors: dict[str, float], alerts: list[str], fix_seconds: float, hold_seconds: float
) -> float | None:
    """What no responder can beat on this run: the fastest page, plus the fix's own duration, plus
    the verification hold."""
    page = page_floor(floors, alerts)
    return None if page is None else page + fix_seconds + hold_seconds


class FaultLog:
    """When each service had a fault in, across lanes that run side by side: an incident of another
    service is that lane's business while it has a fault in, and cross-service otherwise."""

    def __init__(self) -> None:
        self._windows: list[tuple[str, datetime, datetime | None]] = []
        self._lock = threading.Lock()

    def begin(self, service: str) -> int:
        with self._lock:
            self._windows.append((service, now(), None))
            return len(self._windows) - 1

    def end(self, index: int) -> None:
        with self._lock:
            service, start, _ = self._windows[index]
            self._windows[index] = (service, start, now())

    def faulted(self, service: str, at: datetime) -> bool:
        with self._lock:
            return any(
                s == service and start <= at and (end is None or at <= end) for s, start, end in self._windows
            )


def score_agent_run(
    result: RunResult,
    incidents: list[IncidentView],
    truth: FaultTruth | None,
    floors: dict[str, float] | None = None,
    faults: FaultLog | None = None,
) -> RunResult:
    """Fill a result from what the agent's API says happened, judged against the ground truth: the
    faulted service's incidents; an action on another service with no fault in (`faults`: another
    lane's) is cross-service (and wrong)."""
    if truth is not None:
        others = [
            i
            for i in incidents
            if i.service != truth.service and (faults is None or not faults.faulted(i.service, i.opened_at))
        ]
        result.cross_service_actions = [a for i in others for a in i.executed_actions()]
        incidents = [i for i in incidents if i.service == truth.service]
    result.incidents = len(incidents)
    result.paged = bool(incidents)
    if not incidents:
        return result
    paged = incidents[0]
    first = surviving(paged, incidents)  # merged into a later incident: that one handled the problem
    since = result.started_at
    result.seconds_to_page = _seconds(since, paged.opened_at)
    result.page_floor_seconds = page_floor(floors or {}, paged.alert_names())
    result.seconds_to_diagnosis = _seconds(since, first.first("diagnose"))
    result.seconds_to_first_action = _seconds(since, first.first("execute"))
    result.diagnosis = first.diagnosis_id
    result.workflow_steps = sum(len(i.timeline) for i in incidents)
    result.llm_calls = sum(int(e.data.get("llm_calls") or 0) for i in incidents for e in i.timeline)
    result.llm_tokens = sum(int(e.data.get("llm_tokens") or 0) for i in incidents for e in i.timeline)
    diagnoses = [e.data for i in incidents for e in i.timeline if e.step == "diagnose"]
    result.llm_answers = sum(d.get("llm_answer") is not None for d in diagnoses)
    result.llm_agreed = sum(d.get("llm_agreed") is True for d in diagnoses)
    result.llm_fallbacks = sum(d.get("llm_fallback") is not None for d in diagnoses)
    for incident in incidents:
        result.actions.extend(incident.executed_actions())
    if first.status == "resolved" and first.mitigated_at is not None:
        result.mitigated = True
        result.seconds_to_mitigate = _seconds(since, first.mitigated_at)
        result.floor_seconds = floor_seconds(
            floors or {}, first.alert_names(), first.fix_seconds(), first.held_seconds()
        )
    if truth is None:  # a no-fault run: anything the agent did is a false positive
        result.wrong_actions = list(result.actions)
        result.harmful_actions = list(result.actions)
        return result
    result.diagnosis_correct = result.diagnosis == truth.expected_diagnosis
    result.wrong_actions = [a for a in result.actions if not truth.is_right_fix(a)]
    result.wrong_actions += result.cross_service_actions
    result.harmful_actions = [a for a in result.actions if truth.is_harmful(a)]
    result.harmful_actions += result.cross_service_actions
    return result


def now() -> datetime:
    return datetime.now(UTC)


def agent_run(
    lab: LabClient,
    observer: AgentObserver,
    fault: str,
    truth: FaultTruth | None,
    run: int,
    deadline: float,
    floors: dict[str, float] | None = None,
    faults: FaultLog | None = None,
) -> RunResult:
    """Inject (unless `fault` is no-fault), wait for the agent's incident to finish or the deadline, stop."""
    service = truth.service if truth is not None else "all"
    result = RunResult(fault=fault, responder="agent", run=run, started_at=now(), service=service)
    attack_id = lab.inject(fault) if truth is not None else None
    try:

        def finished() -> bool:
            incidents = observer.incidents_since(result.started_at, service if truth else None)
            return bool(incidents) and all(i.is_final for i in incidents)

        lab.wait_for(finished, timeout=deadline)
        incidents = [observer.incident(i.id) for i in observer.incidents_since(result.started_at)]
        scored = score_agent_run(result, incidents, truth, floors, faults)
        over = (lambda: lab.page_is_over(truth.service)) if truth is not None else lab.page_is_over
        if scored.mitigated and not lab.wait_for(over, timeout=15):
            # the agent's word is not the judgement: the page must be over where anyone can see it
            scored.mitigated, scored.seconds_to_mitigate = False, None
            why = lab.why_not_over(truth.service if truth is not None else None)
            scored.note = f"the agent called it resolved, but the page went on: {why}"
        return scored
    finally:
        if attack_id is not None:
            lab.stop(fault, attack_id)
