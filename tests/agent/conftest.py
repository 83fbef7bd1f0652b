"""Fixtures for the agent's tests; the stand-ins themselves live in agent_testkit.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from agent_testkit import Lab, LabUrls, ServedApp, WorkflowFactory
from fastapi import FastAPI


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
async def workflows(tmp_path: Path, lab_urls: LabUrls) -> AsyncIterator[WorkflowFactory]:
    factory = WorkflowFactory(tmp_path, lab_urls)
    yield factory
    await factory.close_all()
