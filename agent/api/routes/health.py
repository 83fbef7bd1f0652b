"""GET /health (what is degraded: the dependencies, and the agent's own fallbacks) and GET /metrics.

`/health` answers 200 whenever the agent itself answers, with `status` "ok" or "degraded" and the
names of what is degraded: an agent on its deterministic diagnoser or its embedded store still
pages in and acts, so a liveness probe must not restart it for that. It is open (no token), like
`/metrics`, and carries no URL, file path, token or incident data: names, booleans, counts and reasons, and in
`access` which of the agent's own routes answer without a token.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable
from typing import Literal

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from agent.actions.backend import ActionBackend
from agent.api.deps import RuntimeDep
from agent.api.guard import Access, access
from agent.api.responses import errors
from agent.runtime import AgentRuntime
from agent.telemetry.degraded import RECENT_SECONDS, KnowledgeWatch, LLMWatch

router = APIRouter()
ANNOTATION_BACKLOG = 50  # undelivered Grafana annotations: more than a few incidents' worth


class Probe(BaseModel):
    ok: bool
    seconds: float = Field(description="how long the dependency took to answer (or the 3 s cap)")


class Part(BaseModel):
    ok: bool
    reason: str = Field(default="", description="what is degraded and what the agent does instead")


class KnowledgeHealth(Part):
    available: bool = Field(description="false: no knowledge store at all (diagnosis without past incidents)")
    backend: str | None = Field(default=None, description="embedded or weaviate")
    file_writable: bool | None = None
    file_readable: bool | None = None
    set_aside_at_start: list[str] = Field(
        default_factory=list,
        description="unreadable files moved aside at start-up (their incidents are not searched)",
    )
    last_failure: str | None = Field(
        default=None, description="the last store call that failed, if it has not worked since"
    )
    weaviate_fallbacks_recent: int = Field(
        default=0, description=f"calls answered from the file in the last {RECENT_SECONDS:.0f} s"
    )


class LLMHealth(Part):
    configured: bool
    calls_recent: int = Field(default=0, description=f"diagnosis calls in the last {RECENT_SECONDS:.0f} s")
    fallbacks_recent: dict[str, int] = Field(
        default_factory=dict, description="by reason: timeout, error, unparsable, unknown_id"
    )
    last_result: str | None = None


class RemediationHealth(Part):
    kill_switch_engaged: bool
    mode: str


class BreakersHealth(Part):
    open: list[str] = Field(
        default_factory=list, description="`service/action` pairs whose circuit breaker is open"
    )


class IntakeHealth(Part):
    queue_depth: int
    queue_capacity: int
    refused_recent: int = Field(
        description=f"notifications answered 503 (queue full) in the last {RECENT_SECONDS:.0f} s"
    )


class AnnotationsHealth(Part):
    grafana_configured: bool
    pending: int = Field(description="annotations in the outbox not yet delivered")


class PagingHealth(Part):
    agent_alerts: bool = Field(description="escalations and approval requests posted to Alertmanager")
    silences: bool = Field(description="silences held on an incident's alerts while a fix is verified")
    firing: int = Field(default=0, description="the agent's own alerts it keeps firing at Alertmanager")


class AgentParts(BaseModel):
    knowledge: KnowledgeHealth
    llm: LLMHealth
    remediation: RemediationHealth
    circuit_breakers: BreakersHealth
    intake: IntakeHealth
    annotations: AnnotationsHealth
    paging: PagingHealth


class HealthReport(BaseModel):
    status: Literal["ok", "degraded"]
    degraded: list[str] = Field(description="dependencies and agent parts not ok, sorted")
    dependencies: dict[str, Probe] = Field(
        description="prometheus, incident_store, and `actions:<service>` for each service's action backend"
    )
    agent: AgentParts
    access: Access


async def probe_dependencies(runtime: AgentRuntime) -> dict[str, Probe]:
    """Ask each dependency once, concurrently: did it answer, and how fast (no URLs, no tokens)."""

    async def timed(check: Awaitable[bool]) -> Probe:
        started = time.monotonic()
        try:
            ok = await asyncio.wait_for(check, timeout=3.0)
        except TimeoutError:
            ok = False
        return Probe(ok=ok, seconds=round(time.monotonic() - started, 3))

    async def store() -> bool:
        return await runtime.store.ping()

    async def backend_answers(backend: ActionBackend) -> bool:
        return (await backend.catalog()).ok

    checks: dict[str, Awaitable[bool]] = {
        "prometheus": runtime.prometheus.ready(),
        "incident_store": store(),
    }
    for name, service in sorted(runtime.catalog.services().items()):
        backend = runtime.deps.backend(service)
        if backend is not None:
            checks[f"actions:{name}"] = backend_answers(backend)
    results = await asyncio.gather(*(timed(check) for check in checks.values()))
    return dict(zip(checks, results, strict=True))


def knowledge_health(knowledge: object | None, weaviate_configured: bool = False) -> KnowledgeHealth:
    if knowledge is None:
        return KnowledgeHealth(
            ok=False, available=False, reason="no knowledge store: diagnosing without past incidents"
        )
    if not isinstance(knowledge, KnowledgeWatch):  # a test's own store, not watched
        return KnowledgeHealth(ok=True, available=True, backend=getattr(knowledge, "backend", None))
    writable, readable = knowledge.writable(), knowledge.readable()
    fallbacks = len(knowledge.weaviate_fallbacks.recent())
    failure = knowledge.last_failure
    reasons = []
    if not writable:
        reasons.append("knowledge file cannot be written: incidents are kept in the incident history only")
    if not readable:
        reasons.append("knowledge file unreadable on disk: rewritten from memory at the next incident")
    if knowledge.set_aside_at_start:
        reasons.append(
            "knowledge file was unreadable at start-up and set aside; its past incidents are not searched"
        )
    if failure is not None:
        reasons.append(f"{failure.operation} failed ({failure.error})")
    if fallbacks:
        reasons.append(f"Weaviate failed {fallbacks} time(s) lately: answered from the file")
    if weaviate_configured and getattr(knowledge, "backend", None) != "weaviate":
        reasons.append("Weaviate was unavailable at start-up: on the embedded store until a restart")
    return KnowledgeHealth(
        ok=not reasons,
        reason="; ".join(reasons),
        available=True,
        backend=getattr(knowledge, "backend", None),
        file_writable=writable,
        file_readable=readable,
        set_aside_at_start=sorted(knowledge.set_aside_at_start),
        last_failure=f"{failure.operation}: {failure.error}" if failure else None,
        weaviate_fallbacks_recent=fallbacks,
    )


def llm_health(llm: object | None, configured: bool) -> LLMHealth:
    if not isinstance(llm, LLMWatch):
        reason = "LLM_MODEL set but the diagnoser did not load: deterministic diagnosis" if configured else ""
        return LLMHealth(ok=not configured or llm is not None, configured=configured, reason=reason)
    results = llm.calls.recent()
    fallbacks = Counter(r for r in results if r != "ok")
    failing = llm.last_result not in (None, "ok") and bool(fallbacks)
    return LLMHealth(
        ok=not failing,
        reason=f"last LLM call fell back ({llm.last_result}): deterministic diagnosis" if failing else "",
        configured=True,
        calls_recent=len(results),
        fallbacks_recent=dict(sorted(fallbacks.items())),
        last_result=llm.last_result,
    )


def agent_parts(runtime: AgentRuntime) -> AgentParts:
    engaged = runtime.kill_switch.engaged
    open_breakers = sorted(a for a, s in runtime.breakers.snapshot().items() if s["open"])
    queue = runtime.queue
    refused = len(queue.refused.recent())
    full = queue.depth >= queue.capacity > 0
    annotator = runtime.annotations
    grafana = bool(getattr(annotator, "enabled", False))
    pending = int(getattr(annotator, "pending", 0) or 0)
    backlog = grafana and pending >= ANNOTATION_BACKLOG
    return AgentParts(
        knowledge=knowledge_health(runtime.knowledge, bool(runtime.settings.WEAVIATE_URL)),
        llm=llm_health(runtime.llm, bool(runtime.settings.LLM_MODEL)),
        remediation=RemediationHealth(
            ok=not engaged,
            reason="kill switch engaged: incidents are diagnosed and escalated, nothing is run"
            if engaged
            else "",
            kill_switch_engaged=engaged,
            mode=runtime.settings.AGENT_MODE,
        ),
        circuit_breakers=BreakersHealth(
            ok=not open_breakers,
            reason=f"circuit breaker open for {', '.join(open_breakers)}: skipped until the cool-off"
            if open_breakers
            else "",
            open=open_breakers,
        ),
        intake=IntakeHealth(
            ok=not (full or refused),
            reason="intake queue full: notifications answered 503 so Alertmanager re-sends"
            if full or refused
            else "",
            queue_depth=queue.depth,
            queue_capacity=queue.capacity,
            refused_recent=refused,
        ),
        annotations=AnnotationsHealth(
            ok=not backlog,
            reason=f"{pending} annotations not delivered to Grafana: kept in the outbox" if backlog else "",
            grafana_configured=grafana,
            pending=pending,
        ),
        paging=paging_health(runtime),
    )


def paging_health(runtime: AgentRuntime) -> PagingHealth:
    """Degraded while the agent's alerts cannot be posted: people are not told what it hands over."""
    handover = runtime.deps.handover
    alerts = handover.alerts if handover is not None else None
    silences = handover is not None and handover.silences is not None
    if alerts is None:
        return PagingHealth(ok=True, agent_alerts=False, silences=silences)
    held = [a for a in alerts.held if a.ends_at is None]
    failing = alerts.last_error is not None
    reason = (
        f"the agent's alerts are not reaching Alertmanager ({alerts.last_error}): "
        f"{len(held)} escalation(s) or approval request(s) not delivered, retried"
    )
    return PagingHealth(
        ok=not failing,
        reason=reason if failing else "",
        agent_alerts=True,
        silences=silences,
        firing=len(held),
    )


@router.get("/health", responses=errors())
async def health(runtime: RuntimeDep) -> HealthReport:
    dependencies = await probe_dependencies(runtime)
    parts = await asyncio.to_thread(agent_parts, runtime)  # probes the knowledge file: no disk on the loop
    degraded = sorted(
        [name for name, probe in dependencies.items() if not probe.ok]
        + [name for name, part in parts if isinstance(part, Part) and not part.ok]
    )
    return HealthReport(
        status="degraded" if degraded else "ok",
        degraded=degraded,
        dependencies=dependencies,
        agent=parts,
        access=access(runtime.settings),
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}, **errors()},
)
async def metrics(runtime: RuntimeDep) -> Response:
    runtime.metrics.queue_depth.set(runtime.queue.depth)
    return Response(generate_latest(runtime.registry), media_type=CONTENT_TYPE_LATEST)
