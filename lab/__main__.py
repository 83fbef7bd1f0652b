"""python -m lab up | bench | demo | storm | reliability | bench-knowledge"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path

COMPONENTS = ["dependency", "action", "target", "worker-action", "worker", "loadgen", "chaos"]


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m lab", description="The SRE agent's lab.")
    commands = root.add_subparsers(
        dest="command", metavar="{up,bench,demo,storm,reliability,bench-knowledge}"
    )
    up = commands.add_parser("up", help="run the lab until Ctrl-C")
    up.add_argument("--profile", choices=["lab", "production"], default="lab")
    up.add_argument("--run-dir", type=Path, default=Path(".run"))
    up.add_argument("--without", action="append", default=[], metavar="COMPONENT", choices=COMPONENTS)
    up.add_argument(
        "--llm",
        choices=["local"],
        default=None,
        help="local: run SmolLM2-135M behind llama.cpp's server and let the agent's LLM diagnose",
    )
    up.add_argument(
        "--runbooks-url",
        default=None,
        metavar="URL",
        help="base of the alert rules' runbook links (<URL>/<runbook>.md); default: the agent's own "
        "/agent/runbooks",
    )
    bench = commands.add_parser("bench", help="the blind benchmark: every fault, the agent and a baseline")
    from lab.bench.cli import add_arguments

    add_arguments(bench)
    demo = commands.add_parser("demo", help="every fault once with the agent's timeline live")
    from lab.bench.demo import add_arguments as add_demo_arguments

    add_demo_arguments(demo)
    storm = commands.add_parser(
        "storm", help="the webhook's capacity on a real agent process in a storm, against a bare floor"
    )
    from lab.bench.storm import add_arguments as add_storm_arguments

    add_storm_arguments(storm)
    reliability = commands.add_parser(
        "reliability", help="each fault around the agent and each bad input, on real processes: a table"
    )
    from lab.bench.reliability import add_arguments as add_reliability_arguments

    add_reliability_arguments(reliability)
    knowledge = commands.add_parser(
        "bench-knowledge", help="retrieval quality, search latency and the semantic extra's cost, as numbers"
    )
    from lab.bench.knowledge import add_arguments as add_knowledge_arguments

    add_knowledge_arguments(knowledge)
    return root


def missing_lab_extra() -> list[str]:
    """The `lab` extra's distributions (as pyproject.toml lists them) that are not installed: a plain
    `pip install .` installs the agent alone. Empty when the project itself is not installed."""
    try:
        requirements = metadata.requires("sre-agent") or []
    except metadata.PackageNotFoundError:
        return []
    names = [
        match.group(0)
        for requirement in requirements
        if re.search(r"extra\s*==\s*[\"']lab[\"']", requirement)
        and (match := re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement))
    ]
    missing = []
    for name in names:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def main(argv: list[str] | None = None) -> int:
    if missing := missing_lab_extra():
        sys.exit(
            f"python -m lab: the lab needs the 'lab' extra (pip install 'sre-agent[lab]'); missing: "
            f"{', '.join(missing)}"
        )
    cli = parser()
    args = cli.parse_args(argv)
    from lab.service import keep_files_private

    keep_files_private()  # the run directory: tokens, logs, data, rendered configs, results
    if args.command == "up":
        from lab.runner.cli import up

        return up(args.run_dir, args.profile, args.without, args.llm, args.runbooks_url)
    if args.command == "bench":
        from lab.bench.cli import bench

        return bench(args)
    if args.command == "storm":
        from lab.bench.storm import StormOptions, run

        return run(StormOptions.from_args(args))
    if args.command == "reliability":
        from lab.bench.reliability import report as reliability_report
        from lab.bench.reliability import run as reliability

        if args.report is not None:
            return reliability_report(args.report, args.out)
        return reliability(args.out, [s for s in args.suites.split(",") if s], args.keep)
    if args.command == "bench-knowledge":
        from lab.bench.knowledge import run as bench_knowledge

        return bench_knowledge(args)
    if args.command == "demo":
        from lab.bench.demo import demo

        return demo(args.run_dir, args.profile)
    cli.print_usage(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
