"""`python -m lab demo`: every fault once, the agent's timeline printed live, a summary table at the end."""

from __future__ import annotations

import argparse
import threading
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from lab.bench.cli import describe
from lab.bench.observer import AgentObserver
from lab.bench.report import print_summary, summarize
from lab.bench.runbench import BENCH_AGENT_ENV, BenchConfig, run_bench
from lab.runner.ports import Ports
from lab.runner.stack import Stack, StackError

STEP_STYLE = {
    "open": "bold red",
    "diagnose": "yellow",
    "investigate": "yellow",
    "plan": "cyan",
    "execute": "bold cyan",
    "verify": "green",
    "learn": "bold green",
    "escalate": "bold magenta",
}


class LiveTimeline:
    """Polls the agent's incidents API (as any user could) and prints each new timeline entry once."""

    def __init__(self, observer: AgentObserver, console: Console) -> None:
        self._observer = observer
        self._console = console
        self._seen: set[tuple[str, str, str]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._since = datetime.now(UTC)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                incidents = [
                    self._observer.incident(i.id) for i in self._observer.incidents_since(self._since)
                ]
            except Exception:  # the agent restarting or busy: the demo just tries again
                continue
            for incident in incidents:
                for entry in incident.timeline:
                    key = (incident.id, entry.ts.isoformat(), entry.message)
                    if key in self._seen:
                        continue
                    self._seen.add(key)
                    style = STEP_STYLE.get(entry.step, "white")
                    self._console.print(
                        f"  {entry.ts:%H:%M:%S} [dim]{incident.id[-6:]}[/dim] "
                        f"[{style}]{entry.step:<11}[/{style}] {entry.message[:140]}",
                        highlight=False,
                    )


def demo(run_dir: Path, profile: str) -> int:
    console = Console()
    stack = Stack(ports=Ports(), run_dir=run_dir, profile=profile, env={"agent": BENCH_AGENT_ENV})
    try:
        with console.status(
            "starting the stack (target, chaos, action, exporter, Prometheus, Alertmanager, agent)"
        ):
            stack.start()
        observer = AgentObserver(stack.urls["agent"], stack.tokens.api)
        timeline = LiveTimeline(observer, console)
        timeline.start()
        console.rule("every fault once, in random order; the agent is told nothing")
        results = run_bench(
            stack,
            BenchConfig(runs=1, quiet_runs=0, baseline=False),
            on_result=lambda r: console.rule(describe(r), style="bold"),
        )
        timeline.stop()
        observer.close()
    except StackError as exc:
        console.print(f"[red]the stack did not start:[/red] {exc}")
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        stack.stop()
    print_summary(summarize(results), console)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=["lab", "production"], default="lab")
    parser.add_argument("--run-dir", type=Path, default=Path(".run/demo"))
