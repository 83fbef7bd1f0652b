"""The provisioned dashboards: schema, freshness against the builder, metric names that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from agent.annotations import AnnotationMetrics
from agent.telemetry.metrics import AgentMetrics

from ..helpers.dashboard_queries import DASHBOARDS, dashboard_queries, expand, iter_panels, load

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "grafana"
METRIC = re.compile(
    r"\b(?:target_|sre_agent_|instance:|instance_[a-z_]+:|queue_|messaging_|http_server_|process_)[A-Za-z0-9_:]*"
)
# The queue worker's /metrics, as its contract states them (it is scraped directly, no exporter).
WORKER_METRICS = {
    "messaging_client_sent_messages_total",
    "messaging_client_consumed_messages_total",
    *(f"messaging_process_duration_seconds{s}" for s in ("_bucket", "_sum", "_count")),
    *(f"http_server_request_duration_seconds{s}" for s in ("_bucket", "_sum", "_count")),
    "queue_messages",
    "queue_oldest_message_age_seconds",
    "queue_consumers",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "process_start_time_seconds",
    "process_open_fds",
}


def known_metric_names() -> set[str]:
    """What the exporter, the agent and the recording rules really expose."""
    registry = CollectorRegistry()
    AgentMetrics(registry)
    AnnotationMetrics(registry)
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    names = {f.name + suffix for f in registry.collect() for suffix in suffixes.get(f.type, ("",))}
    collector = (ROOT / "exporters" / "collector.py").read_text()
    exporter = set(re.findall(r'"(target_[a-z0-9_]+)"', collector))
    names |= exporter | {f"{n}_total" for n in exporter}
    names |= WORKER_METRICS
    for rules in (ROOT / "alerting" / "rules").glob("*.rules.yml.j2"):
        names |= set(re.findall(r"record:\s*(\S+)", rules.read_text()))
    return names


def test_every_dashboard_exists() -> None:
    assert {p.name for p in DASHBOARDS} >= {"target.json", "worker.json", "agent.json"}


def test_committed_json_matches_the_builder() -> None:
    done = subprocess.run(
        [sys.executable, str(GRAFANA / "build_dashboards.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panel_schema(path: Path) -> None:
    board = load(path)
    assert board["uid"] and board["title"] and board.get("id") is None
    ids = []
    for p in iter_panels(board):
        ids.append(p["id"])
        assert p["datasource"] == {"type": "prometheus", "uid": "prometheus"}, p["title"]
        pos = p["gridPos"]
        assert all(isinstance(pos[k], int) for k in ("h", "w", "x", "y")), p["title"]
        assert pos["x"] + pos["w"] <= 24, p["title"]
        assert p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert isinstance(t["expr"], str) and t["expr"].strip(), p["title"]
            assert t["datasource"]["uid"] == "prometheus", p["title"]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_dashboard_uids_are_unique() -> None:
    uids = [load(p)["uid"] for p in DASHBOARDS]
    assert len(uids) == len(set(uids))


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_incidents_are_annotated_from_grafana_and_from_prometheus(path: Path) -> None:
    queries = load(path)["annotations"]["list"]
    tags = [a for a in queries if a.get("target", {}).get("type") == "tags"]
    assert any("sre-agent" in a["target"]["tags"] for a in tags)
    prom = [a for a in queries if a["datasource"].get("uid") == "prometheus"]
    assert any("sre_agent_incidents_total" in a["expr"] for a in prom)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_queries_use_metrics_that_exist(path: Path) -> None:
    known = known_metric_names()
    unknown = {
        (title, name)
        for title, expr in dashboard_queries(path)
        for name in METRIC.findall(expr)
        if name not in known
    }
    assert not unknown


def test_macros_are_all_replaced() -> None:
    assert expand("rate(x[$__rate_interval]) + increase(y[$__range]) + z[$__interval]") == (
        "rate(x[1m]) + increase(y[1h]) + z[15s]"
    )
    for path in DASHBOARDS:
        for title, expr in dashboard_queries(path):
            assert "$__" not in expr, title


def test_the_brief_panels_are_there() -> None:
    exprs = {p.name: " ".join(e for _, e in dashboard_queries(p)) for p in DASHBOARDS}
    for needle in (
        "target_health_status",
        "target_error_ratio",
        "target_response_time_p95_seconds",
        "instance:target_requests:rate_baseline",
        "target_throttled_requests_total",
        "target_db_pool_waiting",
        "target_db_pool_utilization_ratio",
        "target_resident_memory_bytes",
        "target_cpu_ratio",
        "target_data_disk_used_ratio",
        "target_release_info",
        'ALERTS{service="target"',
    ):
        assert needle in exprs["target.json"], needle
    for needle in (
        'up{job="worker"}',
        "queue_oldest_message_age_seconds",
        'queue_messages{state="ready"}',
        "instance_destination:messaging_client_consumed_messages:rate",
        "instance_destination_error_type:messaging_process_failures:rate",
        "instance_destination:messaging_process_busy:ratio",
        'process_resident_memory_bytes{job="worker"}',
        'ALERTS{service="worker"',
    ):
        assert needle in exprs["worker.json"], needle
    for needle in (
        "increase(sre_agent_incidents_total[1h])",
        "sre_agent_time_to_mitigate_seconds_bucket",
        "sre_agent_actions_total",
        "sre_agent_incidents_open",
        "sre_agent_diagnosis_confidence",
        "sre_agent_llm_calls_total",
        "sre_agent_llm_tokens_total",
        "sre_agent_llm_fallbacks_total",
        "sre_agent_webhook_requests_total",
        "sre_agent_queue_depth",
        "sre_agent_remediation_enabled",
        "sre_agent_circuit_breaker_open",
    ):
        assert needle in exprs["agent.json"], needle


def test_provisioning_files() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (prom,) = ds["datasources"]
    assert (prom["uid"], prom["type"], prom["url"]) == ("prometheus", "prometheus", "http://prometheus:9090")
    boards = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "dashboards.yml").read_text())
    (provider,) = boards["providers"]
    assert provider["type"] == "file" and provider["options"]["path"] == "/var/lib/grafana/dashboards"
