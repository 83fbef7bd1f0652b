"""Finding the Prometheus tools on PATH, or skipping with a reason."""

from __future__ import annotations

import shutil

import pytest


def require_binary(*names: str) -> str:
    """The first of `names` on PATH, or skip the test (scripts/install-system-deps installs them)."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"{' / '.join(names)} not on PATH (run scripts/install-system-deps)")
