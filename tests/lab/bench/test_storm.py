"""`python -m lab storm`: the capacity judged on measured steps, hey's summary read, and a short real run."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.bench import hey
from lab.bench.capacity import Step, capacity, compare, histogram_quantile, increase, next_rate

from ...helpers.binaries import require_binary

BOUND = 0.25
ROOT = Path(__file__).resolve().parents[3]


def step(rate: float, **changes: object) -> Step:
    """Five seconds at `rate`, every request answered 202 at p99 10 ms unless changed."""
    held = Step(
        rate=rate, seconds=5, planned=int(rate * 5), answers={202: int(rate * 5)}, p50=0.005, p99=0.01
    )
    return dataclasses.replace(held, **changes)  # type: ignore[arg-type]


def test_the_capacity_is_the_highest_rate_held_below_the_first_that_was_not() -> None:
    steps = [step(400, p99=0.4), step(100), step(200, p99=0.2), step(800)]  # 800 held: luck above a miss
    found = capacity(steps, BOUND)
    assert found.rate == 200 and not found.held_every_rate and found.text() == "200/s"


def test_held_at_every_rate_offered_is_a_lower_bound() -> None:
    found = capacity([step(100), step(200)], BOUND)
    assert found.rate == 200 and found.held_every_rate and found.text() == "≥ 200/s"
    assert capacity([step(100, p99=1.0)], BOUND).step is None
    assert capacity([], BOUND).rate == 0


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (dict(answers={202: 480, 503: 20}), "20 not 2xx"),
        (dict(errors=3), "3 unanswered"),
        (dict(answers={}, p50=None, p99=None), "no answer"),
        (dict(p99=0.251), "p99 over the bound"),
        (dict(answers={202: 400}), "sent 400 of 500"),  # the generator's workers waited on slow answers
    ],
)
def test_a_step_is_not_held_for_any_one_reason(changes: dict[str, object], reason: str) -> None:
    assert step(100, **changes).refusal(BOUND) == reason
    assert step(100).held(BOUND) and step(100, answers={202: 450}).held(BOUND)  # 90% sent is enough


def test_the_rates_step_up_until_a_miss_then_the_gap_below_it_is_halved() -> None:
    rates = [50.0, 100.0, 200.0, 400.0]
    assert next_rate([], rates, BOUND, refine=2) == 50
    steps = [step(50), step(100)]
    assert next_rate(steps, rates, BOUND, refine=2) == 200
    steps.append(step(200, p99=0.3))
    assert next_rate(steps, rates, BOUND, refine=2) == 150
    steps.append(step(150))
    assert next_rate(steps, rates, BOUND, refine=2) == 175
    steps.append(step(175, p99=0.3))
    assert next_rate(steps, rates, BOUND, refine=2) is None  # two halvings done
    assert capacity(steps, BOUND).rate == 150
    assert next_rate(steps[:3], rates, BOUND, refine=0) is None
    assert next_rate([step(50, p99=1.0)], rates, BOUND, refine=1) == 25  # not even the first: below it
    assert next_rate([step(r) for r in rates], rates, BOUND, refine=2) is None  # held every rate offered
    assert next_rate([step(1), step(2, p99=1.0)], [1, 2], BOUND, refine=3) is None  # no rate between


def test_the_agent_reads_against_the_floor_at_its_own_capacity() -> None:
    agent = [step(100, p99=0.02), step(200, p99=0.1), step(400, p99=0.3)]
    floor = [step(100, p99=0.004), step(200, p99=0.005), step(400, p99=0.006), step(800, p99=0.3)]
    result = compare(agent, floor, BOUND)
    assert (result.agent.rate, result.floor.rate) == (200, 400)
    assert result.capacity_ratio == 0.5
    assert (result.agent_p99, result.floor_p99) == (0.1, 0.005)  # both at 200/s
    assert result.p99_ratio == pytest.approx(20)
    nothing = compare([step(100, p99=1.0)], floor, BOUND)
    assert nothing.agent.step is None and nothing.capacity_ratio == 0 and nothing.p99_ratio is None


def test_histogram_quantile_interpolates_as_prometheus_does() -> None:
    before = {0.001: 10.0, 0.01: 10.0, 0.1: 10.0, math.inf: 10.0}
    after = {0.001: 60.0, 0.01: 100.0, 0.1: 110.0, math.inf: 110.0}
    window = increase(before, after)  # 50 under 1 ms, 40 up to 10 ms, 10 up to 100 ms
    assert window == {0.001: 50.0, 0.01: 90.0, 0.1: 100.0, math.inf: 100.0}
    assert histogram_quantile(0.5, window) == pytest.approx(0.001)
    assert histogram_quantile(0.99, window) == pytest.approx(0.01 + 0.09 * 0.9)
    assert histogram_quantile(0.99, {0.1: 1.0, math.inf: 2.0}) == 0.1  # in +Inf: the highest bound
    assert histogram_quantile(0.99, {0.1: 0.0, math.inf: 0.0}) is None


SUMMARY = """
Summary:
  Total:\t2.0194 secs
  Slowest:\t0.1041 secs
  Fastest:\t0.0017 secs
  Requests/sec:\t49.5187

