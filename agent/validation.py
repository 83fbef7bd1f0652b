"""A pydantic validation error as one line a person can act on: where, and what is wrong."""

from __future__ import annotations

from pydantic import ValidationError


def summarise(exc: ValidationError, whole: str = "file", most: int = 5) -> str:
    """`signals.0.op: Input should be ...; verification: Field required (+2 more)`."""
    parts = []
    for error in exc.errors()[:most]:
        where = ".".join(str(p) for p in error["loc"]) or whole
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
