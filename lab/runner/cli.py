"""`python -m lab up`: the lab's processes until Ctrl-C or SIGTERM, with a table of where each listens."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.table import Table

from lab.runner.local_llm import LocalLLMUnavailable
from lab.runner.stack import Stack, StackError


def listing(stack: Stack) -> Table:
    table = Table(title=f"lab ({stack.profile} profile) in {stack.paths.run_dir}")
    for column in ("component", "url", "pid", "log"):
        table.add_column(column)
    pids = stack.pids
    for spec in stack.specs:
        log = stack.log_file(spec.name)
        table.add_row(
            spec.name, spec.url or "", str(pids.get(spec.name, "")), str(log) if log.exists() else ""
        )
    table.caption = f"tokens in {stack.paths.run_dir / 'tokens'} (mode 600)"
    return table


def up(
    run_dir: Path, profile: str, without: list[str], llm: str | None = None, runbooks_url: str | None = None
) -> int:
    console = Console()
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            return
        stopping.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stack = Stack(run_dir=run_dir, profile=profile, without=without, llm=llm, runbooks_url=runbooks_url)
    except LocalLLMUnavailable as exc:
        console.print(f"[red]--llm {llm}:[/red] {exc}")
        return 1
    try:
        with console.status("starting the lab..."):
            stack.start()
        console.print(listing(stack))
        console.print("Ctrl-C stops everything.")
        while not stopping.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    except StackError as exc:
        console.print(f"[red]the lab did not start:[/red] {exc}")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        console.print("stopping...")
        stack.stop()
    return 0
