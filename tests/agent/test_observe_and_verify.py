"""Looking again at inconclusive evidence before escalating, and verification that waits for the page to
end: in-process workflow against the real HTTP stand-ins (agent_testkit)."""

from __future__ import annotations

import threading
import time
from typing import Any

from agent.domain.diagnosis import Diagnosis
from agent.domain.signals import Symptoms
from agent.intake.alertmanager import Alert
from agent.workflow.deps import Reasoning

from .agent_testkit import (
    Lab,
    WorkflowFactory,
    open_incident,
    pool_alert,
    standin_reasoning,
    standin_runbook,
    standin_runbooks,
)


def developing_reasoning(conclusive_from_look: int) -> tuple[Reasoning, list[int]]:
    """Unknown until the n-th look, then the stand-in diagnosis: symptoms that take time to show."""
    base = standin_reasoning()
    looks: list[int] = []

    def diagnose(symptoms: Symptoms, runbooks: list[Any], past: list[Any]) -> Diagnosis:
        looks.append(len(looks) + 1)
        if len(looks) < conclusive_from_look:
            return Diagnosis(evidence=["not yet"])
        return base.diagnose(symptoms, runbooks, past)

    return Reasoning(diagnose, base.investigate, base.symptoms_query), looks


def steps(incident: Any) -> list[str]:
    return [entry.step for entry in incident.timeline]


