"""`python -m lab bench`: start the stack, run the schedule, print and write the results."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from types import FrameType

from rich.console import Console

from lab.bench.baseline import RestartOnEveryPage
from lab.bench.report import RunLog, print_summary, summarize, write_outputs
from lab.bench.runbench import BENCH_AGENT_ENV, BenchConfig, run_bench
from lab.bench.scenario import RunResult
from lab.runner.local_llm import LocalLLMUnavailable
from lab.runner.ports import Ports, free_port
from lab.runner.stack import Stack, StackError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=3, help="runs per fault (default 3)")
    parser.add_argument("--faults", default="", help="comma-separated faults (default: the whole catalog)")
    parser.add_argument("--quiet-runs", type=int, default=None, help="no-fault runs (default: --runs)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the restart-on-every-page baseline")
    parser.add_argument(
        "--baseline-runs", type=int, default=None, help="baseline runs per fault (default: --runs)"
    )
    parser.add_argument("--profile", choices=["lab", "production"], default="lab")
    parser.add_argument(
        "--deadline",
        type=float,
        default=None,
        help="seconds per run before giving up (default: from the profile)",
    )
    parser.add_argument(
        "--attach",
        type=Path,
        nargs="?",
        const=Path(".run"),
        default=None,
        metavar="RUN_DIR",
        help="use the stack `python -m lab up` runs from RUN_DIR (default .run) instead of starting one;"
        " no baseline, and the agent keeps its own action budget and cooldown",
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="RUNS",
        help="no runs: summarize a bench.json or runs.jsonl again and write the outputs to --out",
    )
    parser.add_argument(
        "--llm",
        choices=["local"],
        default=None,
        help="local: the agent diagnoses with SmolLM2-135M on llama.cpp's server, started with the stack",
    )
    parser.add_argument(
        "--scenarios",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the several-faults scenarios after the faults (default: unless --faults picks faults)",
    )
    parser.add_argument(
        "--services", default="", help="comma-separated services whose faults run (default: every one)"
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--run-dir", type=Path, default=Path(".run/bench"))
    parser.add_argument("--out", type=Path, default=Path(".run/bench/results"))


def describe(result: RunResult) -> str:
    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}s"

    verdict = "mitigated" if result.mitigated else ("paged" if result.paged else "no page")
    diagnosis = f" diagnosis={result.diagnosis}" if result.diagnosis else ""
    harm = f" HARMFUL={result.harmful_actions}" if result.harmful_actions else ""
    if result.cross_service_actions:
        harm += f" CROSS-SERVICE={result.cross_service_actions}"
    where = f"{result.service}/{result.fault}" + (f" [{result.scenario}]" if result.scenario else "")
    return (
        f"{result.responder:<16} {where:<26} run {result.run}: {verdict:<9} "
        f"page {secs(result.seconds_to_page)} mitigate {secs(result.seconds_to_mitigate)}"
        f"{diagnosis} actions={result.actions}{harm}" + (f" ({result.note})" if result.note else "")
    )


def report(runs_file: Path, out_dir: Path, console: Console) -> int:
    try:
        results = RunLog.read(runs_file)
    except (OSError, ValueError, KeyError) as exc:
        console.print(f"[red]cannot read runs from {runs_file}:[/red] {exc}")
        return 1
    if not results:
        console.print(f"[red]no runs in {runs_file}[/red]")
        return 1
    summary = summarize(results)
    print_summary(summary, console)
    paths = write_outputs(results, summary, out_dir)
    console.print(f"wrote {paths['json']}, {paths['md']} and {paths['png']}")
    return 0


def bench(args: argparse.Namespace) -> int:
    console = Console() if Console().is_terminal else Console(width=160)  # logs keep a table's rows whole
    if args.report is not None:
        return report(args.report, args.out, console)
    config = BenchConfig(
        runs=args.runs,
        faults=[f for f in args.faults.split(",") if f],
        services=[s for s in args.services.split(",") if s],
        scenarios=not args.faults if args.scenarios is None else args.scenarios,
        quiet_runs=args.quiet_runs,
        baseline=not args.no_baseline and args.attach is None,
        baseline_runs=args.baseline_runs,
        deadline_seconds=args.deadline,
        seed=args.seed,
        out_dir=args.out,
    )
    receiver = None
    if config.baseline:
        receiver = RestartOnEveryPage(action_urls={}, action_token="", port=free_port())
    if args.attach is not None and args.llm is not None:
        console.print("[red]--llm starts a model with the stack: run `python -m lab up --llm local`[/red]")
        return 2
    try:
        stack = Stack(
            ports=Ports(),
            run_dir=args.run_dir,
            profile=args.profile,
            env={} if args.attach else {"agent": BENCH_AGENT_ENV},
            extra_webhooks=[receiver.url] if receiver else [],
            llm=args.llm,
        )
    except LocalLLMUnavailable as exc:
        console.print(f"[red]--llm {args.llm}:[/red] {exc}")
        return 1
    if args.attach is not None and not args.no_baseline:
        # The running Alertmanager notifies the agent only: there is no way to add the baseline to it.
        console.print("attached to a running lab: the restart-on-every-page baseline is skipped")
    if args.attach is not None and args.profile == "production":
        console.print(
            "the agent keeps the production action budget and cooldown: for faults back to back, start"
            " the lab with MAX_ACTIONS_PER_HOUR=500 ACTION_COOLDOWN_SECONDS=5"
        )
    if receiver is not None:
        receiver.action_urls = {"target": stack.urls["action"]}
        if "worker-action" in stack.urls:
            receiver.action_urls["worker"] = stack.urls["worker-action"]
        receiver.action_token = stack.tokens.action
        receiver.start()
    run_log = RunLog(config.out_dir / "runs.jsonl")
    results = run_log.results

    def record(result: RunResult) -> None:
        run_log.record(result)
        console.print(describe(result))

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    interrupted = False
    try:
        if args.attach is not None:
            stack.attach(args.attach)
        else:
            with console.status("starting the stack..."):
                stack.start()
        run_bench(stack, config, receiver, on_result=record)
    except StackError as exc:
        verb = "is not usable" if args.attach is not None else "did not start"
        console.print(f"[red]the stack {verb}:[/red] {exc}")
        return 1
    except KeyboardInterrupt:
        # Hours of runs are worth keeping: the table covers what finished; the exit status says it was cut.
        interrupted = True
        console.print(f"[yellow]interrupted after {len(results)} runs; writing what finished[/yellow]")
    finally:
        stack.stop()
        if receiver is not None:
            receiver.stop()
    if not results:
        return 130 if interrupted else 1
    done = report(run_log.path, config.out_dir, console)
    return 130 if interrupted else done
