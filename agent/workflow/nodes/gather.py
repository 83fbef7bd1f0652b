"""gather: read what an on-call engineer would look at and turn it into `Symptoms`."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

from langchain_core.runnables import RunnableConfig

from agent.diagnosis.models import Symptoms
from agent.incidents.models import Incident
from agent.workflow.deps import WorkflowDeps
from agent.workflow.log_signatures import log_message, signatures
from agent.workflow.state import AgentState

MAX_LOG_LOOKBACK = timedelta(minutes=10)
PROMQL_CONTEXT = {
    # The alert rules' own baseline (median request rate before the surge window), when it is recorded.
    "baseline_rps_recorded": "sum(instance:target_requests:rate_baseline)",
    "baseline_rps": "avg_over_time(rate(target_requests_total[1m])[30m:1m] offset 5m)",
    "baseline_rps_gauge": "avg_over_time(target_requests_per_second[30m] offset 5m)",
    # The alert rules' own memory slope (their window), else a 5m slope.
    "memory_growth_recorded": "max(instance:target_resident_memory_bytes:deriv)",
    "memory_growth_bytes_per_second": "deriv(target_resident_memory_bytes[5m])",
    # The last CPU reading before the target stopped answering (a starved process looks down).
    "cpu_ratio_last": "max(last_over_time(target_cpu_ratio[1m]))",
    "error_ratio_now": "target_error_ratio",
    "error_ratio_10m_ago": "target_error_ratio offset 10m",
    "throttled_per_second": "rate(target_throttled_requests_total[1m])",
}


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    incident = deps.store.get(state["incident_id"])
    deps.set_step(incident.id, "gather", "diagnosing")
    since = log_window_start(incident, deps).isoformat()
    health, metrics, pool, logs, promql = await asyncio.gather(
        deps.target.health(),
        deps.target.metrics(),
        deps.target.pool(),
        deps.target.logs(level="ERROR", limit=200, since=since),
        _promql_context(deps),
    )
    gaps = [
        name
        for name, read in (("health", health), ("metrics", metrics), ("pool", pool), ("logs", logs))
        if not read.ok
    ]
    if all(r.error for r in promql.values()):
        gaps.append("prometheus")
    values = {name: r.first() for name, r in promql.items()}
    baseline = (
        values["baseline_rps_recorded"]
        or values["baseline_rps"]
        or values["baseline_rps_gauge"]
        or deps.baseline_rps()
    )

    s = Symptoms(
        alerts=incident.alerts,
        gaps=gaps,
        target_reachable=health.ok or metrics.ok,
        baseline_rps=baseline,
        memory_growth_bytes_per_second=_first_known(
            values["memory_growth_recorded"], values["memory_growth_bytes_per_second"]
        ),
        throttled_per_second=values["throttled_per_second"],
    )
    if health.value is not None:
        s.health_status = health.value.status
        s.release = health.value.release
        for name, check in health.value.check_views().items():
            if check.status and check.status != "ok":
                s.check_details[name] = f"{check.status}: {check.detail}".strip()
            if check.status == "failing":
                s.failing_checks.append(name)
    if metrics.value is not None:
        m = metrics.value
        s.error_rate_percent, s.avg_latency_ms, s.p95_latency_ms = (
            m.error_rate,
            m.avg_response_time_ms,
            m.p95_response_time_ms,
        )
        s.requests_per_second, s.db_query_avg_ms, s.dependency_avg_ms = (
            m.requests_per_second,
            m.db_query_avg_ms,
            m.dependency_avg_ms,
        )
        s.memory_rss_bytes, s.cpu_ratio, s.disk_used_ratio = (
            m.memory_rss_bytes,
            m.cpu_ratio,
            m.disk_used_ratio,
        )
        s.release = m.release or s.release
        if m.release_changed_at:
            s.release_changed_seconds_ago = max(0.0, time.time() - m.release_changed_at)
        s.rate_limit_enabled = m.rate_limit_rps is not None
        s.dependency_fallback_enabled = m.dependency_fallback
    elif values["cpu_ratio_last"] is not None:
        s.cpu_ratio = values["cpu_ratio_last"]
    if pool.value is not None:
        p = pool.value
        s.pool_utilization_ratio = p.utilization / 100 if p.utilization is not None else None
        s.pool_checked_out, s.pool_waiting = p.checked_out, p.waiting
    if logs.value:
        messages = [
            log_message(e.event, e.fields, e.traceback) for e in logs.value if e.level.upper() == "ERROR"
        ]
        s.log_error_count = len(messages)
        s.log_error_signatures = signatures(messages)
        s.log_samples = [m[:200] for m in messages[-5:]]

    evidence = {
        "promql": {
            name: {"query": r.query, "value": values[name], "error": r.error} for name, r in promql.items()
        }
    }
    entry = deps.record(
        incident.id,
        "gather",
        _summary(s),
        {
            "gaps": gaps,
            "baseline_rps": baseline,
            "log_error_signatures": s.log_error_signatures,
            "failing_checks": s.failing_checks,
        },
    )
    return {
        "symptoms": s.model_dump(mode="json"),
        "looks": int(state.get("looks") or 0) + 1,
        "first_look_at": state.get("first_look_at") or entry["ts"],
        "evidence": evidence,
        "alerts": [a.model_dump(mode="json") for a in incident.alerts],
        "timeline": [entry],
    }


def log_window_start(incident: Incident, deps: WorkflowDeps) -> datetime:
    """Where this incident's error logs begin: shortly before its first alert fired, and after the last
    verified recovery of the same service (errors from before it belong to the problem it fixed)."""
    starts = [a.starts_at for a in incident.alerts if a.status == "firing" and a.starts_at]
    onset = min(starts) if starts else incident.opened_at
    since = max(
        onset - timedelta(seconds=deps.settings.LOG_LOOKBACK_SECONDS), incident.opened_at - MAX_LOG_LOOKBACK
    )
    earlier = deps.store.find(service=incident.service, since=incident.opened_at - MAX_LOG_LOOKBACK)
    recoveries = [
        i.mitigated_at
        for i in earlier
        if i.id != incident.id and i.mitigated_at is not None and i.mitigated_at < incident.opened_at
    ]
    return max([since, *recoveries])


def _first_known(*values: float | None) -> float | None:
    """The first value Prometheus answered (0 is an answer, unlike in `a or b`)."""
    return next((v for v in values if v is not None), None)


async def _promql_context(deps: WorkflowDeps) -> dict[str, Any]:
    results = await asyncio.gather(*(deps.prometheus.query(q) for q in PROMQL_CONTEXT.values()))
    return dict(zip(PROMQL_CONTEXT, results, strict=True))


def _summary(s: Symptoms) -> str:
    parts = [f"health={s.health_status or 'unreachable'}"]
    if s.error_rate_percent is not None:
        parts.append(f"errors={s.error_rate_percent:.1f}%")
    if s.failing_checks:
        parts.append(f"failing={','.join(s.failing_checks)}")
    if s.log_error_count:
        parts.append(f"error_logs={s.log_error_count}")
    if s.gaps:
        parts.append(f"unread={','.join(s.gaps)}")
    return "symptoms gathered: " + " ".join(parts)
