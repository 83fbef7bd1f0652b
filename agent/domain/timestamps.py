"""A timestamp as the agent's HTTP boundary takes it: an RFC 3339 date-time string (or a datetime from
code), never a number.

pydantic's lax mode reads a number as seconds since the epoch, so `endsAt: 0` or `?since=0.5` became a
date in 1970. Alertmanager sends RFC 3339 (`0001-01-01T00:00:00Z` for an alert with no end) and the API
documents `format: date-time`, so anything else is refused with a reason. One without an offset is UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$")


def _date_time_text(value: Any) -> Any:
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.match(value)):
        return value
    raise ValueError("expected an RFC 3339 date-time, such as 2026-01-31T12:00:00Z")


def _utc_when_naive(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Timestamp = Annotated[datetime, BeforeValidator(_date_time_text), AfterValidator(_utc_when_naive)]
