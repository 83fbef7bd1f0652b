"""What the storm's load steps measured and the capacity they show: pure functions on measurements, so
the judgement is tested on steps written by hand and the storm only measures.

A step offers a rate for some seconds. It is held when every request was answered 2xx, the p99 stayed
within the bound, and the load generator got its requests out: its workers wait for each answer
before the next request, so a server that slows down is sent less than offered, and a p99 measured on
fewer requests than offered would flatter it. The capacity is the highest rate held with every lower
rate held too: a step that holds above one that failed is luck, not capacity. After the first miss the
gap below it is halved a few times (`next_rate`), so a capacity between two of the offered rates shows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

HELD_SHARE = 0.9  # of the requests planned at the offered rate, sent and answered


@dataclass(frozen=True)
class Step:
    rate: float  # offered, requests per second
    seconds: float
    planned: int  # the requests the load generator sends in `seconds` at `rate` if answers come at once
    answers: Mapping[int, int] = field(default_factory=dict)  # by HTTP status
    errors: int = 0  # requests with no answer: refused, reset, timed out
    p50: float | None = None  # seconds, over the answered requests
    p99: float | None = None

    @property
    def answered(self) -> int:
        return sum(self.answers.values())

    @property
    def sent_per_second(self) -> float:
        return (self.answered + self.errors) / self.seconds

    def refusal(self, bound: float) -> str:
        """Why the step was not held ("" when it was)."""
        if self.errors:
            return f"{self.errors} unanswered"
        if not self.answered:
            return "no answer"
        if refused := sum(n for status, n in self.answers.items() if not 200 <= status < 300):
            return f"{refused} not 2xx"
        if self.p99 is None or self.p99 > bound:
            return "p99 over the bound"
        if self.answered < HELD_SHARE * self.planned:
            return f"sent {self.answered} of {self.planned}"
        return ""

    def held(self, bound: float) -> bool:
        return not self.refusal(bound)


@dataclass(frozen=True)
class Capacity:
    step: Step | None  # the highest step held with every lower one held; None: not even the first
    held_every_rate: bool  # held at every rate offered: the capacity is at least this, maybe more

    @property
    def rate(self) -> float:
        return self.step.rate if self.step is not None else 0.0

    def text(self) -> str:
        return f"{'≥ ' if self.held_every_rate else ''}{self.rate:g}/s"


def capacity(steps: Iterable[Step], bound: float) -> Capacity:
    ordered = sorted(steps, key=lambda step: step.rate)
    best: Step | None = None
    for step in ordered:
        if not step.held(bound):
            return Capacity(best, held_every_rate=False)
        best = step
    return Capacity(best, held_every_rate=best is not None)


def next_rate(steps: list[Step], rates: Sequence[float], bound: float, refine: int) -> float | None:
    """The rate to offer next: the next of `rates` while every step holds; after a miss, up to `refine`
    halvings of the gap between the capacity and the lowest rate missed; None when done."""
    tried = {step.rate for step in steps}
    missed = [step.rate for step in steps if not step.held(bound)]
    if not missed:
        return next(
            (rate for rate in sorted(rates) if rate not in tried and rate > max(tried, default=0)), None
        )
    low, high = capacity(steps, bound).rate, min(missed)
    refined = len(tried - set(rates))
    middle = round((low + high) / 2)
    if refined >= refine or middle in tried or not low < middle < high:
        return None
    return float(middle)


@dataclass(frozen=True)
class Comparison:
    """The agent against the floor in the same run: capacity, and p99 at the agent's capacity."""

    agent: Capacity
    floor: Capacity
    agent_p99: float | None  # at the agent's capacity rate
    floor_p99: float | None  # the floor's at that same rate

    @property
    def capacity_ratio(self) -> float | None:
        return self.agent.rate / self.floor.rate if self.floor.rate else None

    @property
    def p99_ratio(self) -> float | None:
        if self.agent_p99 is None or not self.floor_p99:
            return None
        return self.agent_p99 / self.floor_p99


def compare(agent_steps: list[Step], floor_steps: list[Step], bound: float) -> Comparison:
    agent, floor = capacity(agent_steps, bound), capacity(floor_steps, bound)
    at_rate = {step.rate: step for step in floor_steps}
    floor_step = at_rate.get(agent.rate) if agent.step is not None else None
    return Comparison(
        agent=agent,
        floor=floor,
        agent_p99=agent.step.p99 if agent.step is not None else None,
        floor_p99=floor_step.p99 if floor_step is not None else None,
    )


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus's `histogram_quantile` on one histogram's cumulative bucket counts by upper bound
    (`math.inf` included): linear within the bucket the rank falls in; the highest finite bound when
    it falls in +Inf; None with no observation."""
    bounds = sorted(buckets)
    if not bounds or bounds[-1] != math.inf or buckets[math.inf] <= 0:
        return None
    rank = q * buckets[math.inf]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == math.inf:
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def increase(before: Mapping[float, float], after: Mapping[float, float]) -> dict[float, float]:
    """The observations between two scrapes of one histogram's cumulative buckets."""
    return {bound: count - before.get(bound, 0.0) for bound, count in after.items()}
