"""The command line of the scripts that write committed files (deploy/kubernetes/render.py,
deploy/compose/render.py): write what the script renders, or with `--check` exit 1 naming the stale
files, as the tests run it. Each script keeps only what it renders."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_or_check(
    script: str, description: str, render: Callable[[], dict[str, str]], argv: list[str] | None = None
) -> int:
    """`script` is the caller's `__file__`; `render()` maps paths relative to its folder to their text."""
    path = Path(script).resolve()
    command = f"python {path.relative_to(ROOT)}"
    parser = argparse.ArgumentParser(prog=command, description=description)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files are stale")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        target = path.parent / name
        if args.check:
            if not target.is_file() or target.read_text() != text:
                stale.append(name)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)}; run {command}", file=sys.stderr)
        return 1
    return 0
