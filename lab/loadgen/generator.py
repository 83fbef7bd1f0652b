"""Open-loop load: requests leave on a fixed schedule whatever the service's latency.

A slow service therefore piles up in-flight requests (as real users would) up to `max_in_flight`;
beyond that new requests are dropped and counted. After a stall the schedule restarts from now
instead of bursting to catch up.
"""

from __future__ import annotations

import asyncio
import random
import time

import httpx
from pydantic import BaseModel

ITEMS = ("widget", "gadget", "sprocket", "gizmo", "bracket", "flange", "gasket")
MAX_LAG_SECONDS = 1.0


class LoadStatus(BaseModel):
    rate_rps: float
    multiplier: float
    effective_rps: float
    sent: int
    ok: int
    errors: int
    throttled: int
    dropped: int
    in_flight: int


class OpenLoop:
    """The schedule and the bookkeeping every kind of traffic shares; `_one` sends one request."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        rate_rps: float,
        max_in_flight: int = 100,
        timeout: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._rng = rng or random.Random()
        self.rate_rps = rate_rps
        self.multiplier = 1.0
        self._max_in_flight = max_in_flight
        self._timeout = timeout
        self._in_flight: set[asyncio.Task[None]] = set()
        self.sent = self.ok = self.errors = self.throttled = self.dropped = 0

    @property
    def effective_rps(self) -> float:
        return self.rate_rps * self.multiplier

    def status(self) -> LoadStatus:
        return LoadStatus(
            rate_rps=self.rate_rps,
            multiplier=self.multiplier,
            effective_rps=self.effective_rps,
            sent=self.sent,
            ok=self.ok,
            errors=self.errors,
            throttled=self.throttled,
            dropped=self.dropped,
            in_flight=len(self._in_flight),
        )

    async def run(self) -> None:
        next_at = time.monotonic()
        while True:
            rate = self.effective_rps
            if rate <= 0:
                await asyncio.sleep(0.1)
                next_at = time.monotonic()
                continue
            now = time.monotonic()
            if next_at > now:
                await asyncio.sleep(next_at - now)
            elif now - next_at > MAX_LAG_SECONDS:
                next_at = now
            self._fire()
            next_at += 1.0 / rate

    async def stop(self) -> None:
        for task in list(self._in_flight):
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)

    def _fire(self) -> None:
        if len(self._in_flight) >= self._max_in_flight:
            self.dropped += 1
            return
        task = asyncio.create_task(self._one())
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _one(self) -> None:
        raise NotImplementedError

    async def _send(self, method: str, url: str, body: dict[str, object] | None) -> httpx.Response | None:
        """Sends and counts the answer: ok, throttled (429) or error; None when nothing came back."""
        self.sent += 1
        try:
            response = await self._http.request(method, url, json=body, timeout=self._timeout)
        except httpx.HTTPError:
            self.errors += 1
            return None
        if response.status_code == 429:
            self.throttled += 1
        elif response.status_code < 400:
            self.ok += 1
        else:
            self.errors += 1
        return response


class LoadGenerator(OpenLoop):
    """Orders traffic: 70% reads (a list, or an order seen in a list), 30% new orders."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        target_url: str,
        rate_rps: float,
        read_ratio: float = 0.7,
        max_in_flight: int = 100,
        timeout: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(http, target_url, rate_rps, max_in_flight, timeout, rng)
        self._read_ratio = read_ratio
        self._known_ids: list[int] = []

    def _request(self) -> tuple[str, str, dict[str, object] | None]:
        rng = self._rng
        if rng.random() >= self._read_ratio:
            return "POST", "/api/v1/orders", {"item": rng.choice(ITEMS), "quantity": rng.randint(1, 5)}
        if self._known_ids and rng.random() < 0.5:
            return "GET", f"/api/v1/orders/{rng.choice(self._known_ids)}", None
        return "GET", "/api/v1/orders?limit=20", None

    async def _one(self) -> None:
        method, path, body = self._request()
        response = await self._send(method, self._base + path, body)
        if response is not None and response.status_code < 400 and path.startswith("/api/v1/orders?"):
            self._remember(response)

    def _remember(self, response: httpx.Response) -> None:
        try:
            ids = [int(o["id"]) for o in response.json().get("orders", [])]
        except (ValueError, TypeError, KeyError, AttributeError):
            return
        if ids:
            self._known_ids = ids[:50]
