"""The runbook library: the runbooks of RUNBOOKS_PATH as they are now, re-read when a file changes.

People edit runbooks while the agent runs. `refresh()` looks at the folder cheaply (names, sizes, mtimes,
inodes), and only when that changed hashes the files and parses the ones whose content changed; the
knowledge store is re-synced when the set of (id, content hash) changed (`sync_runbooks` updates an edited
runbook in place and removes one whose file is gone). The app calls `refresh()` every
RUNBOOKS_CHECK_SECONDS in a worker thread (a re-sync may wait on Weaviate), so the workflow's `runbooks()`
is a plain read of the last good set and never does I/O on the event loop.

A file that fails to parse, or names a signal no pack or probe of the service catalog gives, keeps the
last good version of that runbook (or stays out if there never was one), with a note for `/agent/status`
and one log line per bad version; a folder that cannot be read keeps every runbook. Nothing here raises
into the workflow, and no edit can leave the agent with no runbooks. `recheck()` makes the next refresh
validate every file again (the catalog's signals changed).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from agent.catalog.watch import FolderWatch
from agent.knowledge.runbooks import Runbook, RunbookError, check_signals, parse_runbook, runbook_files

log = structlog.get_logger("agent.knowledge")


@dataclass
class RunbookChanges:
    """What one refresh changed, by runbook id, and the files it could not use."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass
class _Loaded:
    runbook: Runbook
    at: datetime


class RunbookLibrary:
    def __init__(
        self,
        folder: Path,
        *,
        on_change: Callable[[list[Runbook]], None] | None = None,
        known_signals: Callable[[], set[str]] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.on_change = on_change
        self._known_signals = known_signals
        self._knowledge: Any | None = None
        self._lock = threading.Lock()
        self._watch = FolderWatch()
        self._by_file: dict[str, _Loaded] = {}
        self._bad: dict[str, tuple[str, str]] = {}  # file name → (content hash, reason)
        self._current: list[Runbook] = []
        self._folder_problem: str | None = None
        self._sync_problem: str | None = None

    def runbooks(self) -> list[Runbook]:
        """The current runbooks (what `WorkflowDeps.runbooks` returns); no I/O."""
        return self._current

    @property
    def notes(self) -> list[str]:
        """Problems to show in `/agent/status` now; a problem fixed in its file drops out."""
        notes = [self._folder_problem] if self._folder_problem else []
        by_file, bad = self._by_file, self._bad
        for name, (_, reason) in sorted(bad.items()):
            kept = by_file.get(name)
            if kept is None:
                notes.append(f"runbook {name} not loaded ({reason})")
            else:
                when = f"{kept.at:%Y-%m-%dT%H:%M:%SZ}"
                notes.append(f"runbook {name} not reloaded ({reason}): using the version loaded at {when}")
        if self._sync_problem:
            notes.append(self._sync_problem)
        return notes

    def attach(self, knowledge: Any | None) -> None:
        """The knowledge store to keep in step from now on (the caller has synced the current runbooks)."""
        self._knowledge = knowledge

    def refresh(self) -> RunbookChanges:
        """Look at the folder now; reload what changed and re-sync the knowledge store. Never raises."""
        with self._lock:
            changes = RunbookChanges()
            try:
                files = runbook_files(self.folder)
                unchanged = not self._watch.changed(files)
            except (RunbookError, OSError) as exc:
                self._folder_unreadable(exc)
                return changes
            self._folder_problem = None
            if unchanged and self._sync_problem is None:
                return changes
            before = {rb.id: rb.content_hash for rb in self._current}
            self._reload(files, changes)
            after = {rb.id: rb.content_hash for rb in self._current}
            changes.added = sorted(set(after) - set(before))
            changes.removed = sorted(set(before) - set(after))
            changes.updated = sorted(i for i in set(before) & set(after) if before[i] != after[i])
            if changes.changed or self._sync_problem is not None:
                self._sync()
            if changes.changed and not before:
                log.info("runbooks_loaded", runbooks=changes.added)
            elif changes.changed:
                log.info(
                    "runbooks_reloaded", added=changes.added, updated=changes.updated, removed=changes.removed
                )
            if changes.changed and self.on_change is not None:
                self.on_change(self._current)
            return changes

    def recheck(self) -> None:
        """Validate every file again at the next refresh (the signals the catalog gives changed)."""
        self._watch.forget()

    async def run(self, interval_seconds: float) -> None:
        """Refresh every `interval_seconds` until cancelled (the app's background task)."""
        while True:
            await asyncio.sleep(interval_seconds)
            await asyncio.to_thread(self.refresh)

    # ------------------------------------------------------------------ internals
    def _reload(self, files: list[Path], changes: RunbookChanges) -> None:
        """Build the new state aside and swap it in: `runbooks()` and `notes` read without the lock."""
        by_file: dict[str, _Loaded] = {}
        bad: dict[str, tuple[str, str]] = {}
        for file in files:
            previous = self._by_file.get(file.name)
            try:
                raw = file.read_bytes()
                digest = hashlib.sha256(raw).hexdigest()
                if previous is not None and previous.runbook.content_hash == digest:
                    loaded = previous
                else:
                    loaded = _Loaded(parse_runbook(file, raw), datetime.now(UTC))
                if self._known_signals is not None:
                    check_signals(loaded.runbook, self._known_signals())
                by_file[file.name] = loaded
            except OSError as exc:  # removed or unreadable between the listing and the read
                bad[file.name] = self._invalid(file.name, "", f"cannot read: {type(exc).__name__}", previous)
            except RunbookError as exc:
                bad[file.name] = self._invalid(file.name, digest, exc.reason, previous)
            if file.name in bad:
                changes.invalid.append(file.name)
                if previous is not None:
                    by_file[file.name] = previous
        # ids are unique: `parse_runbook` requires the id to be the file's name
        self._by_file, self._bad = by_file, bad
        self._current = [by_file[name].runbook for name in sorted(by_file)]

    def _invalid(self, name: str, digest: str, reason: str, previous: _Loaded | None) -> tuple[str, str]:
        if self._bad.get(name) != (digest, reason):  # a bad version is said once
            log.error("runbook_invalid", file=name, reason=reason, kept_last_good=previous is not None)
        return digest, reason

    def _sync(self) -> None:
        if self._knowledge is None:
            return
        try:
            self._knowledge.sync_runbooks(self._current)
            self._sync_problem = None
        except Exception as exc:  # the workflow still has the runbooks; the next look retries
            if self._sync_problem is None:
                log.warning("runbooks_not_indexed", error=type(exc).__name__)
            self._sync_problem = f"runbooks not re-indexed in the knowledge store: {type(exc).__name__}"

    def _folder_unreadable(self, exc: Exception) -> None:
        kept = f"keeping the {len(self._current)} runbooks loaded" if self._current else "no runbooks loaded"
        problem = f"runbooks folder unreadable ({exc}): {kept}"
        if problem != self._folder_problem:
            log.error("runbooks_folder_unreadable", error=type(exc).__name__, kept=len(self._current))
        self._folder_problem = problem
