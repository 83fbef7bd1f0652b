"""An action's parameters held to what the service catalog allows, before anything is sent.

Only the parameters the catalog lists reach the backend; a number outside its bounds is clamped into
them (a rate limit computed from a tiny baseline becomes the floor, never 0.02 req/s); a value that is
not one of its `choices`, or not a number where bounds are given, is left out so the backend's own
default applies. Every change is said in a note for the timeline.
"""

from __future__ import annotations

from typing import Any

from agent.catalog.services import AllowedAction, ParamBound


def bounded_params(allowed: AllowedAction, params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    kept: dict[str, Any] = {}
    notes: list[str] = []
    for name, value in params.items():
        bound = allowed.params.get(name)
        if bound is None:
            notes.append(f"{name} dropped: the service catalog does not allow it")
            continue
        checked, note = _within(name, value, bound)
        if note:
            notes.append(note)
        if checked is not None:
            kept[name] = checked
    return kept, notes


def _within(name: str, value: Any, bound: ParamBound) -> tuple[Any, str]:
    if bound.choices is not None:
        if value in bound.choices:
            return value, ""
        return None, f"{name}={value!r} dropped: not one of {bound.choices}"
    if bound.min is None and bound.max is None:
        return value, ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, f"{name}={value!r} dropped: not a number"
    clamped = value
    if bound.min is not None and clamped < bound.min:
        clamped = type(value)(bound.min) if isinstance(value, int) else bound.min
    if bound.max is not None and clamped > bound.max:
        clamped = type(value)(bound.max) if isinstance(value, int) else bound.max
    if clamped != value:
        return clamped, f"{name}={value:g} clamped to {clamped:g} (the catalog allows {_range(bound)})"
    return value, ""


def _range(bound: ParamBound) -> str:
    low = "-inf" if bound.min is None else f"{bound.min:g}"
    high = "inf" if bound.max is None else f"{bound.max:g}"
    return f"{low}..{high}"
