"""Writes grafana/dashboards/*.json: the target, worker and agent dashboards Grafana provisions.

Run `python grafana/build_dashboards.py` after editing and commit both this file and the JSON;
`--check` exits 1 when the JSON is stale (the tests run it). Plain dicts on purpose: the
grafana-foundation-sdk is not a dependency and the JSON Grafana reads is the reviewable artefact.
Panels query the Prometheus datasource provisioned with uid `prometheus`; incidents show up on every
panel twice over: Grafana annotations the agent writes (tag `sre-agent`) and Prometheus-derived markers
from `sre_agent_incidents_total`, so the trail is there even when the agent cannot reach Grafana.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
GRAFANA = {"type": "grafana", "uid": "-- Grafana --"}
TARGET_UID = "sre-target"
WORKER_UID = "sre-worker"
AGENT_UID = "sre-agent"
WIDTH = 24

# A counter series that appears already at 1 has no increase Prometheus can see: catch new series too.
INCIDENT_MARKERS = (
    "sum by (diagnosis, outcome) (changes(sre_agent_incidents_total[1m]) > 0"
    " or (sre_agent_incidents_total unless sre_agent_incidents_total offset 1m))"
)
RANGE = "$__range"
RATE = "$__rate_interval"


def annotation_queries(extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "list": [
            {
                "builtIn": 1,
                "datasource": GRAFANA,
                "enable": True,
                "hide": True,
                "iconColor": "rgba(0, 211, 255, 1)",
                "name": "Annotations & Alerts",
                "target": {"limit": 100, "matchAny": False, "tags": [], "type": "dashboard"},
                "type": "dashboard",
            },
            {
                "datasource": GRAFANA,
                "enable": True,
                "hide": False,
                "iconColor": "#F2495C",
                "name": "SRE agent (Grafana annotations)",
                "target": {"limit": 200, "matchAny": False, "tags": ["sre-agent"], "type": "tags"},
            },
            {
                "datasource": PROMETHEUS,
                "enable": True,
                "hide": False,
                "iconColor": "#FF9830",
                "name": "SRE agent incidents (Prometheus)",
                "expr": INCIDENT_MARKERS,
                "step": "30s",
                "titleFormat": "incident {{outcome}}",
                "textFormat": "diagnosis {{diagnosis}}",
                "tagKeys": "diagnosis,outcome",
                "useValueForTime": False,
            },
            *(extra or []),
        ]
    }


def firing_alerts_annotation(service: str) -> dict[str, Any]:
    return {
        "datasource": PROMETHEUS,
        "enable": True,
        "hide": False,
        "iconColor": "#B877D9",
        "name": f"{service.capitalize()} alerts firing",
        "expr": f'ALERTS{{service="{service}", alertstate="firing"}}',
        "step": "15s",
        "titleFormat": "{{alertname}}",
        "textFormat": "{{severity}}",
        "tagKeys": "alertname,severity",
        "useValueForTime": False,
    }


def target(expr: str, legend: str = "", *, instant: bool = False, fmt: str = "time_series") -> dict[str, Any]:
    return {"expr": expr, "legendFormat": legend, "instant": instant, "range": not instant, "format": fmt}


def panel(
    kind: str,
    title: str,
    targets: list[dict[str, Any]],
    *,
    w: int,
    h: int = 8,
    unit: str = "short",
    description: str = "",
    defaults: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A panel without id and gridPos: `layout` numbers and places them row by row."""
    refs = "ABCDEFGH"
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "targets": [{"refId": refs[i], "datasource": PROMETHEUS, **t} for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": {"unit": unit, **(defaults or {})}, "overrides": []},
        "options": options or {},
        "_size": (w, h),
    }


def stat(
    title: str, expr: str, legend: str = "", *, w: int = 4, unit: str = "short", **kw: Any
) -> dict[str, Any]:
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "background",
        "graphMode": "none",
        "textMode": kw.pop("text_mode", "auto"),
    }
    targets = [target(expr, legend, instant=True)]
    return panel("stat", title, targets, w=w, h=4, unit=unit, options=options, **kw)


def series(
    title: str, exprs: list[tuple[str, str]], *, w: int = 12, unit: str = "short", **kw: Any
) -> dict[str, Any]:
    return panel("timeseries", title, [target(e, legend) for e, legend in exprs], w=w, unit=unit, **kw)


def table(title: str, expr: str, *, w: int = 12, **kw: Any) -> dict[str, Any]:
    return panel("table", title, [target(expr, instant=True, fmt="table")], w=w, **kw)


def thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    return {"thresholds": {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in steps]}}


def layout(rows: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Gives each panel a unique id and a gridPos; a row's panels sit side by side."""
    panels, y, next_id = [], 0, 1
    for row in rows:
        x, tallest = 0, 0
        for p in row:
            w, h = p.pop("_size")
            if x + w > WIDTH:
                raise ValueError(f"row too wide at panel {p['title']!r}")
            p["id"], p["gridPos"] = next_id, {"h": h, "w": w, "x": x, "y": y}
            next_id, x, tallest = next_id + 1, x + w, max(tallest, h)
            panels.append(p)
        y += tallest
    return panels


def dashboard(
    uid: str,
    title: str,
    rows: list[list[dict[str, Any]]],
    *,
    link_to: str,
    extra_annotations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["sre-agent"],
        "editable": False,
        "graphTooltip": 1,
        "refresh": "10s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "templating": {"list": []},
        "annotations": annotation_queries(extra_annotations),
        "links": [
            {"type": "dashboards", "tags": ["sre-agent"], "title": "SRE dashboards", "asDropdown": False}
        ],
        "description": f"Provisioned from grafana/build_dashboards.py; see also {link_to}.",
        "panels": layout(rows),
    }


def target_dashboard() -> dict[str, Any]:
    ok_bad = thresholds((None, "red"), (1, "green"))
    return dashboard(
        TARGET_UID,
        "Target service",
        [
            [
                stat("Target up", "max(target_up)", w=3, defaults=ok_bad),
                stat("Health state", "max by (state) (target_health_status == 1)", "{{state}}", w=4,
                     text_mode="name"),
                stat("Release", "max by (release) (target_release_info)", "{{release}}", w=5,
                     text_mode="name"),
                stat("Firing alerts", 'count(ALERTS{service="target", alertstate="firing"}) or vector(0)',
                     w=3,
                     defaults=thresholds((None, "green"), (1, "red"))),
                stat("Rate limit on", "max(target_rate_limit_enabled)", w=3),
                stat("Dependency fallback on", "max(target_dependency_fallback_enabled)", w=3),
                stat("Uptime", "time() - max(target_start_time_seconds)", w=3, unit="s"),
            ],
            [
                series("Error ratio", [
                    ("target_error_ratio", "reported by the target"),
                    ("instance:target_error_ratio:rate", "from counters (alert input)"),
                ], unit="percentunit", defaults={"min": 0}),
                series("Latency", [
                    ("target_response_time_avg_seconds", "avg"),
                    ("target_response_time_p95_seconds", "p95"),
                    ("target_db_query_avg_seconds", "db query avg"),
                    ("target_dependency_avg_seconds", "dependency call avg"),
                ], unit="s"),
            ],
            [
                series("Request rate vs baseline", [
                    ("instance:target_requests:rate", "requests/s"),
                    ("instance:target_requests:rate_baseline", "baseline (median)"),
                    ("target_requests_per_second", "reported by the target"),
                ], unit="reqps"),
                series("Throttled and failed requests", [
                    (f"sum(rate(target_throttled_requests_total[{RATE}]))", "throttled (429)"),
                    (f"sum(rate(target_errors_total[{RATE}]))", "errors (5xx)"),
                    (f"sum(rate(target_dependency_errors_total[{RATE}]))", "dependency errors"),
                ], unit="reqps"),
            ],
            [
                series("DB pool connections", [
                    ("target_db_pool_size", "size"),
                    ("target_db_pool_checked_out", "checked out"),
                    ("target_db_pool_overflow", "overflow"),
                    ("target_db_pool_waiting", "waiting"),
                ]),
                series("DB pool utilization", [("target_db_pool_utilization_ratio", "utilization")],
                       unit="percentunit", defaults={"min": 0, "max": 1}),
            ],
            [
                series("Resident memory", [("target_resident_memory_bytes", "rss")], w=8, unit="bytes"),
                series("CPU", [
                    ("target_cpu_ratio", "cores (target's window)"),
                    (f"rate(target_cpu_seconds_total[{RATE}])", "cores (from counter)"),
                ], w=8),
                series("Data disk", [("target_data_disk_used_ratio", "used of quota")], w=8,
                       unit="percentunit", defaults={"min": 0, "max": 1}),
            ],
            [
                series("Health checks (1 = ok)", [("target_health_check_ok", "{{check}}")], w=8,
                       defaults={"min": 0, "max": 1}),
                table("Firing alerts", 'ALERTS{service="target", alertstate="firing"}', w=10),
                series("Exporter", [
                    ("target_scrape_duration_seconds", "scrape duration"),
                    (f"sum by (endpoint) (rate(target_exporter_scrape_errors_total[{RATE}]))",
                     "errors {{endpoint}}"),
                ], w=6),
            ],
        ],
        extra_annotations=[firing_alerts_annotation("target")],
        link_to=AGENT_UID,
    )


def worker_dashboard() -> dict[str, Any]:
    """The queue worker from its own /metrics (job "worker") and the recording rules of worker.rules.yml."""
    worker = 'job="worker"'

    def quantile(q: float, histogram: str, by: str = "le") -> str:
        return f"histogram_quantile({q}, sum by ({by}) (rate({histogram}_bucket[{RATE}])))"

    return dashboard(
        WORKER_UID,
        "Queue worker",
        [
            [
                stat("Worker up", f"max(up{{{worker}}})", w=3,
                     defaults=thresholds((None, "red"), (1, "green"))),
                stat("Consumers", "sum(queue_consumers)", w=3),
                stat("Ready jobs", 'sum(queue_messages{state="ready"})', w=3),
                stat("Oldest waiting job", "max(queue_oldest_message_age_seconds)", w=4, unit="s",
                     defaults=thresholds((None, "green"), (30, "red"))),
                stat("Dead-lettered jobs", 'sum(queue_messages{state="dead_letter"})', w=4),
                stat("Firing alerts", 'count(ALERTS{service="worker", alertstate="firing"}) or vector(0)',
                     w=3, defaults=thresholds((None, "green"), (1, "red"))),
                stat("Uptime", f"time() - max(process_start_time_seconds{{{worker}}})", w=4, unit="s"),
            ],
            [
                series("Jobs per second", [
                    ("sum(instance_destination:messaging_client_sent_messages:rate)", "enqueued"),
                    ("sum(instance_destination:messaging_client_consumed_messages:rate)", "completed"),
                    ("sum by (error_type) (instance_destination_error_type:messaging_process_failures:rate)",
                     "failed {{error_type}}"),
                ], unit="ops", defaults={"min": 0}),
                series("Queue", [("sum by (state) (queue_messages)", "{{state}}")], defaults={"min": 0}),
            ],
            [
                series("Oldest waiting job", [
                    ("max(queue_oldest_message_age_seconds)", "age"),
                    ("max(instance_destination:queue_oldest_message_age_seconds:deriv)",
                     "growth (s per s, alert input)"),
                ], unit="s"),
                series("Consumers busy", [
                    ("max(instance_destination:messaging_process_busy:ratio)", "processing (alert input)"),
                    ('sum(queue_messages{state="in_flight"}) / sum(queue_consumers)', "jobs in flight"),
                ], unit="percentunit", defaults={"min": 0, "max": 1},
                   description="Per consumer. A hung consumer holds a job in flight but records no time."),
            ],
            [
                series("Processing time per attempt", [
                    (quantile(0.5, "messaging_process_duration_seconds"), "p50"),
                    (quantile(0.95, "messaging_process_duration_seconds"), "p95"),
                ], w=8, unit="s"),
                series("Enqueue API requests", [
                    (f"sum by (http_response_status_code) "
                     f"(rate(http_server_request_duration_seconds_count[{RATE}]))",
                     "{{http_response_status_code}}"),
                ], w=8, unit="reqps"),
                series("Enqueue API latency p95", [
                    (quantile(0.95, "http_server_request_duration_seconds", "le, http_route"),
                     "{{http_route}}"),
                ], w=8, unit="s"),
            ],
            [
                series("Resident memory", [
                    (f"process_resident_memory_bytes{{{worker}}}", "rss"),
                    ("instance:process_resident_memory_bytes:deriv", "growth per second (alert input)"),
                ], w=8, unit="bytes"),
                series("CPU and open files", [
                    (f"rate(process_cpu_seconds_total{{{worker}}}[{RATE}])", "cores"),
                    (f"process_open_fds{{{worker}}}", "open fds"),
                ], w=6),
                table("Firing alerts", 'ALERTS{service="worker", alertstate="firing"}', w=10),
            ],
        ],
        extra_annotations=[firing_alerts_annotation("worker")],
        link_to=AGENT_UID,
    )


def agent_dashboard() -> dict[str, Any]:
    def q(quantile: float) -> str:
        return (f"histogram_quantile({quantile}, "
                f"sum by (le) (increase(sre_agent_time_to_mitigate_seconds_bucket[{RANGE}])))")

    return dashboard(
        AGENT_UID,
        "SRE agent",
        [
            [
                stat("Agent up", 'max(up{job="sre-agent"})', w=3,
                     defaults=thresholds((None, "red"), (1, "green"))),
                stat("Remediation enabled", "max(sre_agent_remediation_enabled)", w=4,
                     defaults=thresholds((None, "orange"), (1, "green"))),
                stat("Open incidents", "sum(sre_agent_incidents_open)", w=4),
                stat("Queue depth", "sum(sre_agent_queue_depth)", w=3),
                stat("Circuit breakers open", "sum(sre_agent_circuit_breaker_open) or vector(0)", w=4,
                     defaults=thresholds((None, "green"), (1, "red"))),
                stat("Time to mitigate p50", q(0.5), w=3, unit="s"),
                stat("Time to mitigate p95", q(0.95), w=3, unit="s"),
            ],
            [
                table("Incidents by diagnosis and outcome",
                      f"sum by (diagnosis, outcome) (increase(sre_agent_incidents_total[{RANGE}]))"),
                table("Actions by result",
                      f"sum by (action, result) (increase(sre_agent_actions_total[{RANGE}]))"),
            ],
            [
                series("Time to mitigate by diagnosis", [
                    (f"histogram_quantile(0.5, sum by (le, diagnosis) "
                     f"(increase(sre_agent_time_to_mitigate_seconds_bucket[{RANGE}])))", "p50 {{diagnosis}}"),
                    (f"histogram_quantile(0.95, sum by (le, diagnosis) "
                     f"(increase(sre_agent_time_to_mitigate_seconds_bucket[{RANGE}])))", "p95 {{diagnosis}}"),
                ], unit="s"),
                series("Diagnosis confidence (mean)", [
                    (f"sum by (diagnosis) (increase(sre_agent_diagnosis_confidence_sum[{RANGE}]))"
                     f" / sum by (diagnosis) (increase(sre_agent_diagnosis_confidence_count[{RANGE}]))",
                     "{{diagnosis}}"),
                ], unit="percentunit", defaults={"min": 0, "max": 1}),
            ],
            [
                series("LLM calls", [
                    (f"sum by (result) (rate(sre_agent_llm_calls_total[{RATE}]))", "{{result}}"),
                ], w=8, unit="ops"),
                series("LLM tokens", [
                    (f"sum by (kind) (increase(sre_agent_llm_tokens_total[{RATE}]))", "{{kind}}"),
                ], w=8),
                series("LLM fallbacks to deterministic", [
                    (f"sum by (reason) (increase(sre_agent_llm_fallbacks_total[{RATE}]))", "{{reason}}"),
                ], w=8),
            ],
            [
                series("Webhook requests", [
                    (f"sum by (result) (rate(sre_agent_webhook_requests_total[{RATE}]))", "{{result}}"),
                ], w=8, unit="reqps"),
                series("Actions", [
                    (f"sum by (action, result) (increase(sre_agent_actions_total[{RATE}]))",
                     "{{action}} {{result}}"),
                ], w=8),
                series("Circuit breakers (1 = open)", [("sre_agent_circuit_breaker_open", "{{action}}")], w=8,
                       defaults={"min": 0, "max": 1}),
            ],
            [
                series("Workflow steps", [
                    (f"sum by (step) (rate(sre_agent_workflow_steps_total[{RATE}]))", "{{step}}"),
                ], w=8, unit="ops"),
                series("Grafana annotations", [
                    (f"sum by (result) (increase(sre_agent_annotations_total[{RATE}]))", "{{result}}"),
                    ("sum(sre_agent_annotations_pending)", "pending in outbox"),
                ], w=8),
                series("Queue depth and open incidents", [
                    ("sum(sre_agent_queue_depth)", "queue depth"),
                    ("sum(sre_agent_incidents_open)", "open incidents"),
                ], w=8),
            ],
        ],
        link_to=TARGET_UID,
    )


def render() -> dict[str, str]:
    return {
        name: json.dumps(board, indent=2, sort_keys=False) + "\n"
        for name, board in (
            ("target.json", target_dashboard()),
            ("worker.json", worker_dashboard()),
            ("agent.json", agent_dashboard()),
        )
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed JSON is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = OUT / name
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(name)
        else:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)}; run python grafana/build_dashboards.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
