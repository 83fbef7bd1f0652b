"""Learning end to end: runbook files the agent reads, amendments it proposes, memory that changes what it
does next. Real runbook files in a tmp folder, the real deterministic diagnoser, the real embedded
knowledge store, the stand-in lab over real HTTP (tests/agent/agent_testkit.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent_testkit import Lab, WorkflowFactory
from test_workflow import open_incident, pool_alert

from agent.knowledge.library import RunbookLibrary
from agent.knowledge.store import open_knowledge_store
from agent.learning.proposed import ProposedAmendments
from agent.workflow.deps import default_reasoning
from agent.workflow.nodes import learn

# The stand-in lab's pool page: pool 100 % used, "QueuePool limit ..." timeouts in the error log.
POOL_RUNBOOK = """---
id: db-pool-exhaustion
title: Database connection pool exhausted by leaked connections
alerts: [TargetDbPoolExhausted]
signals:
  - {signal: pool_utilization_ratio, op: ">=", value: 0.9, weight: 2.5, description: "pool utilization"}
  - {signal: "log:queuepool limit", op: ">", value: 0, weight: 2.5, description: "pool checkout timeouts"}
actions:
  - {action: remediate-db-pool-exhaustion, params: {}, risk: low}
  - {action: restart-target, params: {}, risk: medium}
verification:
  promql: ["healthy:db-pool-exhaustion"]
  hold_seconds: 0.2
  deadline_seconds: 1.5
escalate_when: the pool fills again after a restart
---
# Pool exhaustion
"""
# Covers a dead inventory service, not the stand-in lab's pool page.
DEPENDENCY_RUNBOOK = """---
id: dependency-outage
title: Inventory service not answering in time
alerts: [TargetDependencyDown]
signals:
  - {signal: "check_failing:dependency", op: "==", value: true, weight: 3, description: "dependency down"}
  - {signal: "log:inventory", op: ">", value: 0, weight: 2, description: "inventory errors in the log"}
actions:
  - {action: enable-dependency-fallback, params: {}, risk: low}
verification:
  promql: ["healthy:dependency-outage"]
  hold_seconds: 0.2
  deadline_seconds: 1.5
escalate_when: the inventory service stays down
---
# Dependency outage
"""


def runbook_folder(tmp_path: Path, *texts: str) -> Path:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    for text in texts:
        rid = text.split("id: ", 1)[1].split("\n", 1)[0]
        (folder / f"{rid}.md").write_text(text)
    return folder


async def build(workflows: WorkflowFactory, folder: Path, tmp_path: Path, **overrides: Any) -> Any:
    library = RunbookLibrary(folder)
    library.refresh()
    return await workflows.build(
        runbooks=library.runbooks,
        reasoning=default_reasoning(),
        knowledge=open_knowledge_store(tmp_path / "knowledge.json"),
        amendments=ProposedAmendments(folder / "proposed"),
        RUNBOOKS_PATH=folder,
        **overrides,
    )


def learned(wf: Any, incident_id: str) -> dict[str, Any]:
    return next(e.data for e in reversed(wf.store.get(incident_id).timeline) if e.step == "learn")


async def test_an_action_that_failed_before_another_worked_is_proposed_and_planned_last(
    lab: Lab, workflows: WorkflowFactory, tmp_path: Path
) -> None:
    folder = runbook_folder(tmp_path, POOL_RUNBOOK)
    runbook_bytes = (folder / "db-pool-exhaustion.md").read_bytes()
    lab.fix_action = "restart-target"
    wf = await build(workflows, folder, tmp_path, VERIFY_DEADLINE_SECONDS=0.3, ACTION_COOLDOWN_SECONDS=0)
    first = await open_incident(wf, pool_alert("fp1"))
    await wf.runner.wait(first)

    assert wf.store.get(first).status == "resolved"
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion", "restart-target"]
    proposal = folder / "proposed" / f"db-pool-exhaustion--{first}.md"
    text = proposal.read_text()
    assert text.startswith("---\nrunbook: db-pool-exhaustion\n")
    assert "`remediate-db-pool-exhaustion` ran (attempt 1) and recovery was not verified" in text
    assert "`restart-target` ran next (attempt 2) and recovery was verified" in text
    assert "actions: try `restart-target` before `remediate-db-pool-exhaustion`" in text
    assert f"`GET /agent/incidents/{first}`" in text
    assert "alerts: add" not in text and "signals: add" not in text  # the runbook covers the symptoms
    assert learned(wf, first)["proposed_amendment"] == {
        "status": "written",
        "file": proposal.name,
        "detail": "",
    }
    assert (folder / "db-pool-exhaustion.md").read_bytes() == runbook_bytes  # never edited in place

    # A learn step replayed (a resume after a restart) leaves the proposal as it is.
    snapshot = await wf.runner.graph.aget_state(wf.runner.config(first))
    await learn.node(snapshot.values, {}, deps=wf.deps)
    assert proposal.read_text() == text
    assert learned(wf, first)["proposed_amendment"]["status"] == "exists"

    # The same page again: what did not fix it last time is planned after what did.
    lab.healthy = False
    lab.calls.clear()
    second = await open_incident(wf, pool_alert("fp2"))
    await wf.runner.wait(second)
    incident = wf.store.get(second)
    assert incident.status == "resolved"
    assert [c["action"] for c in lab.calls] == ["restart-target"]
    plan = next(e for e in incident.timeline if e.step == "plan")
    assert (
        f"remediate-db-pool-exhaustion planned last: it did not fix {first} with the same symptoms"
        in (plan.data["notes"])
    )
    assert [p["action"] for p in plan.data["plan"]] == ["restart-target", "remediate-db-pool-exhaustion"]
    assert [p.incident_id for p in ProposedAmendments(folder / "proposed").list()] == [first]


async def test_a_clean_resolution_proposes_nothing(
    lab: Lab, workflows: WorkflowFactory, tmp_path: Path
) -> None:
    folder = runbook_folder(tmp_path, POOL_RUNBOOK)
    wf = await build(workflows, folder, tmp_path)
    incident_id = await open_incident(wf, pool_alert())
    await wf.runner.wait(incident_id)
    assert wf.store.get(incident_id).status == "resolved"
    assert [c["action"] for c in lab.calls] == ["remediate-db-pool-exhaustion"]
    assert not (folder / "proposed").exists()
    assert learned(wf, incident_id) == {"remembered": True}
