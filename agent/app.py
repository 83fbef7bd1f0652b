"""The agent's app factory: the lifespan builds clients, stores, the compiled graph and the intake worker."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
import httpx
import structlog
from fastapi import FastAPI
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from prometheus_client import CollectorRegistry

from agent.annotations import GrafanaAnnotator
from agent.api.limits import BodySizeLimit
from agent.api.routes import control, health, incidents, webhooks
from agent.api.routes import knowledge as knowledge_routes
from agent.api.routes import runbooks as runbook_routes
from agent.clients.actions import ActionClient
from agent.clients.alertmanager import AlertmanagerClient
from agent.clients.prometheus import PrometheusClient
from agent.clients.target import TargetClient
from agent.config import Settings
from agent.guardrails.breaker import CircuitBreakers
from agent.guardrails.kill_switch import KillSwitch
from agent.guardrails.policy import Guardrails
from agent.incidents.store import IncidentStore
from agent.intake.correlation import Correlator
from agent.intake.monitor import AnomalyDetector, MonitorLoop
from agent.intake.queue import IntakeQueue
from agent.knowledge.library import RunbookLibrary
from agent.learning.proposed import ProposedAmendments
from agent.loaders import load_knowledge, load_reasoning
from agent.runtime import AgentRuntime
from agent.telemetry.degraded import KnowledgeWatch, LLMWatch, corrupt_copies
from agent.telemetry.metrics import AgentMetrics
from agent.workflow.deps import Reasoning, WorkflowDeps
from agent.workflow.graph import create_graph
from agent.workflow.runner import IncidentRunner

log = structlog.get_logger("agent")


def create_app(
    settings: Settings,
    *,
    reasoning: Reasoning | None = None,
    runbooks: list[Any] | None = None,
    knowledge: Any | None = None,
    registry: CollectorRegistry | None = None,
) -> FastAPI:
    """Tests may pass stand-ins for reasoning, runbooks, knowledge; `python -m agent` loads the real ones.

    Runbooks passed in are fixed; otherwise a `RunbookLibrary` reads RUNBOOKS_PATH and re-reads it every
    RUNBOOKS_CHECK_SECONDS, keeping the knowledge store in step.
    """
    registry = registry or CollectorRegistry()
    metrics = AgentMetrics(registry)
    watch: list[KnowledgeWatch] = []

    def fallback(operation: str) -> None:
        metrics.knowledge_fallbacks_total.labels(operation=operation).inc()
        for knowledge_watch in watch:
            knowledge_watch.weaviate_fallbacks.add(operation)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        data_dir = settings.AGENT_DATA_DIR
        data_dir.mkdir(parents=True, exist_ok=True)
        notes: list[str] = []
        store = IncidentStore(data_dir / "incidents.db")
        async with (
            httpx.AsyncClient(timeout=settings.HTTP_TIMEOUT_SECONDS) as http,
            aiosqlite.connect(data_dir / "checkpoints.db") as conn,
        ):
            await conn.execute("PRAGMA journal_mode=WAL")
            saver = AsyncSqliteSaver(conn)
            await saver.setup()
            library: RunbookLibrary | None = None
            if runbooks is None:
                library = RunbookLibrary(
                    settings.RUNBOOKS_PATH, on_change=lambda rbs: metrics.start_at_zero([rb.id for rb in rbs])
                )
                library.refresh()
            fixed = list(runbooks or [])
            current = library.runbooks if library is not None else lambda: fixed
            loaded = current()
            aside_before = corrupt_copies(settings.VECTOR_STORE_PATH)
            store_k = (
                knowledge if knowledge is not None else load_knowledge(settings, loaded, notes, fallback)
            )
            if store_k is not None and knowledge is None:  # /health says what the store could not do
                set_aside = sorted(corrupt_copies(settings.VECTOR_STORE_PATH) - aside_before)
                store_k = KnowledgeWatch(store_k, settings.VECTOR_STORE_PATH, set_aside)
                watch.append(store_k)
            if library is not None:
                library.attach(store_k)
            amendments = (
                ProposedAmendments(settings.proposed_runbooks_path)
                if settings.PROPOSED_RUNBOOKS_ENABLED
                else None
            )
            thinking = reasoning or load_reasoning(settings, notes)
            if thinking.llm is not None:
                thinking = dataclasses.replace(thinking, llm=LLMWatch(thinking.llm))
            target = TargetClient(http, settings.TARGET_API_BASE_URL)
            prometheus = PrometheusClient(http, settings.PROMETHEUS_URL, settings.HTTP_TIMEOUT_SECONDS)
            actions = ActionClient(
                http, settings.ACTION_SERVER_URL, settings.ACTION_TOKEN, settings.ACTION_TIMEOUT_SECONDS
            )
            kill_switch = KillSwitch(store, settings.REMEDIATION_ENABLED, metrics)
            breakers = CircuitBreakers(
                settings.CIRCUIT_BREAKER_FAILURES, settings.CIRCUIT_BREAKER_COOLOFF_SECONDS, metrics
            )
            detector = AnomalyDetector(error_rate_floor=settings.ANOMALY_THRESHOLD_ERROR_RATE)
            annotator = GrafanaAnnotator(
                http,
                url=settings.GRAFANA_URL,
                token=settings.GRAFANA_TOKEN,
                outbox_path=data_dir / "annotations.jsonl",
                registry=registry,
                dashboard_uid=settings.GRAFANA_DASHBOARD_UID,
            )
            annotator.start()
            deps = WorkflowDeps(
                settings=settings,
                store=store,
                target=target,
                prometheus=prometheus,
                actions=actions,
                guardrails=Guardrails(settings, store, kill_switch, breakers),
                metrics=metrics,
                reasoning=thinking,
                runbooks=current,
                knowledge=store_k,
                baseline_rps=detector.baseline_rps,
                annotations=annotator,
                amendments=amendments,
            )
            runner = IncidentRunner(
                create_graph(saver, deps), store, metrics, settings.MAX_CONCURRENT_INCIDENTS
            )
            alertmanager = (
                AlertmanagerClient(http, settings.ALERTMANAGER_URL) if settings.ALERTMANAGER_URL else None
            )
            correlator = Correlator(store, metrics, runner.start, alertmanager)
            queue = IntakeQueue(correlator, metrics, settings.INTAKE_QUEUE_SIZE)
            monitor = (
                MonitorLoop(target, detector, correlator, settings.POLL_INTERVAL_SECONDS)
                if settings.MONITOR_ENABLED
                else None
            )
            app.state.runtime = AgentRuntime(
                settings=settings,
                registry=registry,
                metrics=metrics,
                store=store,
                target=target,
                prometheus=prometheus,
                actions=actions,
                kill_switch=kill_switch,
                breakers=breakers,
                runner=runner,
                correlator=correlator,
                queue=queue,
                runbooks=current,
                library=library,
                amendments=amendments,
                reasoning=thinking,
                monitor=monitor,
                knowledge=store_k,
                llm_enabled=thinking.llm is not None,
                llm=thinking.llm,
                annotations=annotator,
                notes=notes,
            )
            metrics.incidents_open.set(store.count_unfinished())
            metrics.start_at_zero([runbook.id for runbook in loaded])
            background = [asyncio.create_task(queue.run(), name="intake-worker")]
            if monitor is not None:
                background.append(asyncio.create_task(monitor.run(), name="monitor"))
            if library is not None:
                background.append(
                    asyncio.create_task(library.run(settings.RUNBOOKS_CHECK_SECONDS), name="runbook-library")
                )
            resumed = await runner.recover()
            log.info(
                "agent_started", mode=settings.AGENT_MODE, runbooks=len(loaded), resumed=resumed, notes=notes
            )
            try:
                yield
            finally:
                for task in background:
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.gather(*background, return_exceptions=True)
                await runner.shutdown()
                await annotator.aclose()
                app.state.runtime = None
                store.close()
                close_knowledge = getattr(store_k, "close", None) if knowledge is None else None
                if close_knowledge is not None:  # the Weaviate client and its worker threads
                    close_knowledge()

    app = FastAPI(title="sre-agent", version="0.1.0", lifespan=lifespan)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.MAX_REQUEST_BODY_BYTES,
        on_refused=lambda path: metrics.request_bodies_refused_total.inc(),
    )
    app.state.runtime = None
    app.state.registry = registry
    routers = (
        webhooks.router,
        incidents.router,
        control.router,
        health.router,
        knowledge_routes.router,
        runbook_routes.router,
    )
    for router in routers:
        app.include_router(router)
    return app
