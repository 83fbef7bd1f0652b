"""The running release, persisted in `release.json` so a restart keeps it (and rollback has a history).

A release can carry a defect: its order path then fails for a share of requests with a real exception
(see `price_order`). The flag is internal state in the data dir, never shown by a public endpoint.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from pathlib import Path

from pydantic import BaseModel, Field

RELEASE_PATTERN = r"^\d{4}\.\d{1,2}\.\d{1,4}$"
HISTORY_LIMIT = 20


class ReleaseRecord(BaseModel):
    release: str
    changed_at: float
    defective: bool = False


class ReleaseFile(BaseModel):
    current: ReleaseRecord
    history: list[ReleaseRecord] = Field(default_factory=list)


class ReleaseConflict(Exception):
    """The change cannot happen (same release, or nothing to roll back to); the message is safe to show."""


class Releases:
    def __init__(self, path: Path, initial: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        if path.is_file():
            self._state = ReleaseFile.model_validate_json(path.read_text(encoding="utf-8"))
        else:
            # The release a data dir starts with was not "just deployed": 0 = no change recorded, so a
            # fresh lab does not look like it is right after a release.
            self._state = ReleaseFile(current=ReleaseRecord(release=initial, changed_at=0.0))
            self._save()

    @property
    def current(self) -> ReleaseRecord:
        return self._state.current

    def history(self) -> list[ReleaseRecord]:
        return list(self._state.history)

    def deploy(self, release: str, defective: bool = False) -> tuple[str, str]:
        if not re.fullmatch(RELEASE_PATTERN, release):
            raise ValueError(f"release must look like 2026.11.3, got {release!r}")
        with self._lock:
            previous = self._state.current
            if release == previous.release:
                raise ReleaseConflict(f"release {release} is already running")
            history = [*self._state.history, previous][-HISTORY_LIMIT:]
            self._state = ReleaseFile(
                current=ReleaseRecord(release=release, changed_at=time.time(), defective=defective),
                history=history,
            )
            self._save()
        return previous.release, release

    def rollback(self) -> tuple[str, str]:
        with self._lock:
            if not self._state.history:
                raise ReleaseConflict("no previous release to roll back to")
            previous = self._state.current
            target = self._state.history[-1]
            self._state = ReleaseFile(
                current=target.model_copy(update={"changed_at": time.time()}),
                history=self._state.history[:-1],
            )
            self._save()
        return previous.release, target.release

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self._state.model_dump(), indent=2), encoding="utf-8")
        os.replace(tmp, self._path)


# Regional tax rates the pricing code looks up. The defective build reads the region from a new
# field that older clients never send and falls through to a table missing two regions.
TAX_RATES = {"eu-west": 0.21, "us-east": 0.07, "ap-south": 0.18, "us-west": 0.08, "eu-north": 0.25}
_PARTIAL_TAX_RATES = {k: TAX_RATES[k] for k in ("eu-west", "us-east", "ap-south")}


def regional_tax_rate(defective: bool, rng: random.Random | None = None) -> float:
    """The tax rate for the caller's region. In a defective release 2 of 5 regions raise KeyError (~40%)."""
    region = (rng or random).choice(sorted(TAX_RATES))
    table = _PARTIAL_TAX_RATES if defective else TAX_RATES
    return table[region]
