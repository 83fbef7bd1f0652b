"""A bounded, ordered outbox of annotation requests, mirrored to a JSON-lines file.

Every change rewrites the file atomically (temp file + rename): it holds at most `max_pending`
small requests plus the Grafana ids of recent incident regions, so a rewrite costs well under a
millisecond and a crash never leaves half a line. On start the file is read back, so what Grafana
had not accepted yet survives a restart (and, with no GRAFANA_URL, the file is the local record).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import structlog
from pydantic import TypeAdapter, ValidationError

from agent.annotations.models import DeliveredRef, OutboxRecord, PendingEntry

log = structlog.get_logger("agent.annotations")
_RECORD: TypeAdapter[PendingEntry | DeliveredRef] = TypeAdapter(OutboxRecord)


class Outbox:
    def __init__(self, path: Path, max_pending: int = 1000, max_delivered: int = 500) -> None:
        self.path = path
        self.max_pending = max_pending
        self.max_delivered = max_delivered
        self._pending: OrderedDict[str, PendingEntry] = OrderedDict()
        self._delivered: OrderedDict[str, int] = OrderedDict()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._load()

    def _load(self) -> None:
        if not self.path.is_file():
            return
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = _RECORD.validate_json(line)
            except ValidationError:
                log.warning("annotation_outbox_bad_line", path=str(self.path), line=number)
                continue
            if isinstance(record, PendingEntry):
                self._pending[record.key] = record
            else:
                self._delivered[record.ref] = record.grafana_id

    def _save(self) -> None:
        records: list[PendingEntry | DeliveredRef] = [
            DeliveredRef(ref=ref, grafana_id=gid) for ref, gid in self._delivered.items()
        ]
        records += list(self._pending.values())
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text("".join(r.model_dump_json() + "\n" for r in records))
            os.replace(tmp, self.path)
        except OSError as exc:
            # The agent's own disk trouble must not stop remediation: memory still holds the outbox.
            log.warning("annotation_outbox_write_failed", path=str(self.path), error=str(exc))

    def __len__(self) -> int:
        return len(self._pending)

    def pending(self) -> list[PendingEntry]:
        return list(self._pending.values())

    def head(self) -> PendingEntry | None:
        return next(iter(self._pending.values()), None)

    def knows(self, ref: str) -> bool:
        """Whether a create for `ref` is pending or was delivered (so a PATCH can follow it)."""
        return ref in self._delivered or any(
            e.ref == ref and e.method == "create" for e in self._pending.values()
        )

    def has_key(self, key: str) -> bool:
        return key in self._pending

    def grafana_id(self, ref: str) -> int | None:
        return self._delivered.get(ref)

    def add(self, entry: PendingEntry) -> list[PendingEntry]:
        """Appends `entry`; returns the oldest entries dropped to stay within the bound."""
        dropped = []
        while len(self._pending) >= self.max_pending:
            dropped.append(self._pending.popitem(last=False)[1])
        self._pending[entry.key] = entry
        self._save()
        return dropped

    def attempted(self, key: str) -> None:
        entry = self._pending.get(key)
        if entry is not None:
            entry.attempts += 1
            self._save()

    def remove(self, key: str, *, delivered_ref: str | None = None, grafana_id: int | None = None) -> None:
        """Done with `key`; remembers Grafana's id for `delivered_ref` when a later PATCH may need it."""
        self._pending.pop(key, None)
        if delivered_ref is not None and grafana_id is not None:
            self._delivered[delivered_ref] = grafana_id
            while len(self._delivered) > self.max_delivered:
                self._delivered.popitem(last=False)
        self._save()
