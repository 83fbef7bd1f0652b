"""The benchmark loop: quiet periods, then each service's faults in shuffled order (the services' lanes
side by side unless the baseline runs, which turns the agent off), then the several-faults scenarios."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from lab.bench.baseline import RestartOnEveryPage, baseline_run
from lab.bench.groundtruth import FaultTruth, load_ground_truth
from lab.bench.multi import SCENARIOS, Scenario, scenario_run
from lab.bench.observer import AgentObserver
from lab.bench.scenario import NO_FAULT, FaultLog, LabClient, LabEndpoints, RunResult, agent_run
from lab.runner.monitoring import duration_seconds
from lab.runner.stack import Stack

# Faults back to back, tens an hour: no production service sees that, so the hourly budget and the
# cooldown would end runs early and measure the guardrails, not the agent. Everything else stays.
BENCH_AGENT_ENV = {"MAX_ACTIONS_PER_HOUR": "500", "ACTION_COOLDOWN_SECONDS": "5"}


class BenchConfig(BaseModel):
    runs: int = Field(default=3, ge=1)
    faults: list[str] = Field(
        default_factory=list, description="empty = every fault in the catalog (of the chosen services)"
    )
    services: list[str] = Field(default_factory=list, description="empty = every service the lab runs")
    scenarios: bool = Field(default=False, description="also run the several-faults scenarios, once per run")
    parallel_services: bool = Field(
        default=True,
        description="each service's faults in a lane of its own, side by side (not with a baseline)",
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
        agent_token=stack.tokens.api,
        worker_url=urls.get("worker", ""),
        worker_action_url=urls.get("worker-action", ""),
    )


def schedule(
    config: BenchConfig, catalog: dict[str, FaultTruth], services: list[str] | None = None
) -> list[tuple[str, int]]:
    chosen = set(config.services or services or {t.service for t in catalog.values()})
    faults = config.faults or sorted(name for name, truth in catalog.items() if truth.service in chosen)
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


def clean_up(
    lab: LabClient, truths: list[FaultTruth], hold: float, timeout: float, service: str | None = None
) -> bool:
    """After a run: the true fix of each fault whose service is still broken, mitigations undone, then a
    quiet period (of `service` only, when its lane runs beside another)."""
    for truth in truths:
        if not lab.healthy(truth.service):
            lab.run_action(truth.fixed_by[0], truth.service, **_fix_params(truth))
    lab.reset_mitigations(service)
    return lab.wait_quiet(hold=hold, timeout=timeout, service=service)


def _fix_params(truth: FaultTruth) -> dict[str, object]:
    """An operator's parameters for a fix that needs one (as many consumers as the partitions)."""
    return {"consumers": 8} if truth.fixed_by[0] == "scale-consumers" else {}


