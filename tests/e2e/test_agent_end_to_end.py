"""The product end to end, blind: every fault of both lab services in the catalog injected through chaos
on the real stack (target, queue worker, exporter, Prometheus, Alertmanager, agent, all started by the
runner users use), the agent paged by Alertmanager, judged from outside against the chaos server's
ground truth; then several faults at once (one per service, two on one service, one while another is
verified).

This is the benchmark's short version (one run per fault and scenario, one quiet run; each service's
faults in a lane of its own, side by side). Timings are printed, not asserted: they depend on the
machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from lab.bench.baseline import RestartOnEveryPage
from lab.bench.cli import describe
from lab.bench.observer import AgentObserver
from lab.bench.report import print_summary, summarize
from lab.bench.runbench import BenchConfig, run_bench
from lab.bench.scenario import NO_FAULT, RunResult
from lab.runner.monitoring import alertmanager_binary
from lab.runner.ports import Ports, free_port
from lab.runner.stack import Stack

from ..helpers.dashboard_queries import DASHBOARDS, dashboard_queries

QUIET_SECONDS = 120.0
INJECTOR = re.compile(r"(?i)(?<![a-z])(chaos|attack|fault)")  # as tests/e2e/test_lab_faults.py

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.long_pole,
    pytest.mark.timeout(1800),
    pytest.mark.skipif(alertmanager_binary() is None, reason="Alertmanager is not installed"),
]


@pytest.fixture(scope="module")
def receiver() -> Iterator[RestartOnEveryPage]:
    """A second Alertmanager receiver owned by the test (never armed): it only records what was sent."""
    recorder = RestartOnEveryPage(action_urls={}, action_token="", port=free_port())
    recorder.start()
    yield recorder
    recorder.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, receiver: RestartOnEveryPage) -> Iterator[Stack]:
    run_dir = tmp_path_factory.mktemp("stack")
    with Stack(ports=Ports.free(), run_dir=run_dir, profile="lab", extra_webhooks=[receiver.url]) as running:
        yield running


@pytest.fixture(scope="module")
def results(stack: Stack) -> list[RunResult]:
    # Seed 19 starts with the quiet run (two minutes, a harmless deploy at its start), which is also the
    # traffic history the surge alert needs; every fault after it runs minutes after a release change.
    config = BenchConfig(
        runs=1,
        quiet_runs=1,
        baseline=False,
        scenarios=True,
        seed=19,
        deadline_seconds=150,
        quiet_seconds=QUIET_SECONDS,
    )
    runs = run_bench(stack, config, on_result=lambda r: print(describe(r), flush=True))
    print_summary(summarize(runs))
    return runs


def _catalog(stack: Stack) -> list[str]:
    body = httpx.get(
        f"{stack.urls['chaos']}/api/v1/faults",
        timeout=5,
        headers={"Authorization": f"Bearer {stack.tokens.chaos}"},
    ).json()
    return sorted(f["name"] for f in body["faults"])


def test_every_fault_is_paged_diagnosed_and_fixed_without_harm(
    stack: Stack, results: list[RunResult]
) -> None:
    single = {r.fault: r for r in results if r.responder == "agent" and not r.scenario}
    assert sorted(f for f in single if f != NO_FAULT) == _catalog(stack)
    assert {r.service for r in single.values()} == {"target", "worker", "all"}
    failures = [
        describe(r)
        for r in results
        if r.fault != NO_FAULT
        and not (r.paged and r.diagnosis_correct and r.mitigated and not r.harmful_actions)
    ]
    assert not failures, "\n".join(failures)


def test_several_faults_at_once_are_each_handled_on_their_own_service(results: list[RunResult]) -> None:
    scenarios: dict[str, list[RunResult]] = {}
    for result in results:
        if result.scenario:
            scenarios.setdefault(result.scenario, []).append(result)
    assert set(scenarios) == {
        "one fault per service",
        "two faults on one service",
        "a fault while another is verified",
    }
    assert {r.service for r in scenarios["one fault per service"]} == {"target", "worker"}
    for runs in scenarios.values():
        assert len(runs) == 2 and all(r.mitigated and r.diagnosis_correct for r in runs), [
            describe(r) for r in runs
        ]


def test_no_action_ever_ran_on_a_service_without_a_fault(results: list[RunResult]) -> None:
    crossed = [describe(r) for r in results if r.cross_service_actions]
    assert not crossed, "\n".join(crossed)


def test_two_quiet_minutes_with_a_harmless_deploy_page_nobody(
    results: list[RunResult], receiver: RestartOnEveryPage
) -> None:
    quiet = [r for r in results if r.fault == NO_FAULT]
    assert quiet
    for result in quiet:
        assert not result.paged, describe(result)
        assert not result.actions, describe(result)
        end = result.started_at + timedelta(seconds=QUIET_SECONDS)
        pages = [n for n in receiver.notifications if result.started_at <= n.received_at <= end and n.firing]
        assert not pages, f"Alertmanager paged during the quiet run: {pages}"


def test_alertmanager_pages_every_fault_and_sends_resolved_notifications(
    stack: Stack, receiver: RestartOnEveryPage, results: list[RunResult]
) -> None:
    floor = min(stack.monitoring.floor_seconds.values()) if stack.monitoring else 0.0
    missing = []
    for result in results:
        if result.fault == NO_FAULT:
            continue
        pages = [n for n in receiver.notifications if n.received_at >= result.started_at and n.firing]
        if not pages:
            missing.append(result.fault)
            continue
        first = pages[0]
        seconds = (first.received_at - result.started_at).total_seconds()
        alerts = sorted(set(first.firing))
        print(f"{result.fault:<18} webhook after {seconds:5.1f}s (floor {floor:.0f}s): {alerts}")
    assert not missing, f"no firing notification for {missing}"
    fired = {name for n in receiver.notifications for name in n.firing}
    last_firing = {
        name: max(n.received_at for n in receiver.notifications if name in n.firing) for name in fired
    }
    unresolved = [
        name
        for name, when in last_firing.items()
        if not any(name in n.resolved and n.received_at >= when for n in receiver.notifications)
    ]
    assert not unresolved, f"alerts never resolved: {unresolved}"


def test_nothing_the_agent_kept_names_the_injector(stack: Stack, results: list[RunResult]) -> None:
    """The blind rule for what the agent keeps, not only for what the lab shows: every field of every
    incident (as `GET /agent/incidents/{id}` answers it: timeline, action results, report) and every
    proposed runbook amendment, without a word of the injector or an attack id. (A lock holder's command
    line, `python -m lab.chaos.lock_holder ...`, once reached incidents through an action's answer.)"""
    book = httpx.get(
        f"{stack.urls['chaos']}/api/v1/attacks",
        timeout=5,
        headers={"Authorization": f"Bearer {stack.tokens.chaos}"},
    ).json()
    attack_ids = [a["attack_id"] for part in book.values() for a in part]
    observer = AgentObserver(stack.urls["agent"])
    try:
        kept = [
            observer.incident_text(i.id) for i in observer.incidents_since(min(r.started_at for r in results))
        ]
    finally:
        observer.close()
    proposals = sorted((stack.paths.run_dir / "data" / "agent" / "proposed-runbooks").glob("*.md"))
    kept += [path.read_text() for path in proposals]
    assert len(kept) > len(proposals) and attack_ids
    for text in kept:
        match = INJECTOR.search(text)
        where = text[max(0, match.start() - 120) : match.end() + 120] if match else ""
        assert match is None, f"the agent kept {match.group(0)!r}: ...{where}..."
        assert not [attack_id for attack_id in attack_ids if attack_id in text]


def _documented_queries() -> list[str]:
    """docs/operating.md's PromQL block, one query per line; a line that starts with a space continues."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "operating.md").read_text()
    block = text.split("```promql", 1)[1].split("```", 1)[0]
    queries: list[str] = []
    for line in block.splitlines():
        expr = line.split("#", 1)[0].strip()
        if expr and line.startswith(" ") and queries:
            queries[-1] += " " + expr
        elif expr:
            queries.append(expr)
    return queries


def _query(stack: Stack, promql: str) -> list[dict]:
    response = httpx.get(f"{stack.urls['prometheus']}/api/v1/query", params={"query": promql}, timeout=10)
    body = response.json()
    assert body["status"] == "success", (promql, body)
    return body["data"]["result"]


def test_prometheus_holds_the_incident_history(stack: Stack, results: list[RunResult]) -> None:
    resolved = {
        sample["metric"]["diagnosis"]
        for sample in _query(stack, 'sum by (diagnosis) (sre_agent_incidents_total{outcome="resolved"})')
        if float(sample["value"][1]) >= 1
    }
    expected = {r.diagnosis for r in results if r.mitigated and r.diagnosis}
    assert expected and expected <= resolved
    assert _query(stack, "histogram_quantile(0.95, sum by (le) (sre_agent_time_to_mitigate_seconds_bucket))")
    assert _query(stack, 'sum(sre_agent_actions_total{result="succeeded"})')
    answers = {query: _query(stack, query) for query in _documented_queries()}
    assert len(answers) >= 5
    incidents_this_week = next(a for q, a in answers.items() if "sre_agent_incidents_total" in q)
    assert {s["metric"]["diagnosis"] for s in incidents_this_week} >= expected
    mean_ttm = next(a for q, a in answers.items() if "_seconds_sum" in q)
    assert 0 < float(mean_ttm[0]["value"][1]) < 600


def test_every_dashboard_panel_runs_on_the_live_prometheus(stack: Stack, results: list[RunResult]) -> None:
    empty = []
    for board in DASHBOARDS:
        for title, expr in dashboard_queries(board):
            if not _query(stack, expr):
                empty.append(f"{board.name}: {title}")
    # Panels for things that did not happen in this run (LLM calls, open breakers) may be empty;
    # the incident and target panels must not be.
    assert len(empty) < len(list(dashboard_queries(DASHBOARDS[0]))), empty
