"""Fixtures for the knowledge store tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .knowledge_kit import RUNBOOKS


@pytest.fixture
def runbook_dir(tmp_path: Path) -> Path:
    """A copy of the real runbooks the test may edit."""
    folder = tmp_path / "runbooks"
    shutil.copytree(RUNBOOKS, folder)
    return folder
