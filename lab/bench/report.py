"""Tables, JSON and a chart from benchmark runs: the numbers a user reads before trusting the agent."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from lab.bench.scenario import NO_FAULT, RunResult


class Row(BaseModel):
    responder: str
    fault: str
    runs: int
    service: str = ""
    detection_rate: float
    diagnosis_rate: float | None
    mitigation_rate: float
    harmful_actions: int
    wrong_actions: int
    cross_service_actions: int = 0
    median_ttd: float | None
    p95_ttd: float | None
    ttd_floor: float | None
    median_ttm: float | None
    p95_ttm: float | None
    ttm_over_floor: float | None
    steps_per_incident: float | None
    llm_calls_per_incident: float | None = None
    tokens_per_incident: float | None
    llm_agreement_rate: float | None = None  # LLM answers equal to the deterministic diagnosis


class Summary(BaseModel):
    rows: list[Row]
    totals: list[Row]
    false_positive_rate: dict[str, float | None]


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _row(responder: str, fault: str, runs: list[RunResult], service: str = "") -> Row:
    ttd = [r.seconds_to_page for r in runs if r.seconds_to_page is not None]
    page_floors = [r.page_floor_seconds for r in runs if r.page_floor_seconds is not None]
    ttm = [r.seconds_to_mitigate for r in runs if r.seconds_to_mitigate is not None]
    judged = [r for r in runs if r.diagnosis_correct is not None]
    ratios = [
        r.seconds_to_mitigate / r.floor_seconds
        for r in runs
        if r.seconds_to_mitigate is not None and r.floor_seconds
    ]
    with_incident = [r for r in runs if r.incidents]

    def per_incident(values: list[int]) -> float | None:
        return sum(values) / len(with_incident) if with_incident else None

    answers = sum(r.llm_answers for r in runs)

    return Row(
        responder=responder,
        fault=fault,
        runs=len(runs),
        service=service,
        detection_rate=sum(r.paged for r in runs) / len(runs),
        diagnosis_rate=(sum(bool(r.diagnosis_correct) for r in judged) / len(judged)) if judged else None,
        mitigation_rate=sum(r.mitigated for r in runs) / len(runs),
        harmful_actions=sum(len(r.harmful_actions) for r in runs),
        wrong_actions=sum(len(r.wrong_actions) for r in runs),
        cross_service_actions=sum(len(r.cross_service_actions) for r in runs),
        median_ttd=statistics.median(ttd) if ttd else None,
        p95_ttd=_percentile(ttd, 0.95),
        ttd_floor=statistics.median(page_floors) if page_floors else None,
        median_ttm=statistics.median(ttm) if ttm else None,
        p95_ttm=_percentile(ttm, 0.95),
        ttm_over_floor=statistics.median(ratios) if ratios else None,
        steps_per_incident=per_incident([r.workflow_steps for r in with_incident]),
        llm_calls_per_incident=per_incident([r.llm_calls for r in with_incident]),
        tokens_per_incident=per_incident([r.llm_tokens for r in with_incident]),
        llm_agreement_rate=sum(r.llm_agreed for r in runs) / answers if answers else None,
    )


def _label(result: RunResult) -> str:
    """A fault, or a fault within a several-faults scenario (its own row: it is not the same test)."""
    return f"{result.fault} [{result.scenario}]" if result.scenario else result.fault


def summarize(results: list[RunResult]) -> Summary:
    """A row per service and fault (and scenario), totals per service and over all faults."""
    groups: dict[tuple[str, str, str], list[RunResult]] = defaultdict(list)
    for result in results:
        groups[(result.responder, result.service, _label(result))].append(result)
    rows = [
        _row(responder, fault, runs, service)
        for (responder, service, fault), runs in sorted(
            groups.items(), key=lambda kv: (kv[0][0], kv[0][1], "[" in kv[0][2], kv[0][2])
        )
        if fault != NO_FAULT
    ]
    totals = []
    false_positive_rate: dict[str, float | None] = {}
    for responder in sorted({r.responder for r in results}):
        faulted = [r for r in results if r.responder == responder and r.fault != NO_FAULT]
        quiet = [r for r in results if r.responder == responder and r.fault == NO_FAULT]
        services = sorted({r.service for r in faulted})
        if len(services) > 1:
            for service in services:
                totals.append(
                    _row(responder, "all faults", [r for r in faulted if r.service == service], service)
                )
        if faulted:
            totals.append(_row(responder, "all faults", faulted, "all" if len(services) > 1 else services[0]))
        noisy = sum(r.paged or bool(r.actions) for r in quiet)
        false_positive_rate[responder] = noisy / len(quiet) if quiet else None
    return Summary(rows=rows, totals=totals, false_positive_rate=false_positive_rate)


def _fmt(value: float | None, pattern: str = "{:.1f}") -> str:
    return "-" if value is None else pattern.format(value)


COLUMNS = (
    "responder",
    "service",
    "fault",
    "runs",
    "detected",
    "diagnosed",
    "mitigated",
    "harmful",
    "cross-service",
    "TTD p50/p95 s",
    "page floor s",
    "TTM p50/p95 s",
    "TTM/floor",
    "steps",
    "LLM calls",
    "LLM agreed",
    "tokens",
)


def _cells(row: Row) -> list[str]:
    return [
        row.responder,
        row.service,
        row.fault,
        str(row.runs),
        _fmt(row.detection_rate, "{:.0%}"),
        _fmt(row.diagnosis_rate, "{:.0%}"),
        _fmt(row.mitigation_rate, "{:.0%}"),
        str(row.harmful_actions),
        str(row.cross_service_actions),
        f"{_fmt(row.median_ttd)}/{_fmt(row.p95_ttd)}",
        _fmt(row.ttd_floor),
        f"{_fmt(row.median_ttm)}/{_fmt(row.p95_ttm)}",
        _fmt(row.ttm_over_floor, "{:.2f}"),
        _fmt(row.steps_per_incident),
        _fmt(row.llm_calls_per_incident),
        _fmt(row.llm_agreement_rate, "{:.0%}"),
        _fmt(row.tokens_per_incident, "{:.0f}"),
    ]


def print_summary(summary: Summary, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title="Blind chaos benchmark", show_lines=False)
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in ("responder", "service", "fault") else "right")
    for row in [*summary.rows, *summary.totals]:
        table.add_row(*_cells(row))
    console.print(table)
    for responder, rate in summary.false_positive_rate.items():
        console.print(f"false-positive rate on no-fault runs ({responder}): {_fmt(rate, '{:.0%}')}")


def render_markdown(summary: Summary) -> str:
    """The same table as `print_summary`, as Markdown for the README."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in [*summary.rows, *summary.totals]]
    lines.append("")
    lines += [
        f"False-positive rate on no-fault runs ({responder}): {_fmt(rate, '{:.0%}')}"
        for responder, rate in summary.false_positive_rate.items()
    ]
    return "\n".join(lines) + "\n"


