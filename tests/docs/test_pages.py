"""The pages say what the code does: the README stays a page with its two commands first, the benchmark
and reliability tables are what `python -m lab bench --report` and `python -m lab reliability --report`
write from the recorded runs, and the metrics table names exactly the metrics the agent exposes."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from agent.actions.registry import scale_bounds
from agent.annotations.metrics import AnnotationMetrics
from agent.catalog.catalog import resolve
from agent.catalog.packs import load_packs
from agent.catalog.services import KubernetesBackendSpec, ServiceEntry
from agent.telemetry.metrics import AgentMetrics
from lab.bench import reliability_report
from lab.bench.report import RunLog, render_markdown, summarize

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_the_readme_fits_a_page_and_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_bytes()
    assert len(readme) < 10_000
    first = readme.decode().split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split("#")[0].strip() for line in first] == ["make up", "make test"]
    assert readme.decode().index("```bash") < 40  # right under the title
    makefile = (ROOT / "Makefile").read_text()  # and they do what it says
    assert re.search(r"^up:.*\n\t.*-m lab up\b", makefile, re.MULTILINE)
    assert re.search(r"^test:.*\n\t.*scripts/run-tests\b", makefile, re.MULTILINE)
    assert "-m pytest" in (ROOT / "scripts" / "run-tests").read_text()


def test_the_benchmark_table_is_what_the_report_writes_from_the_runs() -> None:
    runs = RunLog.read(DOCS / "bench" / "bench.json")
    assert (DOCS / "bench" / "bench.md").read_text() == render_markdown(summarize(runs)), (
        "docs/bench/bench.md is stale: python -m lab bench --report docs/bench/bench.json --out docs/bench"
    )


def test_the_reliability_table_is_what_the_report_writes_from_the_run() -> None:
    rows = reliability_report.read_rows(DOCS / "reliability" / "reliability.json")
    table = reliability_report.render_markdown(rows)
    assert (DOCS / "reliability" / "reliability.md").read_text() == table, (
        "docs/reliability/reliability.md is stale: python -m lab reliability --report"
        " docs/reliability/reliability.json --out docs/reliability"
    )


def test_the_metrics_table_names_every_metric_the_agent_exposes() -> None:
    registry = CollectorRegistry()
    AgentMetrics(registry)
    AnnotationMetrics(registry)
    exposed = {family.name + ("_total" if family.type == "counter" else "") for family in registry.collect()}
    page = (DOCS / "operating.md").read_text()
    table = page.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(sre_agent_\w+)` \|", table, re.MULTILINE))
    assert documented == exposed


def test_the_readmes_catalog_entry_loads_as_a_kubernetes_service() -> None:
    """The Deployment example on the README's first page is a catalog entry the agent accepts as it is."""
    readme = (ROOT / "README.md").read_text()
    (example,) = re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL)
    service = resolve(ServiceEntry.model_validate(yaml.safe_load(example)), load_packs(), {})
    assert isinstance(service.backend, KubernetesBackendSpec)
    assert (service.backend.namespace, service.backend.deployment) == ("shop", "checkout")
    assert scale_bounds(service) == (3, 12)
