"""Resource pressure the process can really be put under: memory retained per request, busy CPU threads.

Both live only in this process; a restart clears them. Retained memory stays after retaining is turned
off (what a leak leaves behind), up to a cap so the machine survives.
"""

from __future__ import annotations

import threading


class MemoryRetainer:
    def __init__(self, cap_bytes: int) -> None:
        self.cap_bytes = cap_bytes
        self.enabled = False
        self.bytes_per_request = 0
        self._blocks: list[bytes] = []
        self._lock = threading.Lock()
        self.retained_bytes = 0

    def configure(self, enabled: bool, bytes_per_request: int) -> None:
        self.enabled, self.bytes_per_request = enabled, bytes_per_request

    def on_request(self) -> None:
        if not self.enabled or self.bytes_per_request <= 0:
            return
        with self._lock:
            size = min(self.bytes_per_request, self.cap_bytes - self.retained_bytes)
            if size > 0:
                self._blocks.append(b"\x5a" * size)  # written, so the pages are really resident
                self.retained_bytes += size


class CpuBurner:
    """Threads spinning in pure Python: they hold the GIL, so request handling waits its turn too."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    @property
    def threads(self) -> int:
        return sum(1 for t in self._threads if t.is_alive())

    def start(self, threads: int) -> None:
        self.stop()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._spin, args=(self._stop,), name=f"worker-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads = []

    @staticmethod
    def _spin(stop: threading.Event) -> None:
        value = 0
        while not stop.is_set():
            for i in range(10_000):
                value = (value * 31 + i) % 1_000_003
