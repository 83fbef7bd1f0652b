"""HTTP probes a catalog entry defines: a JSON answer read into signals and health checks, and recent
error log lines. What an engineer reads with curl, described as data (JMESPath paths), so a service's
own status endpoints need no code here."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx
import jmespath
from jmespath.exceptions import JMESPathError

from agent.catalog.catalog import Service
from agent.catalog.services import HttpJsonProbe, LogProbe, ProbeSignal
from agent.clients.http import get_json
from agent.domain.signals import Reading, SignalValue
from agent.signals.source import SourceReading

MAX_LOG_ENTRIES = 500
MAX_MESSAGE_CHARS = 2000


def search(path: str, data: Any) -> Any:
    try:
        return jmespath.search(path, data)
    except JMESPathError:
        return None


class JsonProbe:
    def __init__(self, http: httpx.AsyncClient, probe: HttpJsonProbe) -> None:
        self._http = http
        self.probe = probe
        self.name = f"probe:{probe.name}"

    async def read(
        self, service: Service, *, only: set[str] | None = None, since: datetime | None = None
    ) -> SourceReading:
        reading = SourceReading()
        wanted = {n: s for n, s in self.probe.signals.items() if only is None or n in only}
        if only is not None and not wanted and self.probe.checks is None:
            return reading
        response = await get_json(self._http, self.probe.url, retries=1)
        body = response.body if isinstance(response.body, dict | list) else None
        usable = body is not None and (response.error is None or self.probe.any_status)
        reading.evidence[self.probe.name] = {
            "url": self.probe.url,
            "status_code": response.status_code,
            "error": None if usable else response.error or "not JSON",
        }
        if not usable:
            reading.gaps.append(self.probe.name)
            return reading
        for name, spec in wanted.items():
            value = _probe_value(spec, search(spec.path, body))
            if value is not None:
                reading.readings[name] = Reading(value=value, unit=spec.unit, source=self.name)
        if self.probe.checks is not None:
            _read_checks(self.probe, body, reading)
        if response.error is not None and not reading.readings and not reading.check_details:
            reading.gaps.append(self.probe.name)  # an error page, not the service's own answer
            reading.evidence[self.probe.name]["error"] = response.error
        return reading


def _probe_value(spec: ProbeSignal, raw: Any) -> SignalValue:
    """The value in the signal's unit; anything that does not fit it is no value (a field gone odd)."""
    if spec.transform == "present":
        return raw is not None
    if spec.unit == "text":
        return raw[:200] if isinstance(raw, str) else None
    if isinstance(raw, bool):
        return raw if spec.unit == "bool" else None
    if isinstance(raw, int | float) and spec.unit != "bool":
        number = float(raw)
        if spec.transform == "age":
            return max(0.0, time.time() - number)
        return number * spec.scale
    return None


def _read_checks(probe: HttpJsonProbe, body: Any, reading: SourceReading) -> None:
    spec = probe.checks
    assert spec is not None
    checks = search(spec.path, body)
    if not isinstance(checks, dict):
        return
    for name, check in list(checks.items())[:50]:
        if not isinstance(check, dict):
            continue
        status = str(check.get(spec.status) or "")
        detail = str(check.get(spec.detail) or "")[:200]
        if status and status not in spec.ok:
            reading.check_details[str(name)] = f"{status}: {detail}".strip()
        if status in spec.failing:
            reading.failing_checks.append(str(name))


class LogLines:
    def __init__(self, http: httpx.AsyncClient, probe: LogProbe) -> None:
        self._http = http
        self.probe = probe
        self.name = f"probe:{probe.name}"

    async def read(
        self, service: Service, *, only: set[str] | None = None, since: datetime | None = None
    ) -> SourceReading:
        reading = SourceReading()
        if only is not None:
            return reading  # a log probe gives no named signals
        params = dict(self.probe.params)
        if self.probe.since_param and since is not None:
            params[self.probe.since_param] = since.isoformat()
        response = await get_json(self._http, self.probe.url, params=params, retries=1)
        reading.evidence[self.probe.name] = {
            "url": self.probe.url,
            "status_code": response.status_code,
            "error": response.error,
        }
        entries = search(self.probe.entries, response.body) if response.error is None else None
        if not isinstance(entries, list):
            reading.gaps.append(self.probe.name)
            return reading
        levels = {level.upper() for level in self.probe.levels}
        messages = []
        for entry in entries[-MAX_LOG_ENTRIES:]:
            if str(search(self.probe.level, entry) or "").upper() in levels:
                messages.append(log_message(self.probe.message, entry))
        reading.log_messages = messages
        return reading


def log_message(paths: list[str], entry: Any) -> str:
    """The fields that make a log line's message, joined with ": "; a multi-line value gives its last line
    (the exception of a traceback)."""
    parts: list[str] = []
    for path in paths:
        value = search(path, entry)
        if value in (None, "", [], {}):
            continue
        text = str(value)
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        if len(lines) > 1:
            text = lines[-1]
        parts.append(text)
    return ": ".join(dict.fromkeys(parts))[:MAX_MESSAGE_CHARS]


def probe_sources(http: httpx.AsyncClient, service: Service) -> list[JsonProbe | LogLines]:
    return [JsonProbe(http, p) if isinstance(p, HttpJsonProbe) else LogLines(http, p) for p in service.probes]
