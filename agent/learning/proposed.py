"""The folder of proposed runbook amendments (RUNBOOKS_PATH/proposed): written once, listed, never loaded.

A file per incident and runbook, `<runbook-id>--<incident-id>.md`, created atomically and exclusively
(written to a temp file, then hard-linked into place, which fails if the name exists), so a learn step
replayed after a restart, or a second writer, never rewrites a proposal a human may be reading. Lessons
already pending for the runbook in another proposal are dropped; an amendment left with none is not
written. The runbook loader reads only files directly in RUNBOOKS_PATH, so nothing here is ever acted on.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Literal

import structlog
import yaml
from pydantic import BaseModel, Field, ValidationError

from agent.learning.amendments import Amendment, render

log = structlog.get_logger("agent.learning")
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_FRONT = re.compile(r"\A---\r?\n(.*?)\r?\n---\r?\n", re.S)


class ProposedAmendment(BaseModel):
    """One pending proposal, as listed by `GET /agent/runbooks/proposed`."""

    file: str
    runbook_id: str = Field(validation_alias="runbook")
    incident_id: str = Field(validation_alias="incident")
    source: str = "agent"
    created_at: datetime | None = None
    suggestions: list[str] = Field(default_factory=list)


class ProposalResult(BaseModel):
    status: Literal["written", "exists", "already_proposed"]
    file: str | None = None
    detail: str = ""


class ProposedAmendments:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()

    def write(self, amendment: Amendment) -> ProposalResult:
        name = amendment.file_name
        if not (_SAFE.match(amendment.runbook_id) and _SAFE.match(amendment.incident_id)):
            raise ValueError(f"unsafe file name {name!r}")
        with self._lock:
            if (self.folder / name).exists():
                return ProposalResult(status="exists", file=name, detail="proposed already for this incident")
            pending: dict[str, str] = {}
            for other in self.list(amendment.runbook_id):
                pending.update(dict.fromkeys(other.suggestions, other.file))
            fresh = [s for s in amendment.suggestions if s.key not in pending]
            if not fresh:
                where = sorted({pending[s.key] for s in amendment.suggestions})
                return ProposalResult(status="already_proposed", detail="pending in " + ", ".join(where))
            try:
                self._create(name, render(amendment.model_copy(update={"suggestions": fresh})))
            except FileExistsError:  # another process wrote it between the check and the link
                return ProposalResult(status="exists", file=name, detail="proposed already for this incident")
        log.info("runbook_amendment_proposed", runbook=amendment.runbook_id, file=name)
        return ProposalResult(status="written", file=name)

    def list(self, runbook_id: str | None = None) -> list[ProposedAmendment]:
        """Pending proposals, oldest file name first; a file that cannot be read is skipped and logged."""
        if not self.folder.is_dir():
            return []
        pattern = f"{runbook_id}--*.md" if runbook_id else "*--*.md"
        found = []
        for path in sorted(self.folder.glob(pattern)):
            try:
                match = _FRONT.match(path.read_text(encoding="utf-8"))
                meta = yaml.safe_load(match.group(1)) if match else None
                found.append(ProposedAmendment.model_validate({**(meta or {}), "file": path.name}))
            except (OSError, UnicodeDecodeError, yaml.YAMLError, ValidationError, TypeError) as exc:
                log.warning("runbook_amendment_unreadable", file=path.name, error=type(exc).__name__)
        return found

    def _create(self, name: str, text: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, self.folder / name)  # atomic, and fails if the name exists
        finally:
            Path(tmp).unlink(missing_ok=True)
