"""Several faults at once: scenarios the single-fault runs cannot show.

- one fault on each service at the same time (the agent must not mix them up or act across services);
- two faults of different fixes on one service, seconds apart (two problems, two incidents, two fixes);
- a fault injected while the agent is verifying its fix for another (the new one is the next problem,
  not a failure of the first).

Each fault is judged on its own: an incident of its service diagnosed as its expected runbook, resolved,
the page over at the end. An action is harmful when it is disruptive and fixes none of the faults active
on its service; an action on a service with no fault is cross-service.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from lab.bench.groundtruth import DISRUPTIVE_ACTIONS, FaultTruth
from lab.bench.observer import AgentObserver, IncidentView, surviving
from lab.bench.scenario import LabClient, RunResult, now

When = Literal["now", "verifying"]


class Step(BaseModel):
    fault: str
    after_seconds: float = Field(default=0.0, ge=0, description="after the previous step")
    when: When = Field(default="now", description="verifying: once the agent verifies a fix on its service")


class Scenario(BaseModel):
    name: str
    steps: list[Step] = Field(min_length=2)


SCENARIOS: list[Scenario] = [
    Scenario(name="one fault per service", steps=[Step(fault="db_pool"), Step(fault="job_poison")]),
    Scenario(
        name="two faults on one service",
        steps=[Step(fault="bad_deploy"), Step(fault="db_pool", after_seconds=5.0)],
    ),
    Scenario(
        name="a fault while another is verified",
        steps=[Step(fault="disk_fill"), Step(fault="dependency_outage", when="verifying")],
    ),
]


def scenario_run(
    lab: LabClient,
    observer: AgentObserver,
    scenario: Scenario,
    truths: dict[str, FaultTruth],
    run: int,
    deadline: float,
) -> list[RunResult]:
    """Inject the steps, wait for every incident to finish and the page to be over, score each fault."""
    started = now()
    injected: list[tuple[Step, datetime, str]] = []
    try:
        for step in scenario.steps:
            truth = truths[step.fault]
            time.sleep(step.after_seconds)
            if step.when == "verifying":

                def verifying(service: str = truth.service) -> bool:
                    return any(i.status == "verifying" for i in observer.incidents_since(started, service))

                lab.wait_for(verifying, timeout=deadline)
            injected.append((step, now(), lab.inject(step.fault)))
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            incidents = observer.incidents_since(started)
            if incidents and all(i.is_final for i in incidents) and lab.page_is_over():
                break
            time.sleep(1.0)
    finally:
        for step, _, attack_id in injected:
            lab.stop(step.fault, attack_id)
    incidents = [observer.incident(i.id) for i in observer.incidents_since(started)]
    over = lab.page_is_over()
    results = score(scenario, [(truths[s.fault], at) for s, at, _ in injected], incidents, run, over)
    if not over:
        why = lab.why_not_over()
        for result in results:
            result.note = f"the page went on: {why}"
    return results


def score(
    scenario: Scenario,
    faults: list[tuple[FaultTruth, datetime]],
    incidents: list[IncidentView],
    run: int,
    page_over: bool,
) -> list[RunResult]:
    services = {truth.service for truth, _ in faults}
    used: dict[str, int] = {}  # incident id -> index of the fault it is matched to
    results = []
    for index, (truth, at) in enumerate(faults):
        mine = [i for i in incidents if i.service == truth.service]
        result = RunResult(fault=truth.name, responder="agent", run=run, started_at=at, service=truth.service)
        result.scenario = scenario.name
        result.incidents = len(mine)
        # A merged incident's problem is handled by the one it was merged into: match that one, paged
        # when the first of them opened.
        handled = {i.id: surviving(i, incidents) for i in mine}
        match = next(
            (
                handled[i.id]
                for i in mine
                if handled[i.id].id not in used and handled[i.id].diagnosis_id == truth.expected_diagnosis
            ),
            None,
        )
        result.paged = match is not None or any(i.closed_at is None or i.closed_at >= at for i in mine)
        if match is not None:
            used[match.id] = index
            result.diagnosis, result.diagnosis_correct = match.diagnosis_id, True
            opened = min(i.opened_at for i in mine if handled[i.id].id == match.id)
            result.seconds_to_page = max(0.0, (opened - at).total_seconds())
            result.seconds_to_first_action = _since(at, match.first("execute"))
            if match.status == "resolved" and match.mitigated_at is not None and page_over:
                result.mitigated = True
                result.seconds_to_mitigate = _since(at, match.mitigated_at)
        else:
            result.diagnosis_correct = False
            result.diagnosis = next((i.diagnosis_id for i in mine), None)
        results.append(result)
    # Each incident's actions go to the fault it was matched to, the others to its service's first fault;
    # an action is judged against every fault active on its service.
    first_of: dict[str, int] = {}
    for index, (truth, _) in enumerate(faults):
        first_of.setdefault(truth.service, index)
    for incident in incidents:
        if incident.service not in services:
            if results:
                strays = incident.executed_actions()
                results[0].cross_service_actions += strays
                results[0].harmful_actions += strays
            continue
        result = results[used.get(incident.id, first_of[incident.service])]
        active = [t for t, _ in faults if t.service == incident.service]
        for action in incident.executed_actions():
            result.actions.append(action)
            if not any(t.is_right_fix(action) for t in active):
                result.wrong_actions.append(action)
                if action in DISRUPTIVE_ACTIONS or any(action in t.not_fixed_by for t in active):
                    result.harmful_actions.append(action)
    return results


def _since(at: datetime, when: datetime | None) -> float | None:
    return None if when is None else max(0.0, (when - at).total_seconds())