class RunLog:
    """Every finished run, kept in memory and appended to a JSON-lines file as it lands, so a bench that
    is stopped hours in still has its runs on disk. The file starts afresh at the first run, so a bench
    that never gets going leaves the last one's log alone."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.results: list[RunResult] = []

    def record(self, result: RunResult) -> None:
        if not self.results:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("")
        self.results.append(result)
        with self.path.open("a") as log:
            log.write(result.model_dump_json() + "\n")

    @staticmethod
    def read(path: Path) -> list[RunResult]:
        """The runs of a run log (`runs.jsonl`) or of a finished bench's `bench.json`."""
        text = path.read_text()
        if path.suffix == ".json":
            return [RunResult.model_validate(run) for run in json.loads(text)["runs"]]
        return [RunResult.model_validate_json(line) for line in text.splitlines() if line.strip()]


def write_outputs(results: list[RunResult], summary: Summary, out_dir: Path) -> dict[str, Path]:
    """JSON of every run and the summary, the table as Markdown, and a PNG chart of time to mitigate."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "bench.json"
    json_path.write_text(
        json.dumps(
            {
                "runs": [r.model_dump(mode="json") for r in results],
                "summary": summary.model_dump(mode="json"),
            },
            indent=2,
        )
    )
    md_path = out_dir / "bench.md"
    md_path.write_text(render_markdown(summary))
    png_path = out_dir / "bench.png"
    _chart(summary, png_path)
    return {"json": json_path, "md": md_path, "png": png_path}


def _chart(summary: Summary, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    faults = sorted({row.fault for row in summary.rows})
    responders = sorted({row.responder for row in summary.rows})
    by_key = {(row.responder, row.fault): row for row in summary.rows}
    fig, (ax_ttm, ax_ok) = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    width = 0.8 / max(1, len(responders))
    for i, responder in enumerate(responders):
        xs = [x + i * width for x in range(len(faults))]
        ttm = [(by_key.get((responder, f)) or _EMPTY).median_ttm or 0 for f in faults]
        ok = [(by_key.get((responder, f)) or _EMPTY).mitigation_rate * 100 for f in faults]
        ax_ttm.bar(xs, ttm, width, label=responder)
        ax_ok.bar(xs, ok, width, label=responder)
    ax_ttm.set_ylabel("median time to mitigate (s)")
    ax_ok.set_ylabel("mitigated (%)")
    ax_ok.set_xticks([x + width * (len(responders) - 1) / 2 for x in range(len(faults))], faults, rotation=30)
    ax_ttm.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


_EMPTY = Row(
    responder="",
    fault="",
    runs=0,
    detection_rate=0,
    diagnosis_rate=None,
    mitigation_rate=0,
    harmful_actions=0,
    wrong_actions=0,
    median_ttd=None,
    p95_ttd=None,
    ttd_floor=None,
    median_ttm=None,
    p95_ttm=None,
    ttm_over_floor=None,
    steps_per_incident=None,
    tokens_per_incident=None,
)
