"""Attacks in flight and recently ended: start, stop (by hand or when their duration runs out), list."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from pydantic import BaseModel

from lab.chaos.catalog import FAULTS, FaultParams
from lab.chaos.faults import DRIVERS, Injection
from lab.chaos.hooks import Hooks, MechanismError

log = structlog.get_logger("chaos.attacks")

AttackStatus = Literal["active", "stopped", "expired"]


class Attack(BaseModel):
    attack_id: str
    fault: str
    status: AttackStatus
    started_at: datetime
    stopped_at: datetime | None = None
    duration_seconds: float | None = None
    params: dict[str, Any] = {}
    details: dict[str, Any] = {}
    persists_after_stop: str = ""
    confirmed: bool = True
    unconfirmed_because: str = ""


class UnknownAttack(Exception):
    pass


class AttackNotActive(Exception):
    pass


class FaultAlreadyActive(Exception):
    def __init__(self, attack_id: str) -> None:
        super().__init__(attack_id)
        self.attack_id = attack_id


class AttackBook:
    """Owns the running injections; one active attack per fault at a time."""

    def __init__(self, hooks: Hooks, history_size: int = 50) -> None:
        self._hooks = hooks
        self._active: dict[str, tuple[Attack, Injection]] = {}
        self._recent: deque[Attack] = deque(maxlen=history_size)
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._lock = asyncio.Lock()

    async def start(self, fault: str, params: FaultParams) -> Attack:
        async with self._lock:
            for attack, _ in self._active.values():
                if attack.fault == fault:
                    raise FaultAlreadyActive(attack.attack_id)
            injection = await DRIVERS[fault](self._hooks, params)
            attack = Attack(
                attack_id=uuid.uuid4().hex,
                fault=fault,
                status="active",
                started_at=datetime.now(UTC),
                duration_seconds=params.duration_seconds,
                params=params.model_dump(exclude_none=True),
                details=injection.details,
                persists_after_stop=FAULTS[fault].persists_after_stop,
                confirmed=not injection.unconfirmed,
                unconfirmed_because=injection.unconfirmed,
            )
            self._active[attack.attack_id] = (attack, injection)
            if params.duration_seconds is not None:
                self._timers[attack.attack_id] = asyncio.create_task(
                    self._expire(attack.attack_id, params.duration_seconds)
                )
        log.info("attack_started", fault=fault, attack_id=attack.attack_id, params=attack.params)
        return attack

    async def stop(self, fault: str, attack_id: str, status: AttackStatus = "stopped") -> Attack:
        """Ends the injection; raises MechanismError (attack stays active) when the undo cannot be driven."""
        async with self._lock:
            if attack_id in self._active:
                attack, injection = self._active[attack_id]
                if attack.fault != fault:
                    raise UnknownAttack(attack_id)
            elif any(a.attack_id == attack_id and a.fault == fault for a in self._recent):
                raise AttackNotActive(attack_id)
            else:
                raise UnknownAttack(attack_id)
            await injection.end()
            del self._active[attack_id]
            timer = self._timers.pop(attack_id, None)
            if timer is not None and timer is not asyncio.current_task():
                timer.cancel()
            ended = attack.model_copy(update={"status": status, "stopped_at": datetime.now(UTC)})
            self._recent.appendleft(ended)
        log.info("attack_stopped", fault=fault, attack_id=attack_id, status=status)
        return ended

    async def _expire(self, attack_id: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        attack = self._active.get(attack_id)
        if attack is None:
            return
        try:
            await self.stop(attack[0].fault, attack_id, status="expired")
        except (MechanismError, UnknownAttack, AttackNotActive) as exc:
            log.warning("attack_expiry_failed", attack_id=attack_id, reason=str(exc))

    def list(self) -> dict[str, list[Attack]]:
        return {"active": [a for a, _ in self._active.values()], "recent": list(self._recent)}

    async def stop_all(self) -> None:
        """On shutdown: end every injection that can be ended (the lock holder above all)."""
        for attack, _ in list(self._active.values()):
            with contextlib.suppress(MechanismError, UnknownAttack, AttackNotActive):
                await self.stop(attack.fault, attack.attack_id)
        for timer in self._timers.values():
            timer.cancel()
