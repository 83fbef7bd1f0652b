"""What a fault really is and what really fixes it, as the chaos server's catalog says."""

from __future__ import annotations

import httpx
from pydantic import BaseModel, ConfigDict

# Actions that disrupt users when they run for nothing: a wrong one of these counts as harm.
DISRUPTIVE_ACTIONS = frozenset({"restart-target", "rollback-release", "kill-blocking-queries"})


class FaultTruth(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    service: str = "target"
    expected_diagnosis: str
    fixed_by: list[str]
    not_fixed_by: list[str] = []

    def is_right_fix(self, action: str) -> bool:
        return action in self.fixed_by

    def is_harmful(self, action: str) -> bool:
        """A disruptive action that does not fix this fault (restart on a bad release, say)."""
        return action not in self.fixed_by and (action in self.not_fixed_by or action in DISRUPTIVE_ACTIONS)


def load_ground_truth(chaos_url: str, token: str = "", timeout: float = 5.0) -> dict[str, FaultTruth]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{chaos_url}/api/v1/faults", headers=headers, timeout=timeout)
    response.raise_for_status()
    body = response.json()
    faults = body.get("faults", body) if isinstance(body, dict) else body
    return {fault["name"]: FaultTruth.model_validate(fault) for fault in faults}
