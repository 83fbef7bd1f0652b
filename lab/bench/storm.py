"""`python -m lab storm`: the webhook's capacity on a real agent process, against a bare floor measured
in the same run.

1. The agent starts in dry-run against unreachable services, with a catalog of one service per alert
   group; its start-up, idle CPU and memory are measured.
2. The storm's problems page it: each group's firing notification `--resends` times (re-sends are
   what Alertmanager's HA peers and repeat_interval send), so one incident per group opens and the
   workflows run while the load steps do: the intake must not slow down for them.
3. After a second's warm-up, `hey` offers rising rates of one group's re-sent notification,
   `--step-seconds` each, until a step is not held (a non-2xx answer, p99 over `--p99-bound-ms`, or
   the rate not reached), then halves the gap below that rate `--refine` times: the agent's capacity
   is the highest rate held (`lab.bench.capacity`). The agent's /metrics is read before and after:
   the p99 of its `sre_agent_event_loop_lag_seconds` over the steps is the loop's lag under that load,
   and its webhook results say whose a 503 was (`queue_full`: the intake queue's, else uvicorn's).
4. The groups' resolved notifications, then the count of incidents (it must equal the groups).
5. The agent stopped, the same steps against the floor (`lab.bench.storm_floor`), through the agent's
   capacity too: the ratios say what the agent's intake costs over the least any Python intake of this
   payload does on this machine, at the same time.

The event loop's lag is sampled every LAG_INTERVAL_SECONDS here (0.5 s by default) so that a p99 over a
few seconds of steps has samples enough; the idle CPU includes that sampler.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from lab.agent_process import AgentProcess, all_incidents
from lab.bench import hey
from lab.bench.capacity import Comparison, Step, capacity, compare, histogram_quantile, increase, next_rate
from lab.bench.storm_floor import PATH
from lab.bench.storm_problems import TOKEN, notification, page, write_catalog
from lab.runner.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
LAG = "sre_agent_event_loop_lag_seconds"
LAG_INTERVAL_SECONDS = 0.05
MAX_WORKERS = 64  # hey's connections, below the agent's SERVER_MAX_CONNECTIONS (100)
WARM_UP_SECONDS = 1.0
SETTLE_SECONDS = 2.0  # after a step not held: what it queued is worked off before the next


@dataclass(frozen=True)
class StormOptions:
    groups: int = 100
    resends: int = 3
    page_rate: float = 100.0  # the problems' notifications per second (step 2)
    rates: tuple[float, ...] = (50, 100, 200, 400, 800, 1600, 3200, 6400)
    step_seconds: float = 5.0
    p99_bound: float = 0.25
    refine: int = 2  # halvings of the gap below the first rate not held
    idle_seconds: float = 20.0

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> StormOptions:
        return cls(
            groups=args.groups,
            resends=args.resends,
            page_rate=args.page_rate,
            rates=tuple(sorted(float(r) for r in args.rates.split(","))),
            step_seconds=args.step_seconds,
            p99_bound=args.p99_bound_ms / 1000,
            refine=args.refine,
            idle_seconds=args.idle_seconds,
        )


@dataclass(frozen=True)
class AgentScrape:
    """What the storm reads from the agent's /metrics before and after its steps."""

    lag: dict[float, float]  # sre_agent_event_loop_lag_seconds, cumulative buckets by upper bound
    unfinished: float  # sre_agent_incidents_open
    webhook: dict[str, float]  # sre_agent_webhook_requests_total by result


def scrape(url: str) -> AgentScrape:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found = AgentScrape(lag={}, unfinished=0.0, webhook={})
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{LAG}_bucket":
                found.lag[float(sample.labels["le"])] = sample.value
            elif sample.name == "sre_agent_webhook_requests_total":
                found.webhook[sample.labels["result"]] = sample.value
            elif sample.name == "sre_agent_incidents_open":
                found = dataclasses.replace(found, unfinished=sample.value)
    return found


def warm_up(hey_path: str, url: str, body: Path, options: StormOptions, token: str = "") -> None:
    """A second at the first rate, not counted: connections opened, first requests' imports and caches
    done, so the first step measures the rate and not the start."""
    rate = min(options.rates)
    hey.run_step(hey_path, url, body, rate, WARM_UP_SECONDS, options.p99_bound, MAX_WORKERS, token)


def step_up(
    hey_path: str,
    url: str,
    body: Path,
    options: StormOptions,
    on_step: Callable[[Step], None],
    token: str = "",
) -> list[Step]:
    """The rates in turn until one is not held, then the gap below it halved `options.refine` times."""
    steps: list[Step] = []
    while (rate := next_rate(steps, options.rates, options.p99_bound, options.refine)) is not None:
        if steps and not steps[-1].held(options.p99_bound):
            time.sleep(SETTLE_SECONDS)
        step = hey.run_step(
            hey_path, url, body, rate, options.step_seconds, options.p99_bound, MAX_WORKERS, token
        )
        steps.append(step)
        on_step(step)
    return steps


