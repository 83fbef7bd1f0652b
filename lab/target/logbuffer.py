"""The service's structured log: a ring buffer `GET /api/v1/logs` reads, mirrored to a JSON-lines file.

Lines describe what an operator would see from a real service (event + fields + traceback). The file
rotates once at `max_bytes` into `<file>.1`; `/admin/disk/clean` may delete rotated files.
"""

from __future__ import annotations

import json
import threading
import traceback
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

from lab.target.schemas import LogLevel, LogLine

LEVELS: dict[str, int] = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
FieldValue = str | int | float | bool | None
TRACEBACK_MAX_CHARS = 4000  # the innermost frames and the exception line are at the end


class LogBuffer:
    def __init__(
        self, path: Path, capacity: int = 2000, max_bytes: int = 10 * 1024 * 1024, min_level: str = "INFO"
    ) -> None:
        self._lines: deque[LogLine] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._path = path
        self._max_bytes = max_bytes
        self._min_level = LEVELS.get(min_level.upper(), 20)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    @property
    def path(self) -> Path:
        return self._path

    def log(
        self, level: LogLevel, event: str, exc: BaseException | None = None, **fields: FieldValue
    ) -> None:
        if LEVELS[level] < self._min_level:
            return
        tb = "".join(traceback.format_exception(exc))[-TRACEBACK_MAX_CHARS:] if exc is not None else None
        line = LogLine(
            ts=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            level=level,
            event=event,
            fields=fields,
            traceback=tb,
        )
        text = json.dumps(line.model_dump(exclude_none=True), separators=(",", ":"))
        with self._lock:
            self._lines.append(line)
            try:
                self._file.write(text + "\n")
                self._file.flush()
                if self._file.tell() > self._max_bytes:
                    self._rotate()
            except (OSError, ValueError):
                pass  # a full or closed log volume must not take requests down; the ring still has it

    def info(self, event: str, **fields: FieldValue) -> None:
        self.log("INFO", event, None, **fields)

    def warning(self, event: str, exc: BaseException | None = None, **fields: FieldValue) -> None:
        self.log("WARNING", event, exc, **fields)

    def error(self, event: str, exc: BaseException | None = None, **fields: FieldValue) -> None:
        self.log("ERROR", event, exc, **fields)

    def query(
        self, level: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[LogLine]:
        """The newest `limit` lines at or above `level` and at or after `since`, oldest first."""
        floor = LEVELS[level] if level else 0
        since_text = (
            since.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if since else ""
        )
        with self._lock:
            lines = list(self._lines)
        picked = [ln for ln in lines if LEVELS[ln.level] >= floor and ln.ts >= since_text]
        return picked[-limit:] if limit else []

    def rotated_files(self) -> list[Path]:
        return sorted(self._path.parent.glob(self._path.name + ".*"))

    def _rotate(self) -> None:
        self._file.close()
        self._path.replace(self._path.with_name(self._path.name + ".1"))
        self._file = self._path.open("a", encoding="utf-8")

    def close(self) -> None:
        with self._lock:
            self._file.close()
