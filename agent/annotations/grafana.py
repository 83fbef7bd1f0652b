"""Incident annotations in Grafana, delivered by a background task so remediation never waits on them.

An incident is one annotation: created when the incident opens (tags: `sre-agent`, the diagnosis),
turned into a region by `PATCH timeEnd` when it finishes (tags gain the outcome). Each action is a
point annotation. Callers only append to the outbox (memory + a JSON-lines file): the delivery task
sends requests one at a time, in order, retrying transient failures with exponential backoff.
Any 4xx other than 401/403/429 means Grafana will never accept the request: it is dropped and counted.
With no GRAFANA_URL the outbox file is the record and `sre_agent_annotations_total` still counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import httpx
import structlog
from prometheus_client import CollectorRegistry
from pydantic import SecretStr, ValidationError

from agent.annotations.metrics import AnnotationMetrics
from agent.annotations.models import (
    CreateAnnotation,
    CreatedAnnotation,
    PatchAnnotation,
    PendingEntry,
    tag_set,
)
from agent.annotations.outbox import Outbox

log = structlog.get_logger("agent.annotations")
BASE_TAG = "sre-agent"


class _Sent(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    UNAUTHORIZED = "unauthorized"
    REJECTED = "rejected"
    ORPHANED = "orphaned"


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


class GrafanaAnnotator:
    """The agent's annotation trail. `start()` in the app lifespan, `aclose()` on the way out.

    `open_incident` / `add_event` / `close_incident` return at once and never raise on Grafana
    trouble. The value `open_incident` returns is the annotation's local reference; Grafana's
    numeric id is known once delivered (`grafana_id(ref)`).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        url: str,
        token: SecretStr | str,
        outbox_path: Path,
        registry: CollectorRegistry,
        dashboard_uid: str | None = None,  # organisation-wide; GRAFANA_DASHBOARD_UID names one
        timeout_seconds: float = 5.0,
        backoff_initial_seconds: float = 1.0,
        backoff_max_seconds: float = 60.0,
        max_pending: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._url = url.rstrip("/")
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        self._headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        self._dashboard_uid = dashboard_uid
        self._timeout = timeout_seconds
        self._backoff_initial = backoff_initial_seconds
        self._backoff_max = backoff_max_seconds
        self._clock = clock
        self._outbox = Outbox(outbox_path, max_pending=max_pending)
        self._metrics = AnnotationMetrics(registry)
        self._metrics.pending.set(len(self._outbox))
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        """False when GRAFANA_URL is unset: annotations are only kept in the outbox file."""
        return bool(self._url)

    @property
    def pending(self) -> int:
        return len(self._outbox)

    def grafana_id(self, ref: str) -> int | None:
        return self._outbox.grafana_id(ref)

    # -- what the workflow calls -------------------------------------------------------------------

    def open_incident(self, incident_id: str, diagnosis: str, text: str, tags: Sequence[str] = ()) -> str:
        """Marks the incident's start; calling it again for the same incident does nothing."""
        ref = f"incident-{incident_id}"
        if not self._outbox.knows(ref):
            body = CreateAnnotation(
                dashboard_uid=self._dashboard_uid,
                time=_ms(self._clock()),
                tags=tag_set([BASE_TAG, diagnosis], list(tags)),
                text=text,
            )
            self._enqueue(f"{ref}:open", ref, "create", body.wire(), keep_id=True)
        return ref

    def add_event(
        self,
        incident_id: str,
        diagnosis: str,
        text: str,
        tags: Sequence[str] = (),
        key: str | None = None,
    ) -> str:
        """A point annotation (an action and its result); pass `key` to make a retried call a no-op."""
        ref = f"incident-{incident_id}-event-{key or uuid.uuid4().hex[:12]}"
        if not self._outbox.knows(ref):
            body = CreateAnnotation(
                dashboard_uid=self._dashboard_uid,
                time=_ms(self._clock()),
                tags=tag_set([BASE_TAG, diagnosis], list(tags)),
                text=text,
            )
            self._enqueue(f"{ref}:create", ref, "create", body.wire(), keep_id=key is not None)
        return ref

    def close_incident(
        self,
        incident_id: str,
        diagnosis: str,
        outcome: str,
        text: str | None = None,
        tags: Sequence[str] = (),
        opened_at: datetime | None = None,
    ) -> str:
        """Turns the incident's annotation into a region ending now, tagged with the outcome.

        An incident this annotator never opened (e.g. opened before an upgrade) gets a whole region
        from `opened_at`, or a point now.
        """
        ref = f"incident-{incident_id}"
        now = _ms(self._clock())
        all_tags = tag_set([BASE_TAG, diagnosis, outcome], list(tags))
        if self._outbox.knows(ref):
            body = PatchAnnotation(time_end=now, tags=all_tags, text=text).wire()
            self._enqueue(f"{ref}:close", ref, "patch", body)
        else:
            start = _ms(opened_at.timestamp()) if opened_at else now
            create = CreateAnnotation(
                dashboard_uid=self._dashboard_uid,
                time=start,
                time_end=now,
                tags=all_tags,
                text=text or f"incident {incident_id}: {outcome}",
            )
            self._enqueue(f"{ref}:open", ref, "create", create.wire(), keep_id=True)
        return ref

    def _enqueue(
        self,
        key: str,
        ref: str,
        method: Literal["create", "patch"],
        body: dict[str, Any],
        keep_id: bool = False,
    ) -> None:
        if self._outbox.has_key(key):
            return
        entry = PendingEntry(
            key=key, ref=ref, method=method, body=body, enqueued_at=self._clock(), keep_id=keep_id
        )
        for _ in self._outbox.add(entry):
            self._metrics.count("overflow")
        self._metrics.pending.set(len(self._outbox))
        if not self.enabled:
            self._metrics.count("kept_local")
        self._wake.set()

    # -- delivery ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Starts the delivery task (no-op without GRAFANA_URL: the outbox file keeps everything)."""
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._deliver_forever(), name="grafana-annotations")

    async def aclose(self) -> None:
        """Stops delivery; what is still pending stays in the outbox file for the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _deliver_forever(self) -> None:
        backoff = self._backoff_initial
        while True:
            entry = self._outbox.head()
            if entry is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                outcome = await self._send(entry)
            except Exception:  # a bug here must not end delivery for good; logged with its traceback
                log.exception("annotation_delivery_error", ref=entry.ref)
                outcome = _Sent.RETRY
            self._metrics.pending.set(len(self._outbox))
            if outcome in (_Sent.RETRY, _Sent.UNAUTHORIZED):
                self._outbox.attempted(entry.key)
                self._metrics.count("retried" if outcome is _Sent.RETRY else "unauthorized")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._backoff_max)
            else:
                self._metrics.count(outcome.value)  # type: ignore[arg-type]
                backoff = self._backoff_initial

    async def _send(self, entry: PendingEntry) -> _Sent:
        """One attempt; removes the entry from the outbox unless it should be tried again."""
        if entry.method == "create":
            request = ("POST", f"{self._url}/api/annotations")
        else:
            grafana_id = self._outbox.grafana_id(entry.ref)
            if grafana_id is None:
                log.warning("annotation_orphaned_patch", ref=entry.ref)
                self._outbox.remove(entry.key)
                return _Sent.ORPHANED
            request = ("PATCH", f"{self._url}/api/annotations/{grafana_id}")
        try:
            response = await self._http.request(
                *request, json=entry.body, headers=self._headers, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            log.info("annotation_delivery_failed", ref=entry.ref, error=type(exc).__name__)
            return _Sent.RETRY
        status = response.status_code
        if status in (401, 403):
            log.warning("annotation_unauthorized", status=status)
            return _Sent.UNAUTHORIZED
        if status == 429 or status >= 500:
            log.info("annotation_delivery_failed", ref=entry.ref, status=status)
            return _Sent.RETRY
        if status >= 400:
            log.warning("annotation_rejected", ref=entry.ref, status=status, body=response.text[:200])
            self._outbox.remove(entry.key)
            return _Sent.REJECTED
        if entry.method == "patch":
            self._outbox.remove(entry.key)
            return _Sent.DELIVERED
        try:
            created = CreatedAnnotation.model_validate_json(response.content)
        except ValidationError:
            log.warning("annotation_unexpected_answer", ref=entry.ref, status=status)
            self._outbox.remove(entry.key)
            return _Sent.REJECTED
        kept = entry.ref if entry.keep_id else None
        self._outbox.remove(entry.key, delivered_ref=kept, grafana_id=created.id)
        return _Sent.DELIVERED
