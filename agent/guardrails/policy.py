"""Whether one planned action may run now, and whether a human must approve it first.

The per-incident budget counts this incident's executed actions; the per-hour budget and the cooldown
count the action ledger in the store (all incidents, across restarts). The cooldown is per action name
and ignores this incident's own earlier calls: inside one incident the plan never repeats an approach,
and its escalation steps (same action, stronger params) must not wait two minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from agent.config import Settings
from agent.guardrails.breaker import CircuitBreakers
from agent.guardrails.kill_switch import KillSwitch
from agent.incidents.models import utcnow
from agent.incidents.store import IncidentStore

Verdict = Literal["allow", "approval", "skip", "stop"]


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str = ""


class Guardrails:
    def __init__(
        self, settings: Settings, store: IncidentStore, kill_switch: KillSwitch, breakers: CircuitBreakers
    ) -> None:
        self.settings = settings
        self.store = store
        self.kill_switch = kill_switch
        self.breakers = breakers

    def check(self, incident_id: str, action: str, risk: str, executed_in_incident: int) -> Decision:
        """`stop` ends planning for this incident; `skip` moves on to the next approach."""
        settings = self.settings
        if self.kill_switch.engaged:
            return Decision("stop", "kill switch engaged: remediation disabled")
        if executed_in_incident >= settings.MAX_ACTIONS_PER_INCIDENT:
            return Decision(
                "stop", f"action budget for this incident used ({settings.MAX_ACTIONS_PER_INCIDENT})"
            )
        recent = self.store.actions_in_last(3600)
        if len(recent) >= settings.MAX_ACTIONS_PER_HOUR:
            return Decision("stop", f"hourly action budget used ({settings.MAX_ACTIONS_PER_HOUR})")
        cooldown_start = utcnow() - timedelta(seconds=settings.ACTION_COOLDOWN_SECONDS)
        if any(
            name == action and ts >= cooldown_start and owner != incident_id for owner, name, ts in recent
        ):
            return Decision("skip", f"{action} is cooling down ({settings.ACTION_COOLDOWN_SECONDS:.0f}s)")
        if self.breakers.is_open(action):
            return Decision("skip", f"circuit breaker open for {action}")
        if risk == "high":
            return Decision("approval", "high-risk action needs a human")
        if settings.AGENT_MODE == "approval":
            return Decision("approval", "approval mode")
        return Decision("allow")
