"""Proposed amendments: what a human's resolution teaches, and the folder (one file per incident, written
once, lessons pending already dropped)."""

from __future__ import annotations

from pathlib import Path

from agent.domain.alerts import AlertSummary
from agent.domain.diagnosis import Diagnosis
from agent.domain.signals import Symptoms
from agent.incidents.models import ActionRecord, HumanResolution, Incident
from agent.knowledge.runbooks import load_runbooks
from agent.learning.amendments import Amendment, Suggestion, from_resolution, log_needle
from agent.learning.proposed import ProposedAmendments

RUNBOOKS = Path(__file__).resolve().parents[3] / "runbooks"


def amendment(incident_id: str, *keys: str, runbook_id: str = "disk-full") -> Amendment:
    return Amendment(
        runbook_id=runbook_id,
        runbook_file=f"{runbook_id}.md",
        incident_id=incident_id,
        source="agent",
        context=[f"incident {incident_id} resolved"],
        suggestions=[Suggestion(key=k, observed=[f"saw {k}"], change=f"add {k}") for k in keys],
    )


def test_written_once_never_rewritten(tmp_path: Path) -> None:
    folder = ProposedAmendments(tmp_path / "proposed")
    first = folder.write(amendment("inc-1", "alert:A"))
    assert first.status == "written" and first.file == "disk-full--inc-1.md"
    text = (tmp_path / "proposed" / "disk-full--inc-1.md").read_text()
    assert "- add alert:A" in text and "runbooks/disk-full.md" in text

    again = folder.write(amendment("inc-1", "alert:B"))
    assert again.status == "exists"
    assert (tmp_path / "proposed" / "disk-full--inc-1.md").read_text() == text
    assert [p.name for p in (tmp_path / "proposed").iterdir()] == ["disk-full--inc-1.md"]  # no temp left


def test_lessons_pending_for_the_runbook_are_not_proposed_again(tmp_path: Path) -> None:
    folder = ProposedAmendments(tmp_path / "proposed")
    folder.write(amendment("inc-1", "alert:A", "log:disk quota"))
    same = folder.write(amendment("inc-2", "alert:A"))
    assert same.status == "already_proposed" and same.detail == "pending in disk-full--inc-1.md"

    more = folder.write(amendment("inc-3", "alert:A", "alert:B"))
    assert more.status == "written"
    text = (tmp_path / "proposed" / "disk-full--inc-3.md").read_text()
    assert "add alert:B" in text and "add alert:A" not in text
    assert folder.write(amendment("inc-4", "alert:A", runbook_id="cpu-saturation")).status == "written"

    listed = folder.list()
    assert [(p.runbook_id, p.incident_id, p.suggestions) for p in listed] == [
        ("cpu-saturation", "inc-4", ["alert:A"]),
        ("disk-full", "inc-1", ["alert:A", "log:disk quota"]),
        ("disk-full", "inc-3", ["alert:B"]),
    ]


def test_a_file_a_person_broke_is_skipped_when_listing(tmp_path: Path) -> None:
    folder = ProposedAmendments(tmp_path / "proposed")
    folder.write(amendment("inc-1", "alert:A"))
    (tmp_path / "proposed" / "disk-full--inc-0.md").write_text("---\n: [\n---\n")
    assert [p.incident_id for p in folder.list()] == ["inc-1"]
    assert ProposedAmendments(tmp_path / "nowhere").list() == []


def test_log_needle_is_the_telling_words_of_the_error() -> None:
    signature = "request_failed: QueuePool limit of size <n> overflow <n> reached, connection timed out"
    assert log_needle(signature) == "queuepool limit of size"
    assert log_needle("stock_lookup_failed: SSLError: certificate verify failed") == (
        "sslerror: certificate verify failed"
    )
    assert log_needle("<n> <id>") == "" and log_needle("request") == ""


def test_a_humans_resolution_teaches_the_cause_the_actions_and_the_symptoms(tmp_path: Path) -> None:
    runbook = next(rb for rb in load_runbooks(RUNBOOKS) if rb.id == "db-pool-exhaustion")
    incident = Incident(
        id="inc-9",
        status="failed",
        escalation_reason="2 attempts did not verify recovery",
        diagnosis=Diagnosis(diagnosis_id="db-lock-contention", confidence=0.7, root_cause="a lock"),
        actions=[ActionRecord(key="k", action="kill-blocking-queries", status="succeeded", attempt=1)],
    )
    symptoms = Symptoms(
        alerts=[AlertSummary(name="TargetDbPoolExhausted"), AlertSummary(name="TargetSomethingNew")],
        log_error_signatures={
            "request_failed: QueuePool limit of size <n> reached": 4,
            "odd_thing: gremlins in the cache": 2,
        },
    )
    resolution = HumanResolution(
        diagnosis_id="db-pool-exhaustion",
        root_cause="a leak in the new export job",
        actions_worked=["restart-target", "page-the-dba"],
        by="bob",
    )
    amendment = from_resolution(incident, runbook, symptoms, resolution, {"restart-target": "restart"})
    assert amendment is not None and amendment.source == "human"
    keys = [s.key for s in amendment.suggestions]
    assert keys[0].startswith("cause:")
    assert keys[1:] == [
        "order:restart",
        "action:page-the-dba",
        "alert:TargetSomethingNew",
        "log:gremlins in the cache",
    ]
    text = ProposedAmendments(tmp_path).write(amendment)
    written = (tmp_path / "db-pool-exhaustion--inc-9.md").read_text()
    assert text.status == "written"
    assert "the agent diagnosed `db-lock-contention` (confidence 0.70" in written
    assert "`kill-blocking-queries` ran (attempt 1) and recovery was not verified" in written
    assert "actions: try `restart` earlier (the runbook has it at position 3 of 3)" in written