Latency distribution:
  10% in 0.0022 secs
  50% in 0.0046 secs
  95% in 0.0244 secs
  99% in 0.0841 secs

Status code distribution:
  [202]\t97 responses
  [503]\t1 responses

Error distribution:
  [2]\tPost "http://127.0.0.1:18778/x": dial tcp 127.0.0.1:18778: connect: connection refused
"""


def test_heys_summary_gives_the_answers_the_errors_and_the_percentiles() -> None:
    found = hey.parse_summary(SUMMARY, rate=50, seconds=2, planned_requests=100)
    assert found.answers == {202: 97, 503: 1} and found.errors == 2
    assert (found.p50, found.p99) == (0.0046, 0.0841)
    assert found.refusal(BOUND) == "2 unanswered"
    few = hey.parse_summary(SUMMARY.replace("  99% in 0.0841 secs\n", ""), 50, 2, 100)
    assert few.p99 == 0.1041  # under 100 answers hey prints no 99% row: the slowest is the p99


def test_heys_workers_carry_the_rate_at_the_bound_in_staggered_streams() -> None:
    assert hey.workers_for(20, BOUND, 64) == 5 and hey.workers_for(6400, BOUND, 64) == 64
    assert hey.workers_for(1, BOUND, 64) == 1
    assert hey.streams_of(64, 8000) == [8] * 8 and hey.streams_of(13, 250) == [7, 6]
    assert hey.streams_of(5, 40) == [5]  # under 100 requests a stream: one
    assert hey.planned(4, 2, 5) == 40 and hey.planned(50 / 13, 5, 13) == 13 * 19
    args = hey.command("hey", "http://h/x", Path("b.json"), 4, 2, 5, token="t")
    assert args[args.index("-q") + 1] == "4.000000" and "Authorization: Bearer t" in args


def test_streams_merge_into_one_step_with_the_highest_p99() -> None:
    parts = [
        Step(rate=200, seconds=5, planned=500, answers={202: 500}, p50=0.002, p99=0.02),
        Step(rate=200, seconds=5, planned=500, answers={202: 490, 503: 5}, errors=5, p50=0.004, p99=0.05),
    ]
    merged = hey.merge(200, parts)
    assert merged.answers == {202: 990, 503: 5} and merged.errors == 5 and merged.planned == 1000
    assert (merged.p50, merged.p99) == (pytest.approx(0.003), 0.05)


def storm(*argv: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "200"}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "lab", "storm", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )


def test_without_hey_the_storm_says_what_to_install(tmp_path: Path) -> None:
    done = storm("--groups", "1", path=str(tmp_path))
    assert done.returncode == 2
    assert "needs `hey` on PATH" in done.stderr and "install-system-deps" in done.stderr


def test_a_short_storm_measures_the_agent_and_the_floor() -> None:
    require_binary("hey")
    done = storm(
        *("--groups", "5", "--resends", "2", "--page-rate", "50"),
        *("--rates", "20,40", "--step-seconds", "2", "--refine", "0", "--idle-seconds", "0"),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "incidents opened / distinct problems" in out and "│ 5 / 5" in out
    for row in ("capacity: agent / floor", "capacity, agent over floor", "p99, agent over floor"):
        assert row in out
    results = next(line for line in out.splitlines() if "webhook results over its steps" in line)
    assert "accepted: " in results
    lag = next(line for line in out.splitlines() if "agent event-loop lag p99" in line)
    assert " ms" in lag  # read from the agent's /metrics: its sampler ran through the steps
    assert out.count("agent 20/s: p99") == 1 and out.count("floor 20/s: p99") == 1