def run_bench(
    stack: Stack,
    config: BenchConfig,
    receiver: RestartOnEveryPage | None = None,
    on_result: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    endpoints = endpoints_of(stack)
    lab = LabClient(endpoints)
    catalog = load_ground_truth(endpoints.chaos_url, endpoints.chaos_token)
    times = timings(stack, config)
    results = Results(on_result)
    started = time.monotonic()
    plan = schedule(config, catalog, endpoints.services())
    try:
        lab.wait_quiet(hold=config.settle_hold_seconds, timeout=times.settle_timeout_seconds + 60)
        quiet = [(fault, run) for fault, run in plan if fault == NO_FAULT]
        lanes: dict[str, list[tuple[str, int]]] = {}
        for fault, run in plan:
            if fault != NO_FAULT:
                lanes.setdefault(catalog[fault].service, []).append((fault, run))
        faults = FaultLog()
        lane = Lane(stack, config, catalog, times, results, receiver, started, faults)
        lane.run(quiet, None)  # nothing else runs meanwhile: a quiet run is quiet everywhere
        if receiver is None and config.parallel_services and len(lanes) > 1:
            threads = [
                threading.Thread(
                    target=Lane(stack, config, catalog, times, results, None, started, faults).run,
                    args=(steps, service),
                    name=f"bench-{service}",
                )
                for service, steps in lanes.items()
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        else:
            for steps in lanes.values():
                lane.run(steps, None)
        if config.scenarios:  # the agent's alone: the baseline's receiver is armed only in its own runs
            lane.scenarios([s for s in SCENARIOS if all(step.fault in catalog for step in s.steps)])
    finally:
        lab.close()
    return results.all


class Results:
    """Runs as they land, from several lanes at once."""

    def __init__(self, on_result: Callable[[RunResult], None] | None) -> None:
        self.all: list[RunResult] = []
        self._on_result = on_result
        self._lock = threading.Lock()

    def emit(self, result: RunResult) -> None:
        with self._lock:
            self.all.append(result)
            if self._on_result is not None:
                self._on_result(result)


class Lane:
    """One sequence of runs with its own clients; `service` scopes its clean-ups beside another lane."""

    def __init__(
        self,
        stack: Stack,
        config: BenchConfig,
        catalog: dict[str, FaultTruth],
        times: Timings,
        results: Results,
        receiver: RestartOnEveryPage | None,
        started: float,
        faults: FaultLog,
    ) -> None:
        self.stack, self.config, self.catalog, self.times = stack, config, catalog, times
        self.results, self.receiver, self.started, self.faults = results, receiver, started, faults
        self.floors = stack.monitoring.floor_seconds if stack.monitoring else {}

    def run(self, steps: list[tuple[str, int]], service: str | None) -> None:
        endpoints = endpoints_of(self.stack)
        lab, observer = LabClient(endpoints), AgentObserver(endpoints.agent_url, endpoints.agent_token)
        config, times = self.config, self.times
        baseline_runs = config.runs if config.baseline_runs is None else config.baseline_runs
        try:
            for fault, run in steps:
                truth = self.catalog.get(fault)
                if fault == "traffic_spike":
                    prepare_surge(lab, times, self.started)
                deadline = times.deadline_seconds if truth else config.quiet_seconds
                if truth is None:
                    lab.harmless_deploy()
                window = self.faults.begin(truth.service) if truth is not None else None
                self.results.emit(
                    agent_run(lab, observer, fault, truth, run, deadline, self.floors, self.faults)
                )
                truths = [truth] if truth is not None else []
                clean_up(lab, truths, config.settle_hold_seconds, times.settle_timeout_seconds, service)
                if window is not None:
                    self.faults.end(window)
                if self.receiver is not None and truth is not None and run <= baseline_runs:
                    self._baseline(lab, observer, fault, truth, run)
        finally:
            lab.close()
            observer.close()

    def _baseline(
        self, lab: LabClient, observer: AgentObserver, fault: str, truth: FaultTruth, run: int
    ) -> None:
        assert self.receiver is not None
        observer.set_remediation(False)
        if fault == "traffic_spike":
            prepare_surge(lab, self.times, self.started)
        try:
            result = baseline_run(
                lab,
                self.receiver,
                fault,
                truth,
                run,
                self.times.deadline_seconds,
                hold=self.stack.verify_hold_seconds,
                floors=self.floors,
            )
        finally:
            observer.set_remediation(True)
        self.results.emit(result)
        clean_up(lab, [truth], self.config.settle_hold_seconds, self.times.settle_timeout_seconds)

    def scenarios(self, chosen: list[Scenario]) -> None:
        endpoints = endpoints_of(self.stack)
        lab, observer = LabClient(endpoints), AgentObserver(endpoints.agent_url, endpoints.agent_token)
        try:
            for run in range(1, self.config.runs + 1):
                for scenario in chosen:
                    truths = [self.catalog[step.fault] for step in scenario.steps]
                    deadline = self.times.deadline_seconds * 2
                    for result in scenario_run(lab, observer, scenario, self.catalog, run, deadline):
                        self.results.emit(result)
                    clean_up(lab, truths, self.config.settle_hold_seconds, self.times.settle_timeout_seconds)
        finally:
            lab.close()
            observer.close()
