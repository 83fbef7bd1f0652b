"""The proposed-amendments folder: one file per incident, written once, lessons pending already dropped."""

from __future__ import annotations

from pathlib import Path

from agent.learning.amendments import Amendment, Suggestion, log_needle
from agent.learning.proposed import ProposedAmendments


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
    assert log_needle("<n> <id>") == ""
