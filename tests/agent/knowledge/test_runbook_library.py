"""The runbook library re-reads RUNBOOKS_PATH when a file changes (real files, the real embedded store)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import structlog

from agent.diagnosis.deterministic import diagnose
from agent.domain.alerts import AlertSummary
from agent.domain.diagnosis import UNKNOWN
from agent.knowledge.embedded import EmbeddedKnowledgeStore
from agent.knowledge.library import RunbookLibrary
from lab.bench.situations import symptoms

# Stock lookups fail with a TLS error: no shipped runbook has a signal for it.
TLS_FAILURE = symptoms(
    alerts=[AlertSummary(name="TargetHighErrorRatio")],
    health_status="degraded",
    error_ratio=0.24,
    log_error_count=30,
    log_error_signatures={"stock_lookup_failed: SSLError: certificate verify failed": 30},
)
TLS_RUNBOOK = """---
id: inventory-tls
title: Inventory service certificate rejected
alerts: [TargetHighErrorRatio]
signals:
  - {signal: "log:certificate verify failed", op: ">", value: 0, weight: 3, description: "TLS errors"}
actions:
  - {action: enable-dependency-fallback, params: {}, risk: low}
verification:
  promql: ["target_error_ratio < 0.05"]
escalate_when: the certificate is not renewed
---
# Inventory TLS
The inventory service presents a certificate the target does not trust.
"""


def open_library(folder: Path, store: EmbeddedKnowledgeStore) -> RunbookLibrary:
    """As the app does: load, index what was loaded, then keep the store in step."""
    library = RunbookLibrary(folder)
    library.refresh()
    store.sync_runbooks(library.runbooks())
    library.attach(store)
    return library


def ids(library: RunbookLibrary) -> list[str]:
    return sorted(rb.id for rb in library.runbooks())


def test_an_edited_runbook_updates_its_entry_without_duplicates(runbook_dir: Path, tmp_path: Path) -> None:
    store = EmbeddedKnowledgeStore(tmp_path / "knowledge.json")
    library = open_library(runbook_dir, store)
    before = store.runbook_ids()
    path = runbook_dir / "disk-full.md"
    path.write_text(path.read_text().replace("\n# ", "\nSeen first on the zanzibar volume.\n\n# ", 1))

    changes = library.refresh()

    assert changes.updated == ["disk-full"] and not changes.added and not changes.removed
    assert store.runbook_ids() == before
    found = store.search_runbooks("zanzibar volume", k=3)
    assert [r.runbook_id for r in found] == ["disk-full"]
    assert "zanzibar" in next(rb for rb in library.runbooks() if rb.id == "disk-full").body
    assert EmbeddedKnowledgeStore(tmp_path / "knowledge.json").runbook_ids() == before  # saved so


def test_a_new_file_is_added_and_diagnoses_what_it_covers(runbook_dir: Path, tmp_path: Path) -> None:
    store = EmbeddedKnowledgeStore(tmp_path / "knowledge.json")
    library = open_library(runbook_dir, store)
    assert diagnose(TLS_FAILURE, library.runbooks(), []).diagnosis_id == UNKNOWN

    (runbook_dir / "inventory-tls.md").write_text(TLS_RUNBOOK)
    changes = library.refresh()

    assert changes.added == ["inventory-tls"]
    assert diagnose(TLS_FAILURE, library.runbooks(), []).diagnosis_id == "inventory-tls"
    assert store.search_runbooks("certificate verify failed", k=1)[0].runbook_id == "inventory-tls"


def test_a_removed_file_removes_its_entries(runbook_dir: Path, tmp_path: Path) -> None:
    store = EmbeddedKnowledgeStore(tmp_path / "knowledge.json")
    library = open_library(runbook_dir, store)
    (runbook_dir / "disk-full.md").unlink()

    assert library.refresh().removed == ["disk-full"]
    assert "disk-full" not in ids(library) and "disk-full" not in store.runbook_ids()
    assert all(r.runbook_id != "disk-full" for r in store.search_runbooks("no space left on device disk"))


def test_a_file_that_stops_parsing_keeps_its_last_good_version_and_says_so(
    runbook_dir: Path, tmp_path: Path
) -> None:
    store = EmbeddedKnowledgeStore(tmp_path / "knowledge.json")
    library = open_library(runbook_dir, store)
    good = library.runbooks()
    path = runbook_dir / "disk-full.md"
    text = path.read_text()

    with structlog.testing.capture_logs() as logs:
        path.write_text(text.replace("signals:", "signalz:", 1))
        changes = library.refresh()
        library.refresh()  # the same bad version again: said once
    assert changes.invalid == ["disk-full.md"] and not changes.changed
    assert library.runbooks() == good and len(store.runbook_ids()) == len(good)
    assert [e["file"] for e in logs if e["event"] == "runbook_invalid"] == ["disk-full.md"]
    (note,) = library.notes
    assert note.startswith("runbook disk-full.md not reloaded (") and "signalz" in note
    assert "using the version loaded at" in note

    path.write_text(text.replace("title: ", "title: Fixed ", 1))
    assert library.refresh().updated == ["disk-full"]
    assert library.notes == []


def test_a_bad_file_at_start_leaves_the_others_loaded(runbook_dir: Path, tmp_path: Path) -> None:
    (runbook_dir / "broken.md").write_text("no front matter here")
    library = open_library(runbook_dir, EmbeddedKnowledgeStore(tmp_path / "knowledge.json"))
    assert len(ids(library)) == len(list(runbook_dir.glob("*.md"))) - 1  # all but the broken one
    assert library.notes == [
        "runbook broken.md not loaded (no YAML front matter (the file must start with a '---' block))"
    ]


def test_an_unchanged_file_is_not_reparsed_and_a_lost_folder_keeps_everything(
    runbook_dir: Path, tmp_path: Path
) -> None:
    store = EmbeddedKnowledgeStore(tmp_path / "knowledge.json")
    library = open_library(runbook_dir, store)
    before = library.runbooks()
    an_hour_ago = time.time() - 3600
    for path in runbook_dir.glob("*.md"):
        os.utime(path, (an_hour_ago, an_hour_ago))  # touched, same content
    assert not library.refresh().changed
    assert all(a is b for a, b in zip(library.runbooks(), before, strict=True))
    assert not library.refresh().changed  # settled: the cheap look says nothing changed

    shutil.rmtree(runbook_dir)
    assert not library.refresh().changed
    shipped = len(before)
    assert library.runbooks() == before and len(store.runbook_ids()) == shipped
    assert library.notes and f"keeping the {shipped} runbooks loaded" in library.notes[0]
