"""Memory a lab service really holds on to, one block per unit of work (a request, a job).

It lives only in the process; a restart clears it. Retained memory stays after retaining is turned
off (what a leak leaves behind), up to a cap so the machine survives.
"""

from __future__ import annotations

import threading


class MemoryRetainer:
    def __init__(self, cap_bytes: int) -> None:
        self.cap_bytes = cap_bytes
        self.enabled = False
        self.bytes_each = 0
        self._blocks: list[bytes] = []
        self._lock = threading.Lock()
        self.retained_bytes = 0

    def configure(self, enabled: bool, bytes_each: int) -> None:
        self.enabled, self.bytes_each = enabled, bytes_each

    def retain(self) -> None:
        """Keeps one more block of `bytes_each` (when enabled and under the cap)."""
        if not self.enabled or self.bytes_each <= 0:
            return
        with self._lock:
            size = min(self.bytes_each, self.cap_bytes - self.retained_bytes)
            if size > 0:
                self._blocks.append(b"\x5a" * size)  # written, so the pages are really resident
                self.retained_bytes += size
