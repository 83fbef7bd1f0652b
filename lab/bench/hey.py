"""One load step from `hey` (Debian's package `hey`): a Go load generator in its own processes, so the
load's own CPU is not the measured server's event loop and its timings are not Python's.

hey's workers each send at `-q` requests per second for `-z` and wait for each answer before the next.
The workers are what Little's law asks for the offered rate at the p99 bound (every request taking the
whole bound still adds up to the rate), capped below the agent's SERVER_MAX_CONNECTIONS, past which
uvicorn answers 503 by design.

One hey process starts its workers' tickers together, so they fire together: the rate arrives in
bursts of every worker at once (the floor's p50 at 400/s was 35 ms with 64 workers, 3 ms with 4). So a
step runs its workers as up to STREAMS hey processes started a fraction of a tick apart: bursts up to
an eighth the size. Each stream's default summary is parsed (its CSV leaves out the requests that got
no answer, and those are what a step must not hide), and the streams merge with the highest stream's
p99 as the step's: a mixture's p99 is never above its parts' highest.
"""

from __future__ import annotations

import math
import re
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from lab.bench.capacity import Step

MISSING = (
    "python -m lab storm needs `hey` on PATH, the load generator: Debian's package `hey` "
    "(apt-get install hey; scripts/install-system-deps installs it)"
)
TIMEOUT_SECONDS = 5  # a request unanswered this long counts as an error
STREAMS = 8


def find_hey() -> str | None:
    return shutil.which("hey")


def workers_for(rate: float, bound: float, max_workers: int) -> int:
    return max(1, min(max_workers, math.ceil(rate * bound)))


def streams_of(workers: int, requests: int) -> list[int]:
    """The workers split over at most STREAMS processes, as evenly as they go, each sending 100 requests
    or more: below 100 hey has no 99% row, and a stream's p99 is its slowest."""
    count = max(1, min(workers, STREAMS, requests // 100))
    return [workers // count + (1 if i < workers % count else 0) for i in range(count)]


def planned(per_worker_rate: float, seconds: float, workers: int) -> int:
    """What hey sends if answers come at once: each worker ticks every 1/q s, the first tick after one."""
    return workers * int(seconds * per_worker_rate)


def command(
    hey: str, url: str, body: Path, per_worker_rate: float, seconds: float, workers: int, token: str = ""
) -> list[str]:
    args = [hey, "-z", f"{seconds:g}s", "-c", str(workers), "-q", f"{per_worker_rate:.6f}"]
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


def merge(rate: float, parts: list[Step]) -> Step:
    """One step from its streams: counts added; p99 the highest stream's (an upper bound of the whole's),
    p50 the streams' median (a middle, not the whole's median)."""
    answers: dict[int, int] = {}
    for part in parts:
        for status, n in part.answers.items():
            answers[status] = answers.get(status, 0) + n
    p50s = [part.p50 for part in parts if part.p50 is not None]
    p99s = [part.p99 for part in parts if part.p99 is not None]
    return Step(
        rate=rate,
        seconds=max(part.seconds for part in parts),
        planned=sum(part.planned for part in parts),
        answers=answers,
        errors=sum(part.errors for part in parts),
        p50=statistics.median(p50s) if p50s else None,
        p99=max(p99s) if p99s else None,
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
    per_worker = rate / workers
    split = streams_of(workers, int(rate * seconds))
    tick = 1 / per_worker
    began = time.monotonic()
    running: list[tuple[int, subprocess.Popen[str]]] = []
    try:
        for index, share in enumerate(split):
            time.sleep(max(0.0, began + index * tick / len(split) - time.monotonic()))
            args = command(hey, url, body, per_worker, seconds, share, token)
            running.append((share, subprocess.Popen(args, stdout=subprocess.PIPE, text=True)))
        parts = []
        for share, process in running:
            out, _ = process.communicate(timeout=seconds + TIMEOUT_SECONDS + 30)
            if process.returncode != 0:
                raise RuntimeError(f"hey exited {process.returncode}")
            parts.append(parse_summary(out, rate, seconds, planned(per_worker, seconds, share)))
    finally:
        for _, process in running:
            if process.poll() is None:
                process.kill()
                process.wait()
    return merge(rate, parts)
