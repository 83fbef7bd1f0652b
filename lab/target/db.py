"""The orders database: SQLite (WAL, busy timeout) behind a SQLAlchemy QueuePool whose checkouts are tracked.

Checkout times come from pool events, so `reclaim` can invalidate connections held too long and give their
slots back; invalidating a pooled connection closes the DBAPI connection and checks the record back in.
`connect()` also tracks scope: a connection still checked out after the `with` block that took it ended
is abandoned (its owner is gone). With the reaper on, abandoned connections are reclaimed at once on
each tick and whenever a checkout would have to wait (like DBCP's removeAbandonedOnBorrow), so a
code path that forgets to return connections cannot starve the pool. `leak_enabled` is such a path:
handlers keep their connections (references held here) instead of returning them.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import PoolProxiedConnection, QueuePool

from lab.target.config import Settings
from lab.target.logbuffer import LogBuffer
from lab.target.schemas import PoolHealth, PoolStatus


def pool_health(utilization: float, waiting: int) -> PoolHealth:
    if utilization >= 90.0 or waiting > 0:
        return "critical"
    return "warning" if utilization >= 70.0 else "healthy"


class Database:
    def __init__(self, settings: Settings, log: LogBuffer | None = None) -> None:
        self._log = log
        self.path: Path = settings.db_path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_ms = int(settings.db_busy_timeout_seconds * 1000)
        self._probe_timeout = settings.db_probe_timeout_seconds
        self.size = settings.pool_size
        self.max_overflow = settings.pool_max_overflow
        self.timeout = settings.pool_timeout_seconds
        self.engine: Engine = create_engine(
            f"sqlite:///{self.path}",
            poolclass=QueuePool,
            pool_size=settings.pool_size,
            max_overflow=settings.pool_max_overflow,
            pool_timeout=settings.pool_timeout_seconds,
            connect_args={"timeout": settings.db_busy_timeout_seconds, "check_same_thread": False},
        )
        self._lock = threading.Lock()
        self._held: dict[int, tuple[float, PoolProxiedConnection]] = {}
        self._kept: dict[int, Connection] = {}
        self._scoped: set[int] = set()
        self._local = threading.local()
        self._reclaim_lock = threading.Lock()
        self._waiting = 0
        self.leak_enabled = False
        self.reaper_seconds: float | None = None
        event.listen(self.engine, "connect", self._on_connect)
        event.listen(self.engine, "checkout", self._on_checkout)
        event.listen(self.engine, "checkin", self._on_checkin)

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    def _on_checkout(self, _dbapi: Any, record: Any, proxy: PoolProxiedConnection) -> None:
        with self._lock:
            self._held[id(record)] = (time.monotonic(), proxy)
            if getattr(self._local, "scoped", False):  # same thread, inside connect(): owned from the start
                self._scoped.add(id(proxy))

    def _on_checkin(self, _dbapi: Any, record: Any) -> None:
        with self._lock:
            self._held.pop(id(record), None)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A pooled connection; returned to the pool afterwards unless the leak flag keeps it."""
        full = self._full()
        if full and self.reaper_seconds is not None and self.reclaim(self.reaper_seconds, abandoned=True):
            full = self._full()
        if full:
            with self._lock:
                self._waiting += 1
        self._local.scoped = True
        try:
            connection = self.engine.connect()
        finally:
            self._local.scoped = False
            if full:
                with self._lock:
                    self._waiting -= 1
        scope = id(connection.connection)
        try:
            yield connection
        finally:
            with self._lock:
                self._scoped.discard(scope)
            if self.leak_enabled:
                self._keep(connection)
            else:
                connection.close()

    def _full(self) -> bool:
        return int(self.engine.pool.checkedout()) >= self.size + self.max_overflow  # type: ignore[attr-defined]

    def _keep(self, connection: Connection) -> None:
        try:
            if connection.in_transaction():
                connection.rollback()
            proxy = connection.connection
        except Exception:  # an already-invalid connection is simply closed
            connection.close()
            return
        with self._lock:
            self._kept[id(proxy)] = connection

    def reclaimable(self, max_held_seconds: float, abandoned: bool = False) -> list[PoolProxiedConnection]:
        """Connections held longer than `max_held_seconds` (and, if asked, those whose scope has ended)."""
        cutoff = time.monotonic() - max_held_seconds
        with self._lock:
            return [
                proxy
                for since, proxy in self._held.values()
                if since <= cutoff or (abandoned and id(proxy) not in self._scoped)
            ]

    def reclaim(self, max_held_seconds: float, abandoned: bool = False) -> int:
        """Invalidates the reclaimable connections; their slots return to the pool."""
        reclaimed = 0
        with self._reclaim_lock:
            for proxy in self.reclaimable(max_held_seconds, abandoned):
                try:
                    if proxy.is_valid:
                        proxy.invalidate()
                        reclaimed += 1
                except Exception:  # raced with a normal check-in: nothing left to reclaim
                    continue
                finally:
                    with self._lock:
                        self._kept.pop(id(proxy), None)
        if reclaimed and abandoned and self._log is not None:
            self._log.warning(
                "reclaimed database connections not returned to the pool",
                count=reclaimed,
                max_held_seconds=max_held_seconds,
            )
        return reclaimed

    def dispose(self) -> int:
        """Closes every pooled connection and starts a fresh pool; kept connections are invalidated first."""
        with self._lock:
            kept = list(self._kept.values())
            self._kept.clear()
        for connection in kept:
            try:
                connection.invalidate()
            except Exception:
                continue
        self.engine.dispose()
        with self._lock:
            self._held.clear()
        return len(kept)

    def status(self) -> PoolStatus:
        pool = self.engine.pool
        checked_out = int(pool.checkedout())  # type: ignore[attr-defined]
        capacity = self.size + self.max_overflow
        utilization = round(100.0 * checked_out / capacity, 1) if capacity else 100.0
        with self._lock:
            waiting = self._waiting
        return PoolStatus(
            size=int(pool.size()),  # type: ignore[attr-defined]
            checked_out=checked_out,
            overflow=int(pool.overflow()),  # type: ignore[attr-defined]
            max_overflow=self.max_overflow,
            checked_in=int(pool.checkedin()),  # type: ignore[attr-defined]
            waiting=waiting,
            utilization=utilization,
            pool_health=pool_health(utilization, waiting),
            timeout_seconds=self.timeout,
            leak_reaper_seconds=self.reaper_seconds,
        )

    def probe(self) -> tuple[float, str | None]:
        """Read, then take and release the write lock, on a fresh connection outside the pool.

        Returns (latency seconds, problem or None). Short timeout: a locked database shows up quickly.
        """
        started = time.monotonic()
        try:
            connection = sqlite3.connect(self.path, timeout=self._probe_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            return time.monotonic() - started, f"connect: {exc}"
        try:
            try:
                connection.execute("SELECT count(*) FROM orders").fetchone()
            except sqlite3.Error as exc:
                return time.monotonic() - started, f"read: {exc}"
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("ROLLBACK")
            except sqlite3.Error as exc:
                return time.monotonic() - started, f"write: {exc}"
            return time.monotonic() - started, None
        finally:
            connection.close()

    def close(self) -> None:
        self.dispose()
