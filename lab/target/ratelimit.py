"""A token bucket for business requests: `rate` tokens a second, a burst of one second's worth."""

from __future__ import annotations

import threading
import time


class TokenBucket:
    def __init__(self, rate: float | None = None) -> None:
        self._lock = threading.Lock()
        self.rate: float | None = None
        self._tokens = 0.0
        self._updated = time.monotonic()
        self.configure(rate)

    def configure(self, rate: float | None) -> None:
        """`None` turns limiting off."""
        with self._lock:
            self.rate = rate
            self._tokens = max(1.0, rate or 0.0)
            self._updated = time.monotonic()

    def allow(self) -> bool:
        with self._lock:
            if self.rate is None:
                return True
            now = time.monotonic()
            burst = max(1.0, self.rate)
            self._tokens = min(burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False
