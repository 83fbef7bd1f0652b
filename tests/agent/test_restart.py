"""An incident in flight survives an agent restart: same checkpoint file and store, the action runs once."""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest

from agent.workflow.nodes.approve import ApprovalDecision

from .agent_testkit import Lab, WorkflowFactory, open_incident, pool_alert, wait_until


async def test_paused_for_approval_then_restarted_then_approved(lab: Lab, workflows: WorkflowFactory) -> None:
    before = await workflows.build(AGENT_MODE="approval")
    incident_id = await open_incident(before, pool_alert())
    await before.runner.wait(incident_id)
    assert (await before.store.get(incident_id)).status == "awaiting_approval"
    await workflows.close(before)

    after = await workflows.build(AGENT_MODE="approval")
    assert await after.runner.recover() == []  # still waiting for a human, nothing re-run
    await after.runner.decide(incident_id, ApprovalDecision(approved=True))
    await after.runner.wait(incident_id)
    assert (await after.store.get(incident_id)).status == "resolved"
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion"]


async def test_stopped_between_execute_and_verify_continues_without_rerunning(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    before = await workflows.build(interrupt_after=["execute"])
    incident_id = await open_incident(before, pool_alert())
    await before.runner.wait(incident_id)
    assert (await before.store.get(incident_id)).step == "execute"
    await workflows.close(before)

    after = await workflows.build()
    assert await after.runner.recover() == [incident_id]
    await after.runner.wait(incident_id)
    incident = await after.store.get(incident_id)
    assert incident.status == "resolved"
    assert len(lab.calls) == 1
    assert any(e.step == "resume" for e in incident.timeline)


async def test_killed_while_the_action_server_was_working_does_not_resend(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    lab.action_delay_seconds = 1.5
    before = await workflows.build()
    incident_id = await open_incident(before, pool_alert())
    await wait_until(lambda: len(lab.calls) == 1)
    await workflows.close(before)  # the process dies with the call in flight: intent recorded, no result
    lab.action_delay_seconds = 0.0

    after = await workflows.build()
    assert await after.runner.recover() == [incident_id]
    await after.runner.wait(incident_id)
    incident = await after.store.get(incident_id)
    assert len(lab.calls) == 1
    assert incident.status == "resolved"
    assert [a.status for a in incident.actions] == ["unknown"]
    assert "not repeated" in str([e.message for e in incident.timeline])


async def test_died_after_a_step_was_written_but_before_the_next_was_chosen(
    lab: Lab, workflows: WorkflowFactory
) -> None:
    """The checkpoint file as a process killed mid-save leaves it: the last checkpoint missing, the
    writes of the step before it saved. The graph has no `next` then; the incident must still finish."""
    lab.action_delay_seconds = 1.5
    before = await workflows.build()
    incident_id = await open_incident(before, pool_alert())
    await wait_until(lambda: len(lab.calls) == 1)
    await workflows.close(before)
    lab.action_delay_seconds = 0.0
    with sqlite3.connect(workflows.tmp_path / "agent" / "checkpoints.db") as db:
        (latest,) = db.execute("SELECT MAX(checkpoint_id) FROM checkpoints").fetchone()
        db.execute("DELETE FROM checkpoints WHERE checkpoint_id = ?", (latest,))

    after = await workflows.build()
    snapshot = await after.runner.graph.aget_state(after.runner.config(incident_id))
    assert snapshot.values and snapshot.next == ()  # what the old recovery skipped
    assert await after.runner.recover() == [incident_id]
    await after.runner.wait(incident_id)
    incident = await after.store.get(incident_id)
    assert incident.status == "resolved", incident.timeline
    assert len(lab.calls) == 1


STEPS = ["gather", "diagnose", "investigate", "plan", "execute", "verify", "learn"]


@pytest.mark.parametrize("step", STEPS)
async def test_stopped_after_any_step_finishes_once_with_one_action(
    lab: Lab, workflows: WorkflowFactory, step: str
) -> None:
    """The agent gone right after each step's checkpoint (the moment a kill loses the most): restarted on
    the same files, the incident finishes once, the action runs once, and its timeline holds the same
    records as a run that was never stopped, none lost or doubled."""
    elsewhere = WorkflowFactory(workflows.tmp_path / "unstopped", workflows.urls)
    whole = await elsewhere.build()
    unstopped = await open_incident(whole, pool_alert())
    await whole.runner.wait(unstopped)
    expected = Counter(e.step for e in (await whole.store.get(unstopped)).timeline)
    await elsewhere.close_all()
    lab.calls.clear()
    lab.healthy = False

    before = await workflows.build(interrupt_after=[step])
    incident_id = await open_incident(before, pool_alert())
    await before.runner.wait(incident_id)
    assert (await before.store.get(incident_id)).step == ("done" if step == "learn" else step)
    await workflows.close(before)

    after = await workflows.build()
    resumed = await after.runner.recover()
    if step != "learn":
        assert resumed == [incident_id]
    await after.runner.wait(incident_id)
    assert await after.runner.recover() == []  # finished: a second restart has nothing to resume
    incident = await after.store.get(incident_id)
    assert incident.status == "resolved"
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion"]
    assert [a.status for a in incident.actions] == ["succeeded"]
    steps = Counter(e.step for e in incident.timeline if e.step != "resume")
    assert steps == expected, [e.step for e in incident.timeline]
