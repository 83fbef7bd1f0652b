"""Signal pack cases: series a pack's PromQL must answer correctly, checked by `promtool test rules`.

A case file (`packs/<pack>.cases.yml`) holds cases for one pack. Each case gives a service (its selector
and vars, as a catalog entry would), `input_series` in promtool's notation and what each signal must read
at a time::

    pack: http
    cases:
      - name: a steady 2 requests a second
        service: {selector: '{job="checkout"}', vars: {window: 5m}}
        interval: 1m
        input_series:
          - {series: 'http_requests_total{job="checkout", code="200"}', values: '0+120x30'}
        expect:
          - {at: 20m, signal: requests_per_second, value: 2}
          - {at: 20m, signal: error_ratio, value: 0}
          - {at: 20m, signal: latency_p95_seconds, query: 0, value: absent}   # no histogram

The pack is scoped to the service by the catalog's own `resolve()`, so the queries checked are the ones
the agent sends. `query` picks one of a signal's alternatives (0, the first, by default); `labels` is the
answer's label set in promtool's notation (`{}` for an aggregate; the series' for a label signal).
Series start at Unix time 0. promtool compares values exactly: write the float it computes. Windows
hold both ends as in Prometheus 2 (promtool 2.42 here); Prometheus 3 leaves the start out, which moves
the extrapolated `increase` of a case whose samples sit on a window's edges.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field

from agent.catalog.catalog import Service, resolve
from agent.catalog.packs import SignalPack, load_packs
from agent.catalog.services import ServiceEntry

ROOT = Path(__file__).resolve().parents[3]
CASES_DIR = Path(__file__).resolve().parent / "packs"
PACK_FOLDERS = (ROOT / "signals",)  # the lab's SIGNAL_PACKS_PATH, beside the built-in packs
PROMTOOL_TIMEOUT_SECONDS = 60


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSeries(_Strict):
    series: str
    values: str


class Expectation(_Strict):
    at: str = Field(description="evaluation time from the start of the series (promtool's eval_time)")
    signal: str
    query: int = Field(default=0, ge=0, description="which of the signal's alternatives; 0 is the first")
    value: float | Literal["absent"]
    labels: str = "{}"


class ServiceUnderTest(_Strict):
    selector: str
    vars: dict[str, str] = Field(default_factory=dict)


class PackCase(_Strict):
    name: str
    service: ServiceUnderTest
    interval: str = "1m"
    input_series: list[InputSeries] = Field(min_length=1)
    expect: list[Expectation] = Field(min_length=1)


class CaseFile(_Strict):
    pack: str
    cases: list[PackCase] = Field(min_length=1)


class CaseError(Exception):
    """A case that cannot be checked as written (an unknown signal, a derived one, no such alternative)."""


def packs() -> dict[str, SignalPack]:
    """Every pack the lab's agent loads: the built-in ones and the lab's own."""
    return load_packs(*PACK_FOLDERS)


def load_case_files(folder: Path = CASES_DIR) -> dict[str, CaseFile]:
    """Pack name → its cases; a file's `pack` must match its name (`http.cases.yml` holds `pack: http`)."""
    files: dict[str, CaseFile] = {}
    for path in sorted(folder.glob("*.cases.yml")):
        case_file = CaseFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        if f"{case_file.pack}.cases.yml" != path.name:
            raise CaseError(f"{path.name}: holds cases for pack {case_file.pack!r}")
        files[case_file.pack] = case_file
    return files


def service_for(pack: str, service: ServiceUnderTest, known: dict[str, SignalPack]) -> Service:
    """The pack scoped to the service exactly as the catalog scopes a service's packs."""
    entry = ServiceEntry(
        service="service-under-test",
        owns=['service="service-under-test"'],
        selector=service.selector,
        packs=[pack],
        vars=service.vars,
    )
    return resolve(entry, known, {})


def query_of(service: Service, expectation: Expectation) -> str:
    spec = service.signals.get(expectation.signal)
    if spec is None:
        raise CaseError(f"no signal {expectation.signal!r} (signals: {sorted(service.signals)})")
    if not spec.promql:
        raise CaseError(f"signal {expectation.signal!r} is derived: check the signals it is derived from")
    if expectation.query >= len(spec.promql):
        last = len(spec.promql) - 1
        raise CaseError(f"signal {expectation.signal!r} has no query {expectation.query} (0 to {last})")
    return spec.promql[expectation.query]


def expr_test(service: Service, expectation: Expectation) -> dict[str, Any]:
    """One promtool `promql_expr_test`: the signal's query, and its answer (none when absent)."""
    samples = (
        [] if expectation.value == "absent" else [{"labels": expectation.labels, "value": expectation.value}]
    )
    return {"expr": query_of(service, expectation), "eval_time": expectation.at, "exp_samples": samples}


def unit_test(case: PackCase, service: Service) -> dict[str, Any]:
    """The promtool unit-test file checking the case."""
    test = {
        "name": case.name,
        "interval": case.interval,
        "input_series": [s.model_dump() for s in case.input_series],
        "promql_expr_test": [expr_test(service, e) for e in case.expect],
    }
    return {"rule_files": [], "evaluation_interval": case.interval, "tests": [test]}


def legend(case: PackCase, service: Service) -> str:
    """Which signal each query promtool reports on is, for a failure message."""
    return "\n".join(f"  {e.signal} (query {e.query}) at {e.at}: {query_of(service, e)}" for e in case.expect)


def promtool_or_skip() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool not on PATH (run scripts/install-system-deps)")
    return found


def run_case(
    promtool: str, pack: str, case: PackCase, known: dict[str, SignalPack], folder: Path
) -> str | None:
    """None when promtool passes the case; otherwise what failed, promtool's own words included."""
    service = service_for(pack, case.service, known)
    path = folder / f"{pack}.test.yml"
    path.write_text(yaml.safe_dump(unit_test(case, service), sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [promtool, "test", "rules", path.name],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=PROMTOOL_TIMEOUT_SECONDS,
    )
    if result.returncode == 0:
        return None
    return (
        f"pack {pack}, case {case.name!r}:\n{legend(case, service)}\n"
        f"promtool test rules {path}:\n{result.stdout}{result.stderr}"
    )
