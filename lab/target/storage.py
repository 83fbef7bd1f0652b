"""The data directory and its quota: receipts (one small file per order), spool (export files), usage.

Usage is a full scan every `scan_interval` seconds (done in the background by the app) plus the bytes
this process writes in between, so a write or a metrics read costs no filesystem walk.
Past the quota, writes raise a real ENOSPC OSError.
"""

from __future__ import annotations

import errno
import json
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SPOOL_CHUNK = 1024 * 1024
SPOOL_FILE_MAX = 16 * 1024 * 1024


def tree_size(root: Path) -> int:
    total = 0
    stack = [root]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total


class Storage:
    def __init__(
        self,
        data_dir: Path,
        quota_bytes: int,
        scan_interval: float = 5.0,
        spool_file_max: int = SPOOL_FILE_MAX,
    ) -> None:
        self.data_dir = data_dir
        self.quota_bytes = quota_bytes
        self.spool_file_max = spool_file_max
        self.receipts = data_dir / "receipts"
        self.spool = data_dir / "spool"
        for folder in (data_dir, self.receipts, self.spool):
            folder.mkdir(parents=True, exist_ok=True)
        self._scan_interval = scan_interval
        self._lock = threading.Lock()
        self._filling = False
        self._used = 0
        self._scanned_at = 0.0
        self.refresh()

    def refresh(self) -> int:
        used = tree_size(self.data_dir)
        with self._lock:
            self._used, self._scanned_at = used, time.monotonic()
        return used

    def used_bytes(self) -> int:
        with self._lock:
            return self._used

    def stale(self) -> bool:
        return time.monotonic() - self._scanned_at > self._scan_interval

    def _reserve(self, path: Path, size: int) -> None:
        with self._lock:
            if self._used + size > self.quota_bytes:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            self._used += size

    def _reserve_up_to(self, path: Path, size: int) -> int:
        """Reserves what is left of `size` under the quota: writes of other requests may have taken
        some of the room since it was measured, and a fill goes on up to the quota all the same."""
        with self._lock:
            size = min(size, self.quota_bytes - self._used)
            if size <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            self._used += size
            return size

    def write(self, path: Path, data: bytes) -> None:
        self._reserve(path, len(data))
        with path.open("wb") as handle:
            handle.write(data)

    def write_receipt(self, order: dict[str, Any]) -> Path:
        path = self.receipts / f"{order['id']:08d}.json"
        self.write(path, json.dumps(order, separators=(",", ":")).encode())
        return path

    def fill_spool(self, max_bytes: int | None) -> tuple[int, int]:
        """Writes export files into spool/ until `max_bytes` are written or the quota is reached."""
        self.refresh()
        room = max(0, self.quota_bytes - self.used_bytes())
        remaining = room if max_bytes is None else min(room, max_bytes)
        written = files = 0
        chunk = b"\0" * SPOOL_CHUNK
        while remaining > 0:
            path = self.spool / f"export-{time.time_ns()}.dat"
            try:
                size = self._reserve_up_to(path, min(remaining, self.spool_file_max))
            except OSError:
                break  # full: where a fill was going
            with path.open("wb") as handle:
                left = size
                while left > 0:
                    handle.write(chunk[: min(left, SPOOL_CHUNK)])
                    left -= min(left, SPOOL_CHUNK)
            written, files, remaining = written + size, files + 1, remaining - size
        return written, files

    def start_fill(self, max_bytes: int | None) -> int | None:
        """Starts `fill_spool` in a background thread; returns the bytes it means to write, None when a
        fill is already running. Whoever asked gets an answer at once, however slow the disk."""
        with self._lock:
            if self._filling:
                return None
            self._filling = True
        self.refresh()
        room = max(0, self.quota_bytes - self.used_bytes())
        planned = room if max_bytes is None else min(room, max_bytes)
        threading.Thread(target=self._fill, args=(planned,), name="spool-writer", daemon=True).start()
        return planned

    def _fill(self, size: int) -> None:
        try:
            self.fill_spool(size)
        except OSError:
            pass  # other writes took the last room first: the disk is full, which is where this was going
        finally:
            with self._lock:
                self._filling = False

    def clean(self, extra: Iterable[Path] = ()) -> tuple[int, int]:
        """Deletes spool files (and `extra`, e.g. rotated logs); returns (freed bytes, removed files)."""
        freed = removed = 0
        for path in [*self.spool.iterdir(), *extra]:
            try:
                if path.is_file():
                    size = path.stat().st_size
                    path.unlink()
                    freed, removed = freed + size, removed + 1
            except OSError:
                continue
        self.refresh()
        return freed, removed
