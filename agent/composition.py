"""The one place the agent is put together: `build_runtime(settings, parts)` opens every client, store
and background loop, compiles the graph, and closes them in reverse. The app's lifespan and the tests
use it alike; tests pass `Parts` (stand-in reasoning, fixed runbooks, a catalog, the environment)
instead of patching anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
import httpx
import structlog
from dotenv import dotenv_values
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from prometheus_client import CollectorRegistry

from agent.actions.registry import ActionBackends
from agent.annotations import GrafanaAnnotator
from agent.catalog.catalog import ServiceCatalog
from agent.clients.alertmanager import AlertmanagerClient
from agent.clients.prometheus import PrometheusClient
from agent.config import Settings
from agent.guardrails.breaker import CircuitBreakers
from agent.guardrails.kill_switch import KillSwitch
from agent.guardrails.policy import Guardrails
from agent.incidents.retention import run_retention
from agent.incidents.store import IncidentStore
from agent.intake.correlation import Correlator
from agent.intake.monitor import MonitorLoop
from agent.intake.queue import IntakeQueue
from agent.knowledge.library import RunbookLibrary
from agent.learning.proposed import ProposedAmendments
from agent.loaders import load_knowledge, load_reasoning
from agent.paging.alerts import Links
from agent.paging.delivery import AgentAlerts
from agent.paging.handover import Handover
from agent.paging.silences import VerificationSilences
from agent.runtime import AgentRuntime
from agent.telemetry.degraded import KnowledgeWatch, LLMWatch, corrupt_copies
from agent.telemetry.loop_lag import watch_event_loop_lag
from agent.telemetry.metrics import AgentMetrics
from agent.workflow.deps import Reasoning, WorkflowDeps
from agent.workflow.graph import create_graph
from agent.workflow.runner import IncidentRunner

log = structlog.get_logger("agent")


@dataclass
class Parts:
    """What a caller may put in instead of what `settings` says (tests, embedding)."""

    reasoning: Reasoning | None = None
    runbooks: list[Any] | None = None  # fixed; None: RUNBOOKS_PATH, re-read on change
    knowledge: Any | None = None
    annotations: Any | None = None  # None: the Grafana annotator (with its outbox) from settings
    catalog: ServiceCatalog | None = None  # None: SERVICES_PATH and SIGNAL_PACKS_PATH, re-read on change
    env: Mapping[str, str] | None = None  # for the catalog's ${NAME} and tokens; None: .env + process env
    registry: CollectorRegistry | None = None
    interrupt_after: list[str] | None = None
    sleep: Callable[[float], Awaitable[None]] | None = None
    background: bool = True  # the intake worker, monitor and file watchers
    recover: bool = True  # resume unfinished incidents from their checkpoints
    notes: list[str] = field(default_factory=list)


def process_env(env_file: Path | str = ".env") -> dict[str, str]:
    """The environment the catalog reads: `.env` (as pydantic-settings does), then the process's."""
    values = (
        {k: v for k, v in dotenv_values(env_file).items() if v is not None} if Path(env_file).exists() else {}
    )
    return {**values, **os.environ}


