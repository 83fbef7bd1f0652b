"""Whether one planned action may run now, must wait, or needs a human first; limits are per service.

Budgets per incident and per hour, the cooldown and the circuit breakers count one service's actions
only (the action ledger in the store carries the service): pages for one service cannot use up
another's. A service's catalog entry may set its own limits and mode; the settings are the default.

`wait` is not `skip`: while the same action was just run on this service by another incident, or
another incident of this service is remediating or verifying, the next approach is not tried in its
place (a riskier one, 15 ms after the first fix). The plan waits and looks again: the other fix may
already be the answer. The cooldown ignores this incident's own earlier calls: inside one incident the
plan never repeats an approach, and its escalation steps (same action, stronger params) must not wait.

The wait for another incident's verification ends early for a different problem: once that fix has
had the service's settle time to show (its signals then cover only time after it) and this incident,
looked at since, still shows its own diagnosis, different from the other's, the other fix was not its
answer. Waiting on would leave this problem on, and it may be what keeps the other fix from verifying
(its failures count in the other fix's checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, TypeVar

from agent.catalog.services import AgentMode, GuardrailOverrides
from agent.config import Settings
from agent.guardrails.breaker import CircuitBreakers
from agent.guardrails.kill_switch import KillSwitch
from agent.incidents.models import Incident, utcnow
from agent.incidents.store import IncidentStore

Verdict = Literal["allow", "approval", "wait", "skip", "stop"]
BUSY = frozenset({"remediating", "verifying"})
ENDED = frozenset({"succeeded", "failed", "unknown"})  # an action call that is over, whatever it did
T = TypeVar("T")


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str = ""
    wait_seconds: float = 0.0
    wait_for: str | None = None  # the incident whose fix is being verified first
    # waiting for another incident's fix: when to look at the service again for this incident's own
    # problem (seconds from now; None: only once that incident is done, it may be this same problem)
    look_after: float | None = None


@dataclass(frozen=True)
class Limits:
    """A service's effective guardrails: its catalog overrides over the settings."""

    max_actions_per_incident: int
    max_actions_per_hour: int
    action_cooldown_seconds: float
    min_confidence: float
    max_attempts: int
    mode: AgentMode

    @classmethod
    def of(cls, settings: Settings, overrides: GuardrailOverrides | None = None) -> Limits:
        o = overrides or GuardrailOverrides()
        return cls(
            max_actions_per_incident=_or(o.max_actions_per_incident, settings.MAX_ACTIONS_PER_INCIDENT),
            max_actions_per_hour=_or(o.max_actions_per_hour, settings.MAX_ACTIONS_PER_HOUR),
            action_cooldown_seconds=_or(o.action_cooldown_seconds, settings.ACTION_COOLDOWN_SECONDS),
            min_confidence=_or(o.min_confidence, settings.MIN_CONFIDENCE),
            max_attempts=_or(o.max_attempts, settings.MAX_ATTEMPTS),
            mode=_or(o.mode, settings.AGENT_MODE),
        )


def look_after_seconds(other: Incident, diagnosis_id: str | None, settle_seconds: float) -> float | None:
    """For an incident with a different diagnosis, seconds until `other`'s fix has had the settle time
    to show (0: it has; while it still runs, at least the settle time); None, for the same problem or
    one not known yet: wait until `other` is done."""
    if diagnosis_id is None or other.diagnosis_id in (None, diagnosis_id):
        return None
    ended = [a.finished_at for a in other.actions if a.status in ENDED and a.finished_at is not None]
    if other.status != "verifying" or not ended:
        return settle_seconds
    return max(0.0, settle_seconds - (utcnow() - max(ended)).total_seconds())


def _or(value: T | None, default: T) -> T:
    return default if value is None else value


class Guardrails:
    def __init__(
        self, settings: Settings, store: IncidentStore, kill_switch: KillSwitch, breakers: CircuitBreakers
    ) -> None:
        self.settings = settings
        self.store = store
        self.kill_switch = kill_switch
        self.breakers = breakers

    async def check(
        self,
        incident_id: str,
        service: str,
        action: str,
        risk: str,
        executed_in_incident: int,
        limits: Limits,
        diagnosis_id: str | None = None,
        settle_seconds: float = 0.0,
    ) -> Decision:
        """`stop` ends planning for this incident; `skip` tries the next approach; `wait` looks again.
        `diagnosis_id`: this incident's, fresh; `settle_seconds`: how long a fix takes to show on the
        service."""
        if self.kill_switch.engaged:
            return Decision("stop", "kill switch engaged: remediation disabled")
        if executed_in_incident >= limits.max_actions_per_incident:
            return Decision(
                "stop", f"action budget for this incident used ({limits.max_actions_per_incident})"
            )
        recent = await self.store.actions_in_last(3600, service=service)
        if len(recent) >= limits.max_actions_per_hour:
            return Decision("stop", f"hourly action budget of {service} used ({limits.max_actions_per_hour})")
        cooldown = limits.action_cooldown_seconds
        last = max(
            (ts for owner, name, ts in recent if name == action and owner != incident_id), default=None
        )
        if last is not None and last >= utcnow() - timedelta(seconds=cooldown):
            left = cooldown - (utcnow() - last).total_seconds()
            return Decision(
                "wait",
                f"{action} ran on {service} {cooldown - left:.0f}s ago (cooldown {cooldown:.0f}s)",
                left,
            )
        for other in await self.store.open_for_service(service):
            if other.id == incident_id or other.status not in BUSY:
                continue
            look = look_after_seconds(other, diagnosis_id, settle_seconds)
            if other.status == "verifying" and look == 0:
                continue  # its fix had its time to show, and this incident still shows another problem
            return Decision(
                "wait", f"{other.id} is remediating {service}: its fix is verified first", 0.0, other.id, look
            )
        if self.breakers.is_open(service, action):
            return Decision("skip", f"circuit breaker open for {action} on {service}")
        if risk == "high":
            return Decision("approval", "high-risk action needs a human")
        if limits.mode == "approval":
            return Decision("approval", "approval mode")
        return Decision("allow")
