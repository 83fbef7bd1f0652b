"""Fixtures for the agent's tests; the stand-ins live in agent_testkit.py and weaviate_standin.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from agent.app import create_app
from agent.composition import Parts
from agent.knowledge.embedded import EmbeddedKnowledgeStore
from agent.knowledge.embedder import AUTO, EmbedderUnavailable, SentenceTransformerEmbedder, load_embedder
from agent.knowledge.weaviate_collections import connect_weaviate
from agent.knowledge.weaviate_store import WeaviateKnowledgeStore

from .agent_testkit import (
    Lab,
    LabUrls,
    ServedApp,
    WorkflowFactory,
    agent_settings,
    lab_catalog,
    standin_env,
    standin_reasoning,
    standin_runbooks,
)
from .weaviate_standin import WeaviateStandIn


@pytest.fixture
def serve() -> Iterator[Callable[[FastAPI], ServedApp]]:
    started: list[ServedApp] = []

    def start(app: FastAPI) -> ServedApp:
        served = ServedApp(app).__enter__()
        started.append(served)
        return served

    yield start
    for served in reversed(started):
        served.__exit__()


@pytest.fixture
def lab() -> Lab:
    return Lab()


@pytest.fixture
def lab_urls(lab: Lab, serve: Callable[[FastAPI], ServedApp]) -> LabUrls:
    """One server for the three stand-ins (their paths do not overlap): one start-up and shutdown per test."""
    url = serve(lab.combined_app()).url
    return LabUrls(target=url, action=url, prometheus=url)


@pytest.fixture
def served_agent(
    tmp_path: Path, lab_urls: LabUrls, serve: Callable[[FastAPI], ServedApp]
) -> Callable[..., ServedApp]:
    """The agent's real app (lifespan, SQLite, its own knowledge file) on a real port, against the lab
    stand-ins; stand-in runbooks and reasoning unless given (`reasoning=`, `runbooks=`)."""

    def start(reasoning: Any = None, runbooks: Any = None, **overrides: Any) -> ServedApp:
        settings = agent_settings(tmp_path, lab_urls, **overrides)
        parts = Parts(
            reasoning=reasoning or standin_reasoning(),
            runbooks=runbooks if runbooks is not None else standin_runbooks(),
            catalog=lab_catalog(lab_urls),
            env=standin_env(lab_urls),
        )
        return serve(create_app(settings, parts))

    return start


@pytest.fixture
async def workflows(tmp_path: Path, lab_urls: LabUrls) -> AsyncIterator[WorkflowFactory]:
    factory = WorkflowFactory(tmp_path, lab_urls)
    yield factory
    await factory.close_all()


@pytest.fixture
def weaviate_server() -> Iterator[WeaviateStandIn]:
    server = WeaviateStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def weaviate_store(weaviate_server: WeaviateStandIn) -> Iterator[Callable[..., WeaviateKnowledgeStore]]:
    """Opens Weaviate stores on the stand-in over an embedded record at `path` (hybrid when given an
    `embedder`); all closed at the end."""
    opened: list[WeaviateKnowledgeStore] = []

    def open_store(path: Path, embedder: Any = None, **options: Any) -> WeaviateKnowledgeStore:
        client = connect_weaviate(weaviate_server.url, weaviate_server.grpc_port, SecretStr(""), 2.0)
        store = WeaviateKnowledgeStore(client, EmbeddedKnowledgeStore(path, embedder=embedder), **options)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformerEmbedder:
    """The packaged all-MiniLM-L6-v2, loaded once per session (a few seconds); needs the `semantic` extra."""
    try:
        return load_embedder(AUTO)
    except EmbedderUnavailable as exc:
        pytest.skip(f"semantic search not installed: {exc}")