@asynccontextmanager
async def build_runtime(settings: Settings, parts: Parts | None = None) -> AsyncIterator[AgentRuntime]:
    parts = parts or Parts()
    registry = parts.registry or CollectorRegistry()
    metrics = AgentMetrics(registry)
    watch: list[KnowledgeWatch] = []

    def fallback(operation: str) -> None:
        metrics.knowledge_fallbacks_total.labels(operation=operation).inc()
        for knowledge_watch in watch:
            knowledge_watch.weaviate_fallbacks.add(operation)

    data_dir = settings.AGENT_DATA_DIR
    data_dir.mkdir(parents=True, exist_ok=True)
    notes: list[str] = list(parts.notes)
    env = dict(parts.env) if parts.env is not None else process_env()
    store = await IncidentStore.open(data_dir / "incidents.db")
    async with (
        httpx.AsyncClient(timeout=settings.HTTP_TIMEOUT_SECONDS) as http,
        aiosqlite.connect(data_dir / "checkpoints.db") as conn,
    ):
        await conn.execute("PRAGMA journal_mode=WAL")
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        catalog = parts.catalog or ServiceCatalog(settings.SERVICES_PATH, [settings.SIGNAL_PACKS_PATH], env)
        catalog.refresh()
        library: RunbookLibrary | None = None
        if parts.runbooks is None:
            library = RunbookLibrary(
                settings.RUNBOOKS_PATH,
                on_change=lambda rbs: metrics.start_at_zero(
                    sorted(catalog.services()), [rb.id for rb in rbs]
                ),
                known_signals=catalog.signal_names,
            )
            library.refresh()
        fixed = list(parts.runbooks or [])
        current = library.runbooks if library is not None else lambda: fixed
        loaded = current()
        aside_before = corrupt_copies(settings.VECTOR_STORE_PATH)
        knowledge = parts.knowledge
        if knowledge is None:
            knowledge = load_knowledge(settings, loaded, notes, fallback)
            if knowledge is not None:  # /health says what the store could not do
                set_aside = sorted(corrupt_copies(settings.VECTOR_STORE_PATH) - aside_before)
                knowledge = KnowledgeWatch(knowledge, settings.VECTOR_STORE_PATH, set_aside)
                watch.append(knowledge)
        if library is not None:
            library.attach(knowledge)
        amendments = (
            ProposedAmendments(settings.proposed_runbooks_path)
            if settings.PROPOSED_RUNBOOKS_ENABLED
            else None
        )
        thinking = parts.reasoning or load_reasoning(settings, notes)
        if thinking.llm is not None:
            thinking = dataclasses.replace(thinking, llm=LLMWatch(thinking.llm))
        prometheus = PrometheusClient(http, settings.PROMETHEUS_URL, settings.HTTP_TIMEOUT_SECONDS)
        backends = ActionBackends(http, env, settings.ACTION_TIMEOUT_SECONDS)
        kill_switch = await KillSwitch.load(store, settings.REMEDIATION_ENABLED, metrics)
        breakers = CircuitBreakers(
            settings.CIRCUIT_BREAKER_FAILURES, settings.CIRCUIT_BREAKER_COOLOFF_SECONDS, metrics
        )
        grafana = GrafanaAnnotator(
            http,
            url=settings.GRAFANA_URL,
            token=settings.GRAFANA_TOKEN,
            outbox_path=data_dir / "annotations.jsonl",
            registry=registry,
            dashboard_uid=settings.GRAFANA_DASHBOARD_UID,
        )
        annotator = parts.annotations or grafana
        grafana.start()
        deps = WorkflowDeps(
            settings=settings,
            store=store,
            http=http,
            prometheus=prometheus,
            catalog=catalog,
            backends=backends,
            guardrails=Guardrails(settings, store, kill_switch, breakers),
            metrics=metrics,
            reasoning=thinking,
            runbooks=current,
            knowledge=knowledge,
            annotations=annotator,
            amendments=amendments,
            sleep=parts.sleep,
        )
        handover = await _handover(settings, http, store, metrics, catalog)
        deps.handover = handover

        async def failed(incident_id: str) -> None:
            await handover.unsilence(incident_id)
            await handover.escalated(incident_id)

        runner = IncidentRunner(
            create_graph(saver, deps, interrupt_after=parts.interrupt_after),
            store,
            metrics,
            settings.MAX_CONCURRENT_INCIDENTS,
            on_failed=failed,
        )
        alertmanager = (
            AlertmanagerClient(http, settings.ALERTMANAGER_URL) if settings.ALERTMANAGER_URL else None
        )
        correlator = Correlator(
            store,
            metrics,
            runner.start,
            catalog,
            current,
            alertmanager,
            settings.UNOWNED_ALERTS,
            settings.incident_limits(),
            on_escalated=handover.escalated,
        )

        async def open_incident(service: str, alerts: list[Any], follows: str) -> str | None:
            reason = f"still firing after {follows}'s fix"
            opened = await correlator.open_or_merge("handoff", service, "", alerts, reason, follows)
            return opened.incident_id

        deps.open_incident = open_incident
        queue = IntakeQueue(correlator, metrics, settings.INTAKE_QUEUE_SIZE, settings.WEBHOOK_MAX_ALERTS)
        monitor = (
            MonitorLoop(
                catalog,
                deps,
                correlator,
                settings.POLL_INTERVAL_SECONDS,
                settings.ANOMALY_THRESHOLD_ERROR_RATE,
            )
            if settings.MONITOR_ENABLED
            else None
        )
        runtime = AgentRuntime(
            settings=settings,
            registry=registry,
            metrics=metrics,
            store=store,
            catalog=catalog,
            deps=deps,
            kill_switch=kill_switch,
            breakers=breakers,
            runner=runner,
            correlator=correlator,
            queue=queue,
            library=library,
            amendments=amendments,
            monitor=monitor,
            annotations=annotator,
            saver=saver,
            notes=notes,
        )
        metrics.incidents_open.set(await store.count_unfinished())
        metrics.start_at_zero(sorted(catalog.services()), [runbook.id for runbook in loaded])
        await runtime.refresh_follow_ups()
        background: list[asyncio.Task[None]] = []
        if parts.background:
            background.append(asyncio.create_task(queue.run(), name="intake-worker"))
            background.append(
                asyncio.create_task(_watch_catalog(catalog, library, settings), name="service-catalog")
            )
            if monitor is not None:
                background.append(asyncio.create_task(monitor.run(), name="monitor"))
            if library is not None:
                background.append(
                    asyncio.create_task(library.run(settings.RUNBOOKS_CHECK_SECONDS), name="runbook-library")
                )
            if handover.alerts is not None:
                background.append(asyncio.create_task(handover.alerts.run(), name="agent-alerts"))
            if handover.silences is not None:
                background.append(asyncio.create_task(handover.silences.run(), name="silences"))
            retention = run_retention(
                store,
                saver,
                settings.INCIDENT_RETENTION_DAYS,
                settings.INCIDENT_RETENTION_MAX,
                settings.RETENTION_CHECK_SECONDS,
                metrics,
            )
            background.append(asyncio.create_task(retention, name="retention"))
            lag = watch_event_loop_lag(
                metrics.event_loop_lag.observe, settings.EVENT_LOOP_LAG_INTERVAL_SECONDS
            )
            background.append(asyncio.create_task(lag, name="event-loop-lag"))
        resumed = await runner.recover() if parts.recover else []
        log.info(
            "agent_started",
            mode=settings.AGENT_MODE,
            services=sorted(catalog.services()),
            runbooks=len(loaded),
            resumed=resumed,
            notes=runtime.all_notes(),
        )
        try:
            yield runtime
        finally:
            for task in background:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*background, return_exceptions=True)
            await runner.shutdown()
            await grafana.aclose()
            await backends.aclose()
            await store.close()
            close_knowledge = getattr(knowledge, "close", None) if parts.knowledge is None else None
            if close_knowledge is not None:  # the Weaviate client and its worker threads
                close_knowledge()


