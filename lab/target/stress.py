"""Resource pressure the process can really be put under: busy CPU threads (memory retained
per request is `lab.memory_retainer`). The threads live only in this process; a restart ends them.
"""

from __future__ import annotations

import threading


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
