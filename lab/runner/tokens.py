"""The run's secrets: generated fresh per run, written to mode-600 files, passed to processes by env."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import BaseModel


class Tokens(BaseModel):
    hook: str
    admin: str
    action: str
    chaos: str
    webhook: str
    api: str  # the agent's API_TOKEN (trigger, approve/reject, kill switch)

    @classmethod
    def generate(cls) -> Tokens:
        return cls(**{name: secrets.token_urlsafe(32) for name in cls.model_fields})

    def write(self, directory: Path) -> dict[str, Path]:
        """One file per token (`<name>.token`, mode 600) in a mode-700 directory; returns the paths."""
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        paths = {}
        for name, value in self.model_dump().items():
            path = directory / f"{name}.token"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(value)
            path.chmod(0o600)
            paths[name] = path
        return paths

    @classmethod
    def read(cls, directory: Path) -> Tokens:
        """The tokens a running stack wrote (`write`'s files); FileNotFoundError names a missing one."""
        return cls(**{name: (directory / f"{name}.token").read_text().strip() for name in cls.model_fields})

    def __repr__(self) -> str:
        return "Tokens(<redacted>)"

    __str__ = __repr__
