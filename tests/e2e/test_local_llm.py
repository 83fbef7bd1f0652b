"""The blind end-to-end run with a real LLM deciding: SmolLM2-135M on llama.cpp's server, started by the
runner (`Stack(llm="local")`, what `python -m lab up --llm local` runs), a few faults through chaos.

A 135M model is often wrong: this does not ask it to be right. It asks that every answer was validated
before use, every fallback counted where an operator sees it (`sre_agent_llm_*`), and that nothing the
model said led to a harmful action. Deselected by default (`-m "not local_llm"` in pyproject); CI runs it
with `pytest -m local_llm` after scripts/install-local-llm.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lab.bench.cli import describe
from lab.bench.observer import AgentObserver, IncidentView
from lab.bench.report import print_summary, summarize
from lab.bench.runbench import BenchConfig, run_bench
from lab.bench.scenario import RunResult
from lab.runner.local_llm import MODEL_ALIAS, LocalLLMUnavailable, model_path
from lab.runner.monitoring import alertmanager_binary
from lab.runner.ports import Ports
from lab.runner.stack import Stack

FAULTS = ["crash", "db_pool", "bad_deploy"]  # one per kind of fix: restart, pool remediation, rollback


def _missing_extra() -> str | None:
    try:
        model_path()
    except LocalLLMUnavailable as exc:
        return f"the local-llm extra is not installed: {exc}"
    return None


pytestmark = [
    pytest.mark.e2e,
    pytest.mark.local_llm,
    pytest.mark.timeout(900),
    pytest.mark.skipif(alertmanager_binary() is None, reason="Alertmanager is not installed"),
    pytest.mark.skipif(_missing_extra() is not None, reason=_missing_extra() or ""),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir = tmp_path_factory.mktemp("stack")
    with Stack(ports=Ports.free(), run_dir=run_dir, profile="lab", llm="local") as running:
        yield running


@pytest.fixture(scope="module")
def results(stack: Stack) -> list[RunResult]:
    started = time.monotonic()
    config = BenchConfig(runs=1, quiet_runs=0, faults=FAULTS, baseline=False, seed=7, deadline_seconds=150)
    runs = run_bench(stack, config, on_result=lambda r: print(describe(r), flush=True))
    print_summary(summarize(runs))
    print(f"{len(runs)} faults with the local LLM in {time.monotonic() - started:.0f} s")
    return runs


@pytest.fixture(scope="module")
def incidents(stack: Stack, results: list[RunResult]) -> list[IncidentView]:
    observer = AgentObserver(stack.urls["agent"])
    try:
        first = min(r.started_at for r in results)
        return [observer.incident(i.id) for i in observer.incidents_since(first)]
    finally:
        observer.close()


def _agent_samples(stack: Stack, metric: str) -> dict[str, float]:
    """`label value -> sample` of one sre_agent_llm_* counter, read from the agent's own /metrics."""
    text = httpx.get(f"{stack.urls['agent']}/metrics", timeout=10).text
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{metric}_total":
                key = next(iter(sample.labels.values()), "")
                samples[key] = samples.get(key, 0.0) + sample.value
    return samples


def _diagnoses(incidents: list[IncidentView]) -> list[dict[str, Any]]:
    return [e.data for i in incidents for e in i.timeline if e.step == "diagnose"]


def test_nothing_the_model_said_led_to_a_harmful_action(results: list[RunResult]) -> None:
    assert sorted(r.fault for r in results) == sorted(FAULTS)
    for result in results:
        assert result.paged, describe(result)
        assert result.llm_calls >= 1, f"the LLM was never asked: {describe(result)}"
        assert not result.harmful_actions, describe(result)


def test_every_answer_was_validated_and_every_fallback_counted(
    stack: Stack, results: list[RunResult], incidents: list[IncidentView]
) -> None:
    runbooks = {rb for d in _diagnoses(incidents) for rb, _ in d.get("candidates") or []}
    diagnoses = _diagnoses(incidents)
    assert diagnoses and all(d["llm_calls"] == 1 for d in diagnoses)
    answered = [d for d in diagnoses if d.get("llm_answer") is not None]
    fallbacks = Counter(d["llm_fallback"] for d in diagnoses if d.get("llm_fallback"))
    for d in diagnoses:
        # an answer is a validated runbook id (or unknown); no answer is a counted fallback, never both unset
        assert d.get("llm_answer") is not None or d.get("llm_fallback"), d
        if d["source"] == "llm":
            assert d["llm_fallback"] is None and d["diagnosis"] == d["llm_answer"]
        else:
            assert d["diagnosis"] == d["deterministic_diagnosis"]
    calls = _agent_samples(stack, "sre_agent_llm_calls")
    counted = _agent_samples(stack, "sre_agent_llm_fallbacks")
    assert sum(calls.values()) == len(diagnoses)
    assert calls.get("ok", 0) == len(answered)
    assert {reason: n for reason, n in counted.items() if n} == dict(fallbacks)
    agreed = sum(d.get("llm_agreed") is True for d in answered)
    print(
        f"model {MODEL_ALIAS}: {len(diagnoses)} diagnoses, {len(answered)} validated answers "
        f"({agreed} agreeing with the evidence), fallbacks {dict(fallbacks) or 'none'}; "
        f"answers {Counter(d['llm_answer'] for d in answered)}; runbooks seen {len(runbooks)}"
    )


async def test_an_oversized_prompt_is_cut_to_fit_the_server_context(stack: Stack) -> None:
    """Thousands of log lines and alerts: the prompt is cut to LLM_MAX_PROMPT_CHARS, and the server (its
    n_ctx) takes it, so the answer is the model's, not a context-length error."""
    from agent.diagnosis.llm import LLMDiagnoser
    from agent.domain.alerts import AlertSummary
    from agent.domain.signals import Symptoms
    from agent.knowledge.runbooks import load_runbooks
    from lab.runner.local_llm import MAX_PROMPT_CHARS, N_CTX, agent_llm_env

    env = agent_llm_env(stack.ports.llm)
    symptoms = Symptoms(
        alerts=[
            AlertSummary(name=f"TargetHighErrorRatio{i}", annotations={"description": "x" * 400})
            for i in range(40)
        ],
        log_error_signatures={f"error {i} " + "database is locked " * 30: i for i in range(200)},
        log_samples=["Traceback " + "y" * 3000 for _ in range(50)],
    )
    llm = LLMDiagnoser(
        model=env["LLM_MODEL"],
        api_base=env["LLM_API_BASE"],
        api_key=env["LLM_API_KEY"],
        response_format="json_object",
        max_prompt_chars=MAX_PROMPT_CHARS,
        timeout_seconds=240,
    )
    runbooks = list(load_runbooks(Path(__file__).resolve().parents[2] / "runbooks"))
    outcome = await llm.diagnose(symptoms, runbooks, [], ["restart-target"])
    # answered (valid or not), neither refused (a context error is an "error") nor left unanswered
    assert outcome.fallback_reason in (None, "unparsable", "unknown_id"), outcome
    assert 0 < outcome.prompt_tokens + outcome.completion_tokens <= N_CTX
    answer = outcome.fallback_reason or "ok"
    print(f"oversized prompt: {outcome.prompt_tokens} prompt tokens, answer {answer}")