def _idle_cpu_seconds_per_minute(process: psutil.Process, seconds: float) -> float:
    """CPU the agent burns doing nothing (no incident, no webhook) for `seconds`, scaled to a minute."""
    if seconds <= 0:
        return 0.0
    before, began = process.cpu_times(), time.perf_counter()
    time.sleep(seconds)
    after, elapsed = process.cpu_times(), time.perf_counter() - began
    used = (after.user - before.user) + (after.system - before.system)
    return used / elapsed * 60


def agent_env(port: int, data_dir: Path) -> dict[str, str]:
    dead = f"http://127.0.0.1:{free_port()}"
    return {
        "PORT": str(port),
        "WEBHOOK_TOKEN": TOKEN,
        "API_TOKEN": secrets.token_urlsafe(32),  # unused: the storm only pages
        "AGENT_MODE": "dry-run",
        "AGENT_DATA_DIR": str(data_dir),
        "VECTOR_STORE_PATH": str(data_dir / "knowledge.json"),
        "RUNBOOKS_PATH": str(ROOT / "runbooks"),
        "SERVICES_PATH": str(data_dir / "services"),
        "EMBEDDING_MODEL": "",  # lexical: the footprint below is the default install's
        "PROPOSED_RUNBOOKS_PATH": str(data_dir / "proposed-runbooks"),
        "TARGET_API_BASE_URL": dead,
        "ACTION_SERVER_URL": dead,
        "PROMETHEUS_URL": dead,
        "HTTP_TIMEOUT_SECONDS": "0.5",
        "INTAKE_QUEUE_SIZE": "1000",
        "EVENT_LOOP_LAG_INTERVAL_SECONDS": str(LAG_INTERVAL_SECONDS),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }


@dataclass
class AgentRun:
    steps: list[Step]
    startup: float
    idle_cpu_per_minute: float
    rss_idle: int
    rss_after: int
    paged: dict[int, int]
    incidents: int
    unfinished: tuple[float, float]  # when the steps began, when they ended
    webhook: dict[str, float]  # the agent's webhook results over the steps
    lag_p99: float | None


def measure_agent(
    hey_path: str, body: Path, options: StormOptions, on_step: Callable[[Step], None]
) -> AgentRun:
    with tempfile.TemporaryDirectory(prefix="storm-") as folder:
        return _measure_agent(Path(folder), hey_path, body, options, on_step)


def _measure_agent(
    data_dir: Path, hey_path: str, body: Path, options: StormOptions, on_step: Callable[[Step], None]
) -> AgentRun:
    """In a fresh data directory: incidents left from an earlier run would change what this one sees."""
    write_catalog(data_dir / "services", options.groups)
    agent = AgentProcess(agent_env(free_port(), data_dir), data_dir / "agent.log")
    try:
        started = time.perf_counter()
        agent.start(timeout=60)
        startup = time.perf_counter() - started
        assert agent.process is not None
        process = psutil.Process(agent.process.pid)
        idle_cpu = _idle_cpu_seconds_per_minute(process, options.idle_seconds)
        rss_idle = process.memory_info().rss
        firing = [notification(g, "firing") for _ in range(options.resends) for g in range(options.groups)]
        paged = asyncio.run(page(agent.url, firing, options.page_rate))
        warm_up(hey_path, f"{agent.url}{PATH}", body, options, TOKEN)
        before = scrape(agent.url)
        steps = step_up(hey_path, f"{agent.url}{PATH}", body, options, on_step, TOKEN)
        after = scrape(agent.url)
        resolved = [notification(g, "resolved") for g in range(options.groups)]
        for status, n in asyncio.run(page(agent.url, resolved, options.page_rate)).items():
            paged[status] = paged.get(status, 0) + n
        incidents = _wait_for_incidents(agent.url, options.groups)
        rss_after = process.memory_info().rss
    finally:
        agent.stop()
    return AgentRun(
        steps=steps,
        startup=startup,
        idle_cpu_per_minute=idle_cpu,
        rss_idle=rss_idle,
        rss_after=rss_after,
        paged=paged,
        incidents=incidents,
        unfinished=(before.unfinished, after.unfinished),
        webhook={result: n - before.webhook.get(result, 0) for result, n in after.webhook.items()},
        lag_p99=histogram_quantile(0.99, increase(before.lag, after.lag)),
    )


