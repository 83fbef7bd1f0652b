"""Holds a write transaction on a SQLite database until killed or its time is up.

`python -m lab.chaos.lock_holder <db path> --seconds N`. It is a separate process on purpose: the
target's writers then really wait on a lock another process holds, as with a stuck batch job.
Prints `locked` on stdout once the lock is held. The write (re-setting `user_version` to its own
value) is never committed, so the database is unchanged when the process ends.
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import sys
import time
from pathlib import Path


def hold(db_path: Path, seconds: float, busy_timeout: float = 10.0) -> None:
    connection = sqlite3.connect(db_path, timeout=busy_timeout, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        connection.execute(f"PRAGMA user_version = {int(version)}")
        print("locked", flush=True)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.chaos.lock_holder")
    parser.add_argument("db_path", type=Path)
    parser.add_argument("--seconds", type=float, default=600.0)
    args = parser.parse_args(argv)
    if not args.db_path.is_file():
        print(f"no database at {args.db_path}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        hold(args.db_path, args.seconds)
    except sqlite3.Error as exc:
        print(f"could not lock {args.db_path}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
