"""The audit trail: one JSON line per action call in <data_dir>/audit.jsonl (what, when, who, result)."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel


class AuditRecord(BaseModel):
    at: datetime
    action: str
    parameters: dict[str, Any]
    status: str
    http_status: int
    detail: str
    duration_seconds: float
    changes: dict[str, Any] = {}
    caller: str


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def append(self, record: AuditRecord) -> None:
        line = record.model_dump_json() + "\n"
        with self._lock, self.path.open("a") as handle:
            handle.write(line)

    def recent(self, limit: int) -> list[AuditRecord]:
        """Newest first; a damaged line is skipped rather than hiding the rest."""
        if not self.path.is_file():
            return []
        records: list[AuditRecord] = []
        for line in reversed(self.path.read_text().splitlines()):
            if len(records) >= limit:
                break
            try:
                records.append(AuditRecord.model_validate(json.loads(line)))
            except ValueError:
                continue
        return records