def _wait_for_incidents(url: str, groups: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        count = len(all_incidents(url, timeout=10))
        if count >= groups or time.monotonic() > deadline:
            return count
        time.sleep(0.5)


def measure_floor(
    hey_path: str, body: Path, options: StormOptions, on_step: Callable[[Step], None]
) -> list[Step]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    floor = subprocess.Popen(
        [sys.executable, "-m", "lab.bench.storm_floor", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                if floor.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the storm's floor did not start") from None
                time.sleep(0.05)
        warm_up(hey_path, f"{url}{PATH}", body, options)
        return step_up(hey_path, f"{url}{PATH}", body, options, on_step)
    finally:
        floor.terminate()
        floor.wait(10)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def _ratio(value: float | None) -> str:
    return "-" if value is None or math.isinf(value) else f"{value:.2f}x"


def steps_table(agent: list[Step], floor: list[Step], bound: float) -> Table:
    table = Table(title=f"load steps (hey), held: all 2xx, p99 ≤ {bound * 1000:g} ms, rate reached")
    for column in ("against", "offered/s", "sent/s", "p50", "p99", "answers", "held"):
        table.add_column(column)
    for name, steps in (("agent", agent), ("floor", floor)):
        for step in steps:
            table.add_row(
                name,
                f"{step.rate:g}",
                f"{step.sent_per_second:.0f}",
                _ms(step.p50),
                _ms(step.p99),
                ", ".join(f"{code}: {n}" for code, n in sorted(step.answers.items()))
                + (f", no answer: {step.errors}" if step.errors else ""),
                step.refusal(bound) or "yes",
            )
    return table


def summary_table(run: AgentRun, result: Comparison, options: StormOptions) -> Table:
    table = Table(
        title=f"webhook storm: {options.groups} problems, capacity at p99 ≤ {options.p99_bound * 1000:g} ms"
    )
    for column in ("measure", "value"):
        table.add_column(column)
    rate = result.agent.rate
    rows = [
        ("agent start-up", f"{run.startup:.2f} s"),
        (
            f"agent idle CPU (over {options.idle_seconds:g} s)",
            f"{run.idle_cpu_per_minute:.2f} CPU-seconds per minute",
        ),
        ("agent RSS idle / after the storm", f"{run.rss_idle / 2**20:.0f} / {run.rss_after / 2**20:.0f} MiB"),
        ("problems' notifications answered", ", ".join(f"{c}: {n}" for c, n in sorted(run.paged.items()))),
        ("incidents opened / distinct problems", f"{run.incidents} / {options.groups}"),
        (
            "incidents unfinished at the first step / after the last",
            f"{run.unfinished[0]:.0f} / {run.unfinished[1]:.0f}",
        ),
        ("capacity: agent / floor", f"{result.agent.text()} / {result.floor.text()}"),
        ("capacity, agent over floor", _ratio(result.capacity_ratio)),
        (f"p99 at {rate:g}/s: agent / floor", f"{_ms(result.agent_p99)} / {_ms(result.floor_p99)}"),
        ("p99, agent over floor", _ratio(result.p99_ratio)),
        (
            "agent's webhook results over its steps",
            ", ".join(f"{result}: {n:.0f}" for result, n in sorted(run.webhook.items()) if n),
        ),
        ("agent event-loop lag p99 over its steps", _ms(run.lag_p99)),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def run(options: StormOptions) -> int:
    hey_path = hey.find_hey()
    if hey_path is None:
        print(hey.MISSING, file=sys.stderr)
        return 2
    console = Console()

    def show(name: str) -> Callable[[Step], None]:
        def printed(step: Step) -> None:
            verdict = step.refusal(options.p99_bound) or "held"
            console.print(f"{name} {step.rate:g}/s: p99 {_ms(step.p99)}, {step.answered} answered: {verdict}")

        return printed

    with tempfile.TemporaryDirectory(prefix="storm-body-") as folder:
        body = Path(folder) / "resend.json"
        body.write_text(json.dumps(notification(0, "firing")))
        agent = measure_agent(hey_path, body, options, show("agent"))
        # The floor also steps through the agent's capacity, which may lie between two offered rates.
        also = {capacity(agent.steps, options.p99_bound).rate} - {0.0}
        floor_options = dataclasses.replace(options, rates=tuple(sorted({*options.rates, *also})))
        floor = measure_floor(hey_path, body, floor_options, show("floor"))
    result = compare(agent.steps, floor, options.p99_bound)
    console.print(steps_table(agent.steps, floor, options.p99_bound))
    console.print(summary_table(agent, result, options))
    return 0 if agent.incidents == options.groups else 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = StormOptions()
    parser.add_argument("--groups", type=int, default=defaults.groups, help="alert groups, one service each")
    parser.add_argument(
        "--resends", type=int, default=defaults.resends, help="firing notifications per group"
    )
    parser.add_argument(
        "--page-rate", type=float, default=defaults.page_rate, help="the groups' notifications per second"
    )
    parser.add_argument(
        "--rates",
        default=",".join(f"{r:g}" for r in defaults.rates),
        help="offered rates stepped up, requests/s, until one is not held",
    )
    parser.add_argument(
        "--step-seconds", type=float, default=defaults.step_seconds, help="each rate's duration"
    )
    parser.add_argument(
        "--p99-bound-ms",
        type=float,
        default=defaults.p99_bound * 1000,
        help="a step's p99 must stay within it",
    )
    parser.add_argument(
        "--refine", type=int, default=defaults.refine, help="halvings of the gap below the first rate missed"
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=defaults.idle_seconds,
        help="idle period measured before the storm",
    )
