"""Writes `.env` for docker compose from `.env.example`, each `change-me…` value replaced by a fresh random
token, mode 600. It never overwrites an existing `.env` (its tokens may be in use): move it aside first.

    python deploy/compose/make_env.py [--out PATH]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"^(?P<name>[A-Z_]+)=change-me\S*$", re.MULTILINE)


def generated(example: str) -> str:
    return PLACEHOLDER.sub(lambda m: f"{m['name']}={secrets.token_urlsafe(32)}", example)


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--out", type=Path, default=ROOT / ".env")
    args = cli.parse_args(argv)
    example = (ROOT / ".env.example").read_text()
    text = generated(example)
    try:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"{args.out} exists: left as it is (move it aside to generate a new one)", file=sys.stderr)
        return 1
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    print(f"wrote {args.out} (mode 600) with {len(PLACEHOLDER.findall(example))} generated tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
