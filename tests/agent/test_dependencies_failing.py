"""What the agent does when the parts around it fail in the middle of an incident: Prometheus, the
target's API, the action server, the knowledge store. It must finish the incident, say what it could
not see, and never act twice on one problem because a part went quiet."""

from __future__ import annotations

from typing import Any

from agent.knowledge.store import IncidentMemory
from lab.runner.ports import free_port

from .agent_testkit import Lab, WorkflowFactory, open_incident, pool_alert, standin_runbook

DEAD = f"http://127.0.0.1:{free_port()}"  # nothing listens there


async def handled(wf: Any) -> Any:
    """A pool page through the whole workflow; the incident as it ended."""
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    return await wf.store.get(incident_id)


async def test_prometheus_lost_after_the_fix_is_verified_by_the_target_health(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    """The action server's verdict is what an engineer would look at with Prometheus down; the fix that
    worked is not followed by the runbook's next approach."""
    lab.on_action = lambda name: lab.down.add("prometheus")
    wf = await workflows.build()
    incident = await handled(wf)
    assert incident.status == "resolved", incident.timeline
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion"]
    final = incident.verification[-1]
    assert final.healthy and final.method == "health"
    assert final.last_results["prometheus"] and "Prometheus unavailable" in final.detail


async def test_prometheus_down_for_the_whole_incident_still_fixes_from_the_target(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    wf = await workflows.build(PROMETHEUS_URL=DEAD)
    incident = await handled(wf)
    assert incident.status == "resolved", incident.timeline
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion"]
    assert incident.verification[-1].method == "health"
    gathered = next(e for e in incident.timeline if e.step == "gather")
    assert "unreachable" in str(gathered.data) or "prometheus" in gathered.message.lower()


async def test_an_unhealthy_target_with_prometheus_down_is_not_called_verified(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    """The fallback is a second witness, not a pass: a fix that did not work still fails verification."""
    lab.fix_action = None
    lab.on_action = lambda name: lab.down.add("prometheus")
    wf = await workflows.build(MAX_ATTEMPTS=1)
    incident = await handled(wf)
    assert incident.status == "failed"
    assert len(lab.calls) == 1
    assert not incident.verification[-1].healthy


async def test_a_verification_query_prometheus_rejects_is_no_reason_to_ask_the_target(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    """A broken runbook query is the runbook's problem, not an outage: no fallback, nothing verified."""
    actions = [{"action": "remediate-db-pool-exhaustion", "risk": "low"}]
    broken = standin_runbook("db-pool-exhaustion", "TargetDbPoolExhausted", actions, promql=["bad:query"])
    wf = await workflows.build(runbooks=[broken], MAX_ATTEMPTS=1)
    incident = await handled(wf)
    assert incident.status == "failed" and lab.healthy
    final = incident.verification[-1]
    assert not final.healthy and final.method == "promql"
    assert final.last_results["bad:query"] == "parse error"


async def test_the_target_api_down_during_gather_is_recorded_and_the_page_still_handled(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    lab.down.add("target")
    lab.on_action = lambda name: lab.down.discard("target")
    wf = await workflows.build()
    incident = await handled(wf)
    assert incident.status == "resolved", incident.timeline
    gathered = next(e for e in incident.timeline if e.step == "gather")
    assert set(gathered.data["gaps"]) >= {"health", "metrics", "pool", "logs"}


async def test_an_action_whose_answer_never_comes_is_verified_not_followed_by_another(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    """The request reached the action server and did its work; only the answer was late. Sending the
    next approach now would act twice on one problem."""
    lab.action_delay_seconds = 1.5
    wf = await workflows.build(ACTION_TIMEOUT_SECONDS=0.3)
    incident = await handled(wf)
    assert incident.status == "resolved", incident.timeline
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion"]
    assert [a.status for a in incident.actions] == ["unknown"]
    assert "timeout" in (incident.actions[0].error or "")


async def test_an_unanswered_action_missing_from_the_audit_is_verified_before_the_next(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    """No answer and no audit entry yet: it may still be running, so it is verified, and only a failed
    verification moves the plan on."""
    lab.action_delay_seconds = 1.5
    lab.fix_action = None
    lab.on_action = lambda name: lab.calls.clear()  # nothing in the audit when the agent looks
    wf = await workflows.build(ACTION_TIMEOUT_SECONDS=0.3, MAX_ATTEMPTS=2)
    incident = await handled(wf)
    assert [a.status for a in incident.actions] == ["unknown", "unknown"]
    assert "not in the audit yet" in (incident.actions[0].error or "")
    assert [v.healthy for v in incident.verification] == [False, False]
    assert incident.status == "failed"


async def test_an_unanswered_action_the_audit_shows_failed_moves_on_without_waiting(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    lab.action_delay_seconds = 1.5
    lab.fix_action = None
    lab.audit_status = "failed"
    wf = await workflows.build(ACTION_TIMEOUT_SECONDS=0.3, MAX_ATTEMPTS=2)
    incident = await handled(wf)
    assert [a.status for a in incident.actions] == ["failed", "failed"]
    assert incident.verification == []


async def test_the_action_server_down_escalates_with_the_reason_and_no_retry_storm(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    lab.down.add("actions")
    wf = await workflows.build()
    incident = await handled(wf)
    assert incident.status in {"escalated", "failed"}
    assert lab.calls == []
    assert incident.escalation_reason == "action catalog of target unavailable (HTTP 503)"
    assert sum(1 for e in incident.timeline if e.step == "execute") <= 3


async def test_the_action_server_lost_after_the_fix_leaves_verification_to_prometheus(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    lab.on_action = lambda name: lab.down.add("actions")
    wf = await workflows.build()
    incident = await handled(wf)
    assert incident.status == "resolved", incident.timeline
    assert [a.status for a in incident.actions] == ["succeeded"]
    assert incident.verification[-1].method == "promql"


class BrokenKnowledge:
    """A knowledge store whose disk or server fails when the incident is remembered."""

    def __init__(self) -> None:
        self.tried: list[IncidentMemory] = []

    def add_incident(self, memory: IncidentMemory) -> None:
        self.tried.append(memory)
        raise OSError(28, "No space left on device")

    def search_runbooks(self, text: str, limit: int = 3) -> list[Any]:
        return []

    def search_incidents(self, text: str, limit: int = 3) -> list[Any]:
        return []


async def test_a_knowledge_store_that_fails_at_learn_still_closes_the_incident(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    knowledge = BrokenKnowledge()
    wf = await workflows.build(knowledge=knowledge)
    incident = await handled(wf)
    assert incident.status == "resolved" and incident.report
    assert len(knowledge.tried) == 1
    learned = next(e for e in incident.timeline if e.step == "learn")
    assert learned.data == {"remembered": False}