async def _handover(
    settings: Settings,
    http: httpx.AsyncClient,
    store: IncidentStore,
    metrics: AgentMetrics,
    catalog: ServiceCatalog,
) -> Handover:
    """People through Alertmanager: the agent's alerts and its silences, each on when its settings say."""
    links = Links(settings.external_url())
    url = settings.agent_alerts_url
    client = AlertmanagerClient(http, url) if url else None

    def escalation_labels(service: str) -> dict[str, str]:
        found = catalog.get(service) if service else None
        return dict(found.entry.escalation.labels) if found is not None else {}

    handover = Handover(store, links, settings.alert_limits(), escalation_labels=escalation_labels)
    if client is not None and settings.AGENT_ALERTS_ENABLED:
        handover.alerts = AgentAlerts(
            client,
            store,
            metrics,
            resend_seconds=settings.AGENT_ALERTS_RESEND_SECONDS,
            escalation_max_seconds=settings.AGENT_ALERTS_ESCALATION_MAX_SECONDS,
        )
        await handover.alerts.load()
    if client is not None and settings.SILENCE_WHILE_VERIFYING:
        handover.silences = VerificationSilences(
            client,
            store,
            metrics,
            links,
            settings.SILENCE_MAX_SECONDS,
            retry_seconds=settings.AGENT_ALERTS_RESEND_SECONDS,
        )
        await handover.silences.load()
    return handover


async def _watch_catalog(catalog: ServiceCatalog, library: RunbookLibrary | None, settings: Settings) -> None:
    """Re-read the catalog every SERVICES_CHECK_SECONDS; when its signals change, runbooks are re-checked."""
    while True:
        await asyncio.sleep(settings.SERVICES_CHECK_SECONDS)
        if await asyncio.to_thread(catalog.refresh) and library is not None:
            library.recheck()