async def test_inconclusive_evidence_is_looked_at_again_then_acted_on(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    reasoning, looks = developing_reasoning(conclusive_from_look=3)
    wf = await workflows.build(reasoning=reasoning, OBSERVE_WINDOW_SECONDS=5, OBSERVE_INTERVAL_SECONDS=0.05)
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert incident.status == "resolved", incident.timeline
    assert looks == [1, 2, 3]
    assert steps(incident).count("gather") == 3 and steps(incident).count("observe") == 2
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion"]
    assert wf.metric("sre_agent_workflow_steps_total", step="observe") == 2


async def test_still_inconclusive_at_the_end_of_the_window_escalates_without_acting(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    reasoning, looks = developing_reasoning(conclusive_from_look=1000)
    wf = await workflows.build(reasoning=reasoning, OBSERVE_WINDOW_SECONDS=0.3, OBSERVE_INTERVAL_SECONDS=0.1)
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert incident.status == "escalated" and lab.calls == []
    assert 2 <= len(looks) <= 4
    assert "diagnosis unknown" in (incident.escalation_reason or "")
    assert f"after {len(looks)} looks" in (incident.escalation_reason or "")


async def test_an_alert_no_runbook_covers_is_escalated_at_once(lab: Lab, workflows: WorkflowFactory) -> None:
    wf = await workflows.build(OBSERVE_WINDOW_SECONDS=30, OBSERVE_INTERVAL_SECONDS=10)
    incident_id = await open_incident(wf, pool_alert(name="SomethingNobodyKnows"))
    await wf.runner.wait(incident_id, timeout=5)
    incident = await wf.store.get(incident_id)
    assert incident.status == "escalated" and "observe" not in steps(incident)


async def test_alerts_that_resolve_while_looking_end_the_looking(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    reasoning, _ = developing_reasoning(conclusive_from_look=1000)
    wf = await workflows.build(reasoning=reasoning, OBSERVE_WINDOW_SECONDS=30, OBSERVE_INTERVAL_SECONDS=0.2)
    incident_id = await open_incident(wf, pool_alert())
    resolved = pool_alert().model_dump(by_alias=True) | {"status": "resolved"}
    await wf.correlator.open_or_merge(
        source="alertmanager",
        service="target",
        group_key='{}:{service="target"}',
        alerts=[Alert.model_validate(resolved)],
    )
    await wf.runner.wait(incident_id, timeout=10)
    incident = await wf.store.get(incident_id)
    assert incident.status == "escalated" and lab.calls == []
    assert "alerts resolved before the evidence was conclusive" in (incident.escalation_reason or "")


async def test_a_fix_is_not_verified_while_the_paging_alert_still_fires(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    lab.alert_outlives_fix = True
    wf = await workflows.build(VERIFY_DEADLINE_SECONDS=0.3, MAX_ATTEMPTS=1)
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert incident.status == "failed"
    assert not incident.verification[-1].healthy
    assert incident.verification[-1].last_results["alerts still firing"] == ["TargetDbPoolExhausted"]
    # its own checks held, but a fix whose page never ends was never a mitigation
    assert incident.verification[-1].mitigated_at is None and incident.mitigated_at is None
    # the service's alerts as they fire now, by the catalog's ownership matchers
    assert 'ALERTS{alertstate="firing",service="target"}' in lab.prometheus_queries


async def test_an_alert_the_runbook_says_may_keep_firing_does_not_block_verification(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    lab.alert_outlives_fix = True
    runbooks = standin_runbooks()
    pool = runbooks[0]
    tolerant = pool.verification.model_copy(update={"may_keep_firing": ["TargetDbPoolExhausted"]})
    runbooks[0] = pool.model_copy(update={"verification": tolerant})
    wf = await workflows.build(runbooks=runbooks)
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert incident.status == "resolved", incident.timeline
    assert incident.verification[-1].last_results["alerts still firing"] == []  # not counted against it


async def test_workflows_beyond_the_concurrency_bound_wait_their_turn(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    lab.action_delay_seconds = 0.3
    wf = await workflows.build(MAX_CONCURRENT_INCIDENTS=1)
    first = await open_incident(wf, pool_alert("fp1"))
    second = (
        await wf.correlator.open_or_merge(
            source="alertmanager",
            service="other",
            group_key='{}:{service="other"}',
            alerts=[pool_alert("fp2")],
        )
    ).incident_id
    assert second is not None and (await wf.store.get(second)).status == "open"  # listed while it waits
    await wf.runner.wait(first)
    await wf.runner.wait(second)
    a, b = await wf.store.get(first), await wf.store.get(second)
    first_done = next(e.ts for e in a.timeline if e.step == "learn")
    second_began = next(e.ts for e in b.timeline if e.step == "gather")
    assert second_began >= first_done


async def test_mitigated_when_its_own_checks_held_on_windows_from_the_fix_confirmed_when_the_alert_stops(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    """The alert's rate window still holds the fault for a while after the fix: the incident is
    mitigated when the runbook's checks, read on ranges that start at the fix, held for the hold; the
    alert stopping later confirms it and ends verification."""
    fixed_at: list[float] = []
    lab.on_action = lambda name: fixed_at.append(time.monotonic())
    alert = "TargetDbPoolExhausted"
    lab.firing = lambda: [] if fixed_at and time.monotonic() - fixed_at[0] >= 1.5 else [alert]
    runbooks = standin_runbooks()
    pool = standin_runbook(
        "db-pool-exhaustion",
        "TargetDbPoolExhausted",
        [{"action": "remediate-db-pool-exhaustion", "risk": "low"}],
        promql=["healthy:errors$selector[$since]"],
    )
    longer = pool.verification.model_copy(update={"deadline_seconds": 5})
    runbooks[0] = pool.model_copy(update={"verification": longer})
    wf = await workflows.build(runbooks=runbooks, VERIFY_POLL_SECONDS=0.05)
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert incident.status == "resolved", incident.timeline
    verified = incident.verification[-1]
    assert verified.healthy and verified.mitigated_at is not None
    assert incident.mitigated_at == verified.mitigated_at
    # mitigated after the hold (0.2 s), confirmed once the alert stopped (1.5 s after the fix)
    assert (verified.finished_at - verified.mitigated_at).total_seconds() >= 0.8
    assert 0.2 <= verified.healthy_for_seconds < 1.0
    assert "on windows that start at the fix; its alerts stopped" in verified.detail
    checks = [q for q in lab.prometheus_queries if q.startswith("healthy:errors")]
    # before the action, the service's window; after it, ranges that start at the fix
    assert checks[0] == 'healthy:errors{job="target"}[10s]', checks[:3]
    assert 'healthy:errors{job="target"}[1s]' in checks[1:]


async def test_checks_that_break_while_the_alert_goes_on_start_the_hold_again(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    """A mitigation is the checks holding for the hold, unbroken: a relapse before the alert stops moves
    the mitigation time to the hold after it."""
    fixed_at: list[float] = []

    def relapse_once() -> None:
        lab.healthy = False
        threading.Timer(0.3, lambda: setattr(lab, "healthy", True)).start()

    def fixed(name: str) -> None:
        fixed_at.append(time.monotonic())
        threading.Timer(0.5, relapse_once).start()

    lab.on_action = fixed
    alert = "TargetDbPoolExhausted"
    lab.firing = lambda: [] if fixed_at and time.monotonic() - fixed_at[0] >= 1.5 else [alert]
    runbooks = standin_runbooks()
    longer = runbooks[0].verification.model_copy(update={"deadline_seconds": 5})
    runbooks[0] = runbooks[0].model_copy(update={"verification": longer})
    wf = await workflows.build(runbooks=runbooks, VERIFY_POLL_SECONDS=0.05)
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert incident.status == "resolved", incident.timeline
    verified = incident.verification[-1]
    assert verified.mitigated_at is not None
    # the relapse ended 0.8 s after the fix; the hold (0.2 s) counts from then, not from the fix
    since_start = (verified.mitigated_at - verified.started_at).total_seconds()
    assert since_start >= 0.9, since_start
