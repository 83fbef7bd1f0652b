"""The incident workflow end to end, in-process, against real HTTP stand-ins and real SQLite."""

from __future__ import annotations

from typing import Any

from .agent_testkit import Lab, WorkflowFactory, open_incident, pool_alert, standin_runbooks


async def test_right_action_runs_is_verified_and_the_incident_resolves(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    wf = await workflows.build()
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)

    incident = await wf.store.get(incident_id)
    assert incident.status == "resolved", incident.timeline
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion"]
    assert incident.diagnosis and incident.diagnosis.diagnosis_id == "db-pool-exhaustion"
    assert incident.mitigated_at is not None and incident.closed_at is not None
    assert [a.status for a in incident.actions] == ["succeeded"]
    assert incident.verification[-1].healthy and incident.verification[-1].method == "promql"
    steps = [e.step for e in incident.timeline]
    for step in ("open", "gather", "diagnose", "investigate", "plan", "execute", "verify", "learn"):
        assert step in steps
    assert "QueuePool limit of size <n> overflow <n> reached" in str(incident.timeline)
    assert "## What was tried" in incident.report and "remediate-db-pool-exhaustion" in incident.report
    assert (
        wf.metric(
            "sre_agent_incidents_total", service="target", diagnosis="db-pool-exhaustion", outcome="resolved"
        )
        == 1
    )
    assert (
        wf.metric(
            "sre_agent_actions_total",
            service="target",
            action="remediate-db-pool-exhaustion",
            result="succeeded",
        )
        == 1
    )
    assert (
        wf.metric(
            "sre_agent_time_to_mitigate_seconds_count", service="target", diagnosis="db-pool-exhaustion"
        )
        == 1
    )
    assert wf.metric("sre_agent_workflow_steps_total", step="verify") == 1


async def test_unknown_diagnosis_escalates_without_any_action(lab: Lab, workflows: WorkflowFactory) -> None:
    wf = await workflows.build()
    incident_id = await open_incident(wf, pool_alert(name="SomethingNobodyKnows"))
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert incident.status == "escalated"
    assert incident.actions == [] and lab.calls == []
    assert "diagnosis unknown" in (incident.escalation_reason or "")
    assert incident.escalation_labels == {"team": "orders"}  # the catalog's, for routing it
    assert "What a human should look at" in incident.report
    assert (
        wf.metric("sre_agent_incidents_total", service="target", diagnosis="unknown", outcome="escalated")
        == 1
    )


async def test_low_confidence_escalates(lab: Lab, workflows: WorkflowFactory) -> None:
    wf = await workflows.build(MIN_CONFIDENCE=0.95)
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert incident.status == "escalated" and lab.calls == []
    assert "confidence 0.90 below 0.95" in (incident.escalation_reason or "")


async def test_dry_run_records_the_plan_and_runs_nothing(lab: Lab, workflows: WorkflowFactory) -> None:
    wf = await workflows.build(AGENT_MODE="dry-run")
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert lab.calls == []
    assert incident.status == "escalated"
    assert [a.status for a in incident.actions] == ["dry-run"] * 3
    assert incident.actions[0].action == "remediate-db-pool-exhaustion"
    assert "dry-run" in (incident.escalation_reason or "")


async def test_next_approach_until_one_verifies(lab: Lab, workflows: WorkflowFactory) -> None:
    lab.fix_action = "restart-target"
    wf = await workflows.build(VERIFY_DEADLINE_SECONDS=0.3)
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert incident.status == "resolved"
    assert [(c["action"], c["params"]) for c in lab.calls] == [
        ("remediate-db-pool-exhaustion", {}),
        ("remediate-db-pool-exhaustion", {"escalate_to_db_restart": True}),
        ("restart-target", {}),
    ]
    assert [v.healthy for v in incident.verification] == [False, False, True]


async def test_attempts_exhausted_ends_failed_and_escalated(lab: Lab, workflows: WorkflowFactory) -> None:
    lab.fix_action = None
    wf = await workflows.build(VERIFY_DEADLINE_SECONDS=0.2, MAX_ATTEMPTS=2)
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert incident.status == "failed"
    assert len(lab.calls) == 2
    assert "2 attempts did not verify recovery" in (incident.escalation_reason or "")
    assert (
        wf.metric(
            "sre_agent_incidents_total", service="target", diagnosis="db-pool-exhaustion", outcome="failed"
        )
        == 1
    )


