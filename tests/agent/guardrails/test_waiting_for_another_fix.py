"""When an incident waits for another incident's fix on the same service, and for how long: the same
problem (or one not known yet) waits until that incident is done; a different one only until that fix
has had the service's settle time to show, and never while it still runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agent.domain.diagnosis import Diagnosis
from agent.guardrails.policy import look_after_seconds
from agent.incidents.models import ActionRecord, Incident, utcnow


def other(status: str, diagnosis: str | None = "bad-release", ended_ago: float | None = 2.0) -> Incident:
    actions = []
    if ended_ago is not None:
        ended = utcnow() - timedelta(seconds=ended_ago)
        actions = [ActionRecord(key="k", action="rollback-release", status="succeeded", finished_at=ended)]
    return Incident(
        id="other",
        status=status,
        service="target",
        diagnosis=Diagnosis(diagnosis_id=diagnosis, confidence=0.9) if diagnosis else None,
        actions=actions,
    )


@pytest.mark.parametrize(
    ("incident", "mine"),
    [
        (other("verifying"), "bad-release"),  # the same problem: its fix may be the answer
        (other("verifying"), None),  # this one is not known yet
        (other("verifying", diagnosis=None), "db-pool-exhaustion"),  # nor the other
    ],
)
def test_the_same_or_an_unknown_problem_waits_until_the_other_is_done(
    incident: Incident, mine: str | None
) -> None:
    assert look_after_seconds(incident, mine, settle_seconds=10) is None


def test_a_different_problem_waits_for_the_rest_of_the_settle_time() -> None:
    left = look_after_seconds(other("verifying", ended_ago=4.0), "db-pool-exhaustion", settle_seconds=10)
    assert left is not None and 5.5 < left <= 6.0


def test_a_different_problem_need_not_wait_once_the_other_fix_had_its_settle_time() -> None:
    assert (
        look_after_seconds(other("verifying", ended_ago=11.0), "db-pool-exhaustion", settle_seconds=10) == 0
    )


@pytest.mark.parametrize("ended_ago", [None, 30.0])
def test_while_the_other_fix_runs_a_different_problem_waits_at_least_the_settle_time(
    ended_ago: float | None,
) -> None:
    """Remediating: its action is in flight (an earlier one may have ended long ago)."""
    assert (
        look_after_seconds(other("remediating", ended_ago=ended_ago), "db-pool-exhaustion", settle_seconds=10)
        == 10
    )
