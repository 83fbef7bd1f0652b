"""What `/health` reports about the agent's own degraded modes, recorded where they happen.

The knowledge store and the LLM diagnoser are wrapped once by the app factory: the wrapper passes
every call through and keeps the last failure and the recent fallbacks, so the workflow (which
already degrades on its own) needs no change and `/health` can say what is degraded and since when.
Nothing here is a metric label: the metrics keep their bounded labels, this is for people and probes.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECENT_SECONDS = 300.0  # "recent" for fallbacks and refusals: a few incidents' worth, one Grafana panel


class RecentEvents:
    """Timestamps of events (with a short reason) over the last RECENT_SECONDS, bounded in memory."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, keep: int = 1000) -> None:
        self._clock = clock
        self._events: deque[tuple[float, str]] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def add(self, reason: str = "") -> None:
        with self._lock:
            self._events.append((self._clock(), reason))

    def recent(self) -> list[str]:
        since = self._clock() - RECENT_SECONDS
        with self._lock:
            return [reason for at, reason in self._events if at >= since]


@dataclass
class Failure:
    operation: str
    error: str
    at: float  # time.time()


class KnowledgeWatch:
    """The knowledge store, passed through; remembers the last failed call of each kind of operation."""

    WATCHED = frozenset({"add_incident", "search_incidents", "search_runbooks", "sync_runbooks"})

    def __init__(self, store: Any, path: Path, set_aside: list[str]) -> None:
        self.store = store
        self.path = path
        self.set_aside_at_start = set_aside  # names of files the store moved aside as unreadable
        self.weaviate_fallbacks = RecentEvents()
        self.last_failure: Failure | None = None
        self._parsed: tuple[tuple[int, int], bool] | None = None

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.store, name)
        if name not in self.WATCHED or not callable(attribute):
            return attribute

        def watched(*args: Any, **kwargs: Any) -> Any:
            try:
                result = attribute(*args, **kwargs)
            except Exception as exc:
                self.last_failure = Failure(name, type(exc).__name__, time.time())
                raise
            if self.last_failure is not None and self.last_failure.operation == name:
                self.last_failure = None  # the same operation works again
            return result

        return watched

    def writable(self) -> bool:
        """Can a file be created next to the knowledge file now (what the store's atomic save does)."""
        directory = self.path.parent
        while not directory.exists() and directory != directory.parent:
            directory = directory.parent  # the store creates missing directories on its first write
        try:
            fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.probe.", dir=directory)
        except OSError:
            return False
        os.close(fd)
        Path(name).unlink(missing_ok=True)
        return True

    def readable(self) -> bool:
        """Does the file on disk parse (cached by size and mtime: a scrape-rate probe stays cheap).
        A missing file is fine: it is written with the first incident."""
        try:
            stat = self.path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return True
        except OSError:
            return False
        key = (stat.st_mtime_ns, stat.st_size)
        if self._parsed is None or self._parsed[0] != key:
            try:
                ok = isinstance(json.loads(self.path.read_text(encoding="utf-8")), dict)
            except (OSError, ValueError):
                ok = False
            self._parsed = (key, ok)
        return self._parsed[1]


def corrupt_copies(path: Path) -> set[str]:
    """The files the embedded store set aside as unreadable (`<name>.corrupt-<time>`)."""
    try:
        return {p.name for p in path.parent.glob(f"{path.name}.corrupt-*")}
    except OSError:
        return set()


class LLMWatch:
    """The LLM diagnoser, passed through; remembers each recent call's result (ok or fallback reason).

    litellm itself is imported when the diagnoser is loaded (`agent.loaders.load_reasoning`), at
    start-up: imported on first use inside the event loop, it froze the webhook and the API for seconds
    during the first LLM-diagnosed incident.
    """

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.calls = RecentEvents()
        self.last_result: str | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.llm, name)

    async def diagnose(self, *args: Any, **kwargs: Any) -> Any:
        try:
            outcome = await self.llm.diagnose(*args, **kwargs)
        except Exception:
            self._record("error")
            raise
        reason = getattr(outcome, "fallback_reason", None)
        self._record("ok" if getattr(outcome, "diagnosis", None) is not None else str(reason or "error"))
        return outcome

    def _record(self, result: str) -> None:
        self.calls.add(result)
        self.last_result = result
