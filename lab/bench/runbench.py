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
from lab.runner.stack import Stack


class BenchConfig(BaseModel):
    runs: int = Field(default=3, ge=1)
    faults: list[str] = Field(default_factory=list, description="empty = every fault in the catalog")
    quiet_runs: int | None = Field(default=None, description="no-fault runs; default: `runs`")
    baseline: bool = True
    deadline_seconds: float = 150.0
    quiet_seconds: float = 45.0
    settle_hold_seconds: float = 8.0
    seed: int | None = None
    warmup_seconds: float = 100.0
    out_dir: Path = Path(".run/bench")


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
    faults = config.faults or sorted(catalog)
    unknown = [f for f in faults if f not in catalog]
    if unknown:
        raise ValueError(f"unknown faults {unknown}; the catalog has {sorted(catalog)}")
    quiet = config.runs if config.quiet_runs is None else config.quiet_runs
    plan = [(fault, run) for run in range(1, config.runs + 1) for fault in faults]
    plan += [(NO_FAULT, run) for run in range(1, quiet + 1)]
    random.Random(config.seed).shuffle(plan)
    return plan


def clean_up(lab: LabClient, truth: FaultTruth | None, hold: float) -> bool:
    """After a run: the true fix if the target is still broken, mitigations undone, then a quiet period."""
    if truth is not None and not lab.target_healthy():
        lab.run_action(truth.fixed_by[0])
    lab.reset_mitigations()
    return lab.wait_quiet(hold=hold, timeout=120)


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
    results: list[RunResult] = []
    started = time.monotonic()
    try:
        lab.wait_quiet(hold=config.settle_hold_seconds, timeout=180)
        for fault, run in schedule(config, catalog):
            truth = catalog.get(fault)
            if fault == "traffic_spike":  # the surge alert compares with the service's own history
                time.sleep(max(0.0, config.warmup_seconds - (time.monotonic() - started)))
            deadline = config.deadline_seconds if truth else config.quiet_seconds
            if truth is None:
                lab.harmless_deploy()
            result = agent_run(lab, observer, fault, truth, run, deadline)
            result.floor_seconds = _floor(floors, stack)
            _emit(results, result, on_result)
            clean_up(lab, truth, config.settle_hold_seconds)
            if receiver is not None and truth is not None:
                observer.set_remediation(False)
                try:
                    result = baseline_run(
                        lab,
                        receiver,
                        fault,
                        truth,
                        run,
                        config.deadline_seconds,
                        hold=config.settle_hold_seconds,
                    )
                finally:
                    observer.set_remediation(True)
                result.floor_seconds = _floor(floors, stack)
                _emit(results, result, on_result)
                clean_up(lab, truth, config.settle_hold_seconds)
    finally:
        lab.close()
        observer.close()
    return results


def _floor(floors: dict[str, float], stack: Stack) -> float | None:
    """The fastest page any alert allows, plus the agent's verification hold: what no responder can beat."""
    if not floors:
        return None
    return min(floors.values()) + stack.verify_hold_seconds


def _emit(results: list[RunResult], result: RunResult, on_result: Callable[[RunResult], None] | None) -> None:
    results.append(result)
    if on_result is not None:
        on_result(result)
