"""One load step from `hey` (Debian's package `hey`): a Go load generator in its own process, so the
load's own CPU is not the measured server's event loop and its timings are not Python's.

hey's workers each send at `-q` requests per second for `-z` and wait for each answer before the next.
The workers are what Little's law asks for the offered rate at the p99 bound (every request taking the
whole bound still adds up to the rate), capped below the agent's SERVER_MAX_CONNECTIONS, past which
uvicorn answers 503 by design. hey's summary is parsed: its CSV leaves out the requests that got no
answer, and those are what a step must not hide.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

from lab.bench.capacity import Step

MISSING = (
    "python -m lab storm needs `hey` on PATH, the load generator: Debian's package `hey` "
    "(apt-get install hey; scripts/install-system-deps installs it)"
)
TIMEOUT_SECONDS = 5  # a request unanswered this long counts as an error


def find_hey() -> str | None:
    return shutil.which("hey")


def workers_for(rate: float, bound: float, max_workers: int) -> int:
    return max(1, min(max_workers, math.ceil(rate * bound)))


def planned(rate: float, seconds: float, workers: int) -> int:
    """What hey sends if answers come at once: each worker ticks every 1/q s, the first tick after one."""
    return workers * int(seconds * rate / workers)


def command(
    hey: str, url: str, body: Path, rate: float, seconds: float, workers: int, token: str = ""
) -> list[str]:
    args = [hey, "-z", f"{seconds:g}s", "-c", str(workers), "-q", f"{rate / workers:.6f}"]
    args += ["-t", str(TIMEOUT_SECONDS), "-m", "POST", "-T", "application/json", "-D", str(body)]
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    return [*args, url]


def parse_summary(text: str, rate: float, seconds: float, planned_requests: int) -> Step:
    """A Step from hey's default summary: status codes, the error distribution, the 50% and 99% rows."""
    codes_part, _, errors_part = text.partition("Error distribution:")
    answers = {
        int(code): int(n) for code, n in re.findall(r"^\s*\[(\d+)\]\s+(\d+) responses", codes_part, re.M)
    }
    errors = sum(int(n) for n in re.findall(r"^\s*\[(\d+)\]\s", errors_part, re.M))
    percentiles = {int(p): float(s) for p, s in re.findall(r"^\s*(\d+)% in ([\d.]+) secs", text, re.M)}
    # hey names a percentile only once a request's index reaches it (i * 100 // n): below 100 answers
    # there is no 99% row, and the nearest-rank p99 of fewer than 100 is the slowest.
    if 99 not in percentiles and answers and (slowest := re.search(r"Slowest:\s+([\d.]+) secs", text)):
        percentiles[99] = float(slowest.group(1))
    return Step(
        rate=rate,
        seconds=seconds,
        planned=planned_requests,
        answers=answers,
        errors=errors,
        p50=percentiles.get(50),
        p99=percentiles.get(99),
    )


def run_step(
    hey: str,
    url: str,
    body: Path,
    rate: float,
    seconds: float,
    bound: float,
    max_workers: int,
    token: str = "",
) -> Step:
    workers = workers_for(rate, bound, max_workers)
    done = subprocess.run(
        command(hey, url, body, rate, seconds, workers, token),
        capture_output=True,
        text=True,
        timeout=seconds + TIMEOUT_SECONDS + 30,
        check=True,
    )
    return parse_summary(done.stdout, rate, seconds, planned(rate, seconds, workers))
