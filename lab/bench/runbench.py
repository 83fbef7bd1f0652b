"""The benchmark loop: faults and quiet periods in shuffled order, the agent and the baseline side by side."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from lab.bench.baseline import RestartOnEveryPage, baseline_run
from lab.bench.groundtruth import FaultTruth, load_ground_truth
from lab.bench.observer import AgentObserver
from lab.bench.scenario import NO_FAULT, LabClient, LabEndpoints, RunResult, agent_run
from lab.runner.monitoring import duration_seconds
from lab.runner.stack import Stack

# Faults back to back, tens an hour: no production service sees that, so the hourly budget and the
# cooldown would end runs early and measure the guardrails, not the agent. Everything else stays.
BENCH_AGENT_ENV = {"MAX_ACTIONS_PER_HOUR": "500", "ACTION_COOLDOWN_SECONDS": "5"}


class BenchConfig(BaseModel):
    runs: int = Field(default=3, ge=1)
    faults: list[str] = Field(
        default_factory=list,
        description="empty = every fault of the target in the catalog (the bench checks recovery through "
        "the target's action server; the worker's faults are not scored yet)",
    )
    quiet_runs: int | None = Field(default=None, description="no-fault runs; default: `runs`")
    baseline: bool = True
    baseline_runs: int | None = Field(
        default=None, ge=0, description="baseline runs per fault (the first ones); default: `runs`"
    )
    deadline_seconds: float | None = Field(default=None, description="per run; default: from the profile")
    quiet_seconds: float = 45.0
    settle_hold_seconds: float = 8.0
    seed: int | None = None
    warmup_seconds: float | None = Field(
        default=None, description="traffic history the surge alert needs; default: from the profile"
    )
    out_dir: Path = Path(".run/bench")


class Timings(BaseModel):
    """How long a run may take and how long the lab takes to settle, derived from the stack's profile."""

    deadline_seconds: float
    settle_timeout_seconds: float
    warmup_seconds: float
    baseline_clean_timeout_seconds: float


def timings(stack: Stack, config: BenchConfig) -> Timings:
    """The slowest page the profile allows + the agent's observation window + its verify deadline, a
    settle long enough for the rate window to forget a fault, and the surge baseline's history."""
    slowest = max(stack.monitoring.floor_seconds.values()) if stack.monitoring else 30.0
    windows = stack.monitoring.profile.windows if stack.monitoring else None
    rate = duration_seconds(windows.rate) if windows else 30.0
    history = (
        duration_seconds(windows.traffic_baseline) / 2 + duration_seconds(windows.traffic_baseline_offset)
        if windows
        else 90.0
    )
    deadline = (
        slowest
        + stack.agent_seconds("OBSERVE_WINDOW_SECONDS", 120.0)
        + stack.agent_seconds("VERIFY_DEADLINE_SECONDS", 300.0)
        + 30.0
    )
    window = (
        duration_seconds(windows.traffic_baseline) + duration_seconds(windows.traffic_baseline_offset)
        if windows
        else 180.0
    )
    return Timings(
        deadline_seconds=config.deadline_seconds or deadline,
        settle_timeout_seconds=max(120.0, rate + slowest),
        warmup_seconds=config.warmup_seconds if config.warmup_seconds is not None else history + rate,
        baseline_clean_timeout_seconds=window + 60.0,
    )


def endpoints_of(stack: Stack) -> LabEndpoints:
    urls = stack.urls
    return LabEndpoints(
        chaos_url=urls["chaos"],
        action_url=urls["action"],
        target_url=urls["target"],
        prometheus_url=urls["prometheus"],
        agent_url=urls["agent"],
        action_token=stack.tokens.action,
        admin_token=stack.tokens.admin,
        chaos_token=stack.tokens.chaos,
    )


def schedule(config: BenchConfig, catalog: dict[str, FaultTruth]) -> list[tuple[str, int]]:
    faults = config.faults or sorted(name for name, truth in catalog.items() if truth.service == "target")
    unknown = [f for f in faults if f not in catalog]
    if unknown:
        raise ValueError(f"unknown faults {unknown}; the catalog has {sorted(catalog)}")
    quiet = config.runs if config.quiet_runs is None else config.quiet_runs
    plan = [(fault, run) for run in range(1, config.runs + 1) for fault in faults]
    plan += [(NO_FAULT, run) for run in range(1, quiet + 1)]
    random.Random(config.seed).shuffle(plan)
    return plan


def prepare_surge(lab: LabClient, times: Timings, started: float) -> None:
    """The surge alert compares with the service's own history: it needs some, free of earlier surges."""
    time.sleep(max(0.0, times.warmup_seconds - (time.monotonic() - started)))
    lab.wait_for(lab.traffic_baseline_is_clean, timeout=times.baseline_clean_timeout_seconds, interval=5)


def clean_up(lab: LabClient, truth: FaultTruth | None, hold: float, timeout: float) -> bool:
    """After a run: the true fix if the target is still broken, mitigations undone, then a quiet period."""
    if truth is not None and not lab.target_healthy():
        lab.run_action(truth.fixed_by[0])
    lab.reset_mitigations()
    return lab.wait_quiet(hold=hold, timeout=timeout)


def run_bench(
    stack: Stack,
    config: BenchConfig,
    receiver: RestartOnEveryPage | None = None,
    on_result: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    endpoints = endpoints_of(stack)
    lab = LabClient(endpoints)
    observer = AgentObserver(endpoints.agent_url)
    catalog = load_ground_truth(endpoints.chaos_url, endpoints.chaos_token)
    floors = stack.monitoring.floor_seconds if stack.monitoring else {}
    times = timings(stack, config)
    baseline_runs = config.runs if config.baseline_runs is None else config.baseline_runs
    results: list[RunResult] = []
    started = time.monotonic()
    try:
        lab.wait_quiet(hold=config.settle_hold_seconds, timeout=times.settle_timeout_seconds + 60)
        for fault, run in schedule(config, catalog):
            truth = catalog.get(fault)
            if fault == "traffic_spike":
                prepare_surge(lab, times, started)
            deadline = times.deadline_seconds if truth else config.quiet_seconds
            if truth is None:
                lab.harmless_deploy()
            result = agent_run(lab, observer, fault, truth, run, deadline, floors)
            _emit(results, result, on_result)
            clean_up(lab, truth, config.settle_hold_seconds, times.settle_timeout_seconds)
            if receiver is not None and truth is not None and run <= baseline_runs:
                observer.set_remediation(False)
                if fault == "traffic_spike":
                    prepare_surge(lab, times, started)
                try:
                    result = baseline_run(
                        lab,
                        receiver,
                        fault,
                        truth,
                        run,
                        times.deadline_seconds,
                        hold=stack.verify_hold_seconds,
                        floors=floors,
                    )
                finally:
                    observer.set_remediation(True)
                _emit(results, result, on_result)
                clean_up(lab, truth, config.settle_hold_seconds, times.settle_timeout_seconds)
    finally:
        lab.close()
        observer.close()
    return results


def _emit(results: list[RunResult], result: RunResult, on_result: Callable[[RunResult], None] | None) -> None:
    results.append(result)
    if on_result is not None:
        on_result(result)
