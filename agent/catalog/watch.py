"""Noticing that a folder of files people edit has changed, cheaply: names, inodes, sizes, mtimes.

A file written in the same clock tick as the look can change again without changing its mtime (the
"racily clean" problem git has): while any file is that recent, the next look says "changed" again, so
the caller re-reads (and compares content hashes) until the folder has been still for a moment.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

RACY_SECONDS = 2.0
Fingerprint = tuple[tuple[str, int, int, int], ...]


def fingerprint(files: list[Path]) -> Fingerprint:
    stats = [(str(f), os.stat(f)) for f in files]
    return tuple((name, st.st_ino, st.st_size, st.st_mtime_ns) for name, st in stats)


class FolderWatch:
    def __init__(self) -> None:
        self._last: Fingerprint | None = None

    def changed(self, files: list[Path]) -> bool:
        """True when the files differ from the last look (or were too recent to trust); raises OSError."""
        current = fingerprint(files)
        if current == self._last:
            return False
        newest = max((mtime for _, _, _, mtime in current), default=0)
        racy = time.time_ns() - newest < RACY_SECONDS * 1e9
        self._last = None if racy else current
        return True

    def forget(self) -> None:
        """The next look reports a change whatever the files (after a failed re-sync, say)."""
        self._last = None
