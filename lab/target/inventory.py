"""The client for the inventory service (stock levels), with a fallback to the last known levels.

With fallback on, no call is made: orders use the last level seen for the item (or a configured
default), which keeps orders flowing while the inventory service is slow or down.
"""

from __future__ import annotations

import time

import httpx
from pydantic import BaseModel, ValidationError

from lab.target.logbuffer import LogBuffer
from lab.target.telemetry import Telemetry


class Stock(BaseModel):
    item: str
    available: int


class InventoryUnavailable(Exception):
    """The inventory service did not answer usefully; the message is safe to show and log."""


class Inventory:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        timeout: float,
        fallback_stock: int,
        telemetry: Telemetry,
        log: LogBuffer,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._fallback_stock = fallback_stock
        self._telemetry = telemetry
        self._log = log
        self._last_known: dict[str, int] = {}
        self.fallback = False
        self.recent: list[tuple[float, bool]] = []  # (unix time, ok) of the last calls, newest last

    async def available(self, item: str) -> int:
        if self.fallback:
            return self._last_known.get(item, self._fallback_stock)
        started = time.monotonic()
        try:
            response = await self._http.get(f"{self._base}/api/v1/stock/{item}", timeout=self._timeout)
            response.raise_for_status()
            stock = Stock.model_validate_json(response.content)
        except httpx.TimeoutException as exc:
            self._record(started, ok=False)
            self._log.error(
                "dependency call timed out", service="inventory", timeout_seconds=self._timeout, item=item
            )
            raise InventoryUnavailable("inventory service timed out") from exc
        except (httpx.HTTPError, ValidationError) as exc:
            self._record(started, ok=False)
            self._log.error(
                "dependency call failed",
                service="inventory",
                error=f"{type(exc).__name__}: {exc}"[:200],
                item=item,
            )
            raise InventoryUnavailable("inventory service unavailable") from exc
        self._record(started, ok=True)
        self._last_known[item] = stock.available
        return stock.available

    def _record(self, started: float, ok: bool) -> None:
        self._telemetry.record_dependency(time.monotonic() - started, failed=not ok)
        self.recent = [*self.recent[-19:], (time.time(), ok)]