async def test_budget_per_incident_is_respected(lab: Lab, workflows: WorkflowFactory) -> None:
    lab.fix_action = None
    wf = await workflows.build(VERIFY_DEADLINE_SECONDS=0.2, MAX_ACTIONS_PER_INCIDENT=1)
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert len(lab.calls) == 1
    assert "action budget for this incident used (1)" in (incident.escalation_reason or "")


async def test_hourly_budget_counts_every_incident_of_the_service(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    wf = await workflows.build(MAX_ACTIONS_PER_HOUR=1)
    # another service's actions spend its own budget, not this one's
    await wf.store.log_action("other:1:restart()", "other", "restart-worker", "succeeded", "worker")
    await wf.store.log_action("earlier:1:restart()", "earlier", "restart-target", "succeeded", "target")
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert lab.calls == [] and incident.status == "escalated"
    assert "hourly action budget of target used (1)" in (incident.escalation_reason or "")


async def test_another_services_actions_leave_this_ones_budget_alone(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    wf = await workflows.build(MAX_ACTIONS_PER_HOUR=2, ACTION_COOLDOWN_SECONDS=600)
    for n in range(6):  # six pages about other services: their actions, their cooldowns
        await wf.store.log_action(
            f"fake{n}:1:x", f"fake{n}", "remediate-db-pool-exhaustion", "succeeded", f"fake{n}"
        )
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    assert (await wf.store.get(incident_id)).status == "resolved"
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion"]


async def test_a_cooldown_is_waited_for_not_replaced_by_the_riskier_next_action(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    """Seen on the lab: a cooldown made the planner pick `restart-target` (medium risk) 15 ms after
    another incident's pool fix. The plan waits for the cooldown and looks again instead."""
    wf = await workflows.build(ACTION_COOLDOWN_SECONDS=1.0)
    first = await open_incident(wf, pool_alert("fp1"))
    await wf.runner.wait(first)
    lab.healthy = False
    second = await open_incident(wf, pool_alert("fp2"))
    await wf.runner.wait(second, timeout=30)
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion"] * 2
    incident = await wf.store.get(second)
    assert incident.status == "resolved"
    waits = [e.message for e in incident.timeline if e.step == "plan" and e.message.startswith("waiting")]
    assert waits and "cooldown 1s" in waits[0]


async def test_kill_switch_stops_actions(lab: Lab, workflows: WorkflowFactory) -> None:
    wf = await workflows.build()
    await wf.deps.guardrails.kill_switch.set(True)
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert lab.calls == [] and incident.status == "escalated"
    assert "kill switch" in (incident.escalation_reason or "")
    assert wf.metric("sre_agent_remediation_enabled") == 0


async def test_circuit_breaker_opens_after_failed_verifications(lab: Lab, workflows: WorkflowFactory) -> None:
    lab.fix_action = None
    wf = await workflows.build(
        VERIFY_DEADLINE_SECONDS=0.2, CIRCUIT_BREAKER_FAILURES=1, ACTION_COOLDOWN_SECONDS=0
    )
    first = await open_incident(wf, pool_alert("fp1", name="TargetDown"))
    await wf.runner.wait(first)
    assert wf.metric("sre_agent_circuit_breaker_open", service="target", action="restart-target") == 1
    second = await open_incident(wf, pool_alert("fp2", name="TargetDown"))
    await wf.runner.wait(second)
    assert [c["action"] for c in lab.calls] == ["restart-target"]
    incident = await wf.store.get(second)
    assert incident.status == "escalated"
    assert "circuit breaker open for restart-target on target" in (incident.escalation_reason or "")


async def test_high_risk_action_waits_for_approval_then_reject_stops(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    lab.fix_action = "rollback-release"
    wf = await workflows.build()
    incident_id = await open_incident(wf, pool_alert(name="TargetErrorsAfterRelease"))
    await wf.runner.wait(incident_id)
    assert (await wf.store.get(incident_id)).status == "awaiting_approval"
    assert lab.calls == []
    from agent.workflow.nodes.approve import ApprovalDecision

    await wf.runner.decide(incident_id, ApprovalDecision(approved=False, by="alice", comment="not now"))
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert incident.status == "escalated" and lab.calls == []
    assert [a.status for a in incident.actions] == ["rejected"]
    assert "rejected by alice: not now" in (incident.escalation_reason or "")


async def test_approval_mode_pauses_then_resumes_on_approve(lab: Lab, workflows: WorkflowFactory) -> None:
    wf = await workflows.build(AGENT_MODE="approval")
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    assert (await wf.store.get(incident_id)).status == "awaiting_approval" and lab.calls == []
    from agent.workflow.nodes.approve import ApprovalDecision

    await wf.runner.decide(incident_id, ApprovalDecision(approved=True, by="bob"))
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert incident.status == "resolved"
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion"]
    assert sum(1 for e in incident.timeline if e.message.startswith("waiting for approval")) == 1


def test_stand_in_runbooks_are_well_formed() -> None:
    assert {rb.id for rb in standin_runbooks()} >= {"db-pool-exhaustion", "service-down"}


async def test_templated_params_resolve_against_the_gathered_baseline(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    lab.fix_action = "enable-rate-limit"
    wf = await workflows.build()
    incident_id = await open_incident(wf, pool_alert(name="TargetTrafficSurge"))
    await wf.runner.wait(incident_id)
    assert (await wf.store.get(incident_id)).status == "resolved"
    assert lab.calls[0]["params"] == {"requests_per_second": 20.0}  # 2 x the stand-in's baseline of 10 rps


async def test_a_rate_computed_from_a_tiny_baseline_is_raised_to_the_catalogs_floor(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    """2 x a baseline of 0.01 req/s would throttle the service to a trickle and call it resolved: the
    planned rate is raised to the floor the service catalog sets (5), and the timeline says so."""
    lab.fix_action = "enable-rate-limit"
    lab.prometheus_values["requests"] = 0.01
    wf = await workflows.build()
    incident_id = await open_incident(wf, pool_alert(name="TargetTrafficSurge"))
    await wf.runner.wait(incident_id)
    assert lab.calls[0]["params"] == {"requests_per_second": 5}
    plans = [e for e in (await wf.store.get(incident_id)).timeline if e.step == "plan"]
    assert any("clamped to 5" in note for e in plans for note in e.data.get("notes", [])), plans


async def test_runbook_without_queries_is_verified_by_target_health(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    lab.fix_action = "restart-target"
    wf = await workflows.build()
    incident_id = await open_incident(wf, pool_alert(name="TargetDown"))
    await wf.runner.wait(incident_id)
    incident = await wf.store.get(incident_id)
    assert incident.status == "resolved" and incident.verification[-1].method == "health"


async def test_learn_remembers_the_incident_for_next_time(
    lab: Lab, workflows: WorkflowFactory, tmp_path
) -> None:
    from agent.knowledge.store import open_knowledge_store

    knowledge = open_knowledge_store(tmp_path / "knowledge.json")
    wf = await workflows.build(knowledge=knowledge)
    first = await open_incident(wf, pool_alert("fp1"))
    await wf.runner.wait(first)
    incident = await wf.store.get(first)
    assert incident.timeline[-1].data == {"remembered": True}
    found = knowledge.search_incidents("TargetDbPoolExhausted", k=3)
    assert [getattr(f, "incident_id", None) for f in found][:1] == [first]


class RecordingAnnotations:
    """The annotation seam as the nodes see it; the HTTP shapes are tested in tests/agent/annotations."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def open_incident(self, incident_id: str, diagnosis: str, text: str, tags: Any = ()) -> str:
        self.calls.append(("open", incident_id, diagnosis))
        return f"incident-{incident_id}"

    def add_event(self, incident_id: str, diagnosis: str, text: str, tags: Any = (), key: Any = None) -> str:
        self.calls.append(("event", incident_id, ",".join(tags)))
        return f"event-{key}"

    def close_incident(
        self,
        incident_id: str,
        diagnosis: str,
        outcome: str,
        text: Any = None,
        tags: Any = (),
        opened_at: Any = None,
    ) -> str:
        self.calls.append(("close", incident_id, outcome))
        return f"incident-{incident_id}"


async def test_the_incident_is_annotated_when_diagnosed_per_action_and_when_closed(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    annotations = RecordingAnnotations()
    wf = await workflows.build(annotations=annotations)
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)

    assert annotations.calls == [
        ("open", incident_id, "db-pool-exhaustion"),
        ("event", incident_id, "remediate-db-pool-exhaustion,succeeded"),
        ("close", incident_id, "resolved"),
    ]
