"""docs/configuration.md's tables of settings, generated from `Settings` so that the page cannot drift.

`python -m agent.config_docs` rewrites the part of the page between its two markers (the prose around
them is written by hand); `--check` exits 1 when that part is stale, as the test suite does. Each row is
a field: its environment variable, type and bounds, default and description. A secret's default is
never printed, and a field without a description is an error. A section starts at the field SECTIONS
names and runs, in the class's order, to the next one, so a new setting lands beside its neighbours.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from agent.catalog.services import GuardrailOverrides
from agent.config import Settings

PAGE = Path("docs/configuration.md")
BEGIN = "<!-- settings: generated from agent/config.py by `python -m agent.config_docs`; do not edit -->"
END = "<!-- settings: end -->"
WIDTH = 105  # the prose lines of the page

SECTIONS: dict[str, str] = {  # the first field of a section → its heading
    "HOST": "Listening",
    "PROMETHEUS_URL": "Prometheus, Alertmanager and Grafana",
    "WEAVIATE_URL": "Weaviate",
    "LLM_MODEL": "The LLM",
    "EMBEDDING_MODEL": "Knowledge search",
    "SERVICES_PATH": "Service catalog, runbooks and the agent's data",
    "WEBHOOK_TOKEN": "Access",
    "AGENT_MODE": "Mode and kill switch",
    "MONITOR_ENABLED": "The monitor loop",
    "MAX_ACTIONS_PER_INCIDENT": "Guardrails and the workflow",
    "VERIFY_HOLD_SECONDS": "Verification",
    "HTTP_TIMEOUT_SECONDS": "Timeouts, intake and its limits",
    "INCIDENT_MAX_ALERTS": "Incidents: size, retention, concurrency",
    "LOG_LEVEL": "Logging and the event loop",
}
_BOUNDS = {annotated_types.Ge: "≥", annotated_types.Gt: ">", annotated_types.Le: "≤", annotated_types.Lt: "<"}


def _section_notes() -> dict[str, str]:
    overrides = ", ".join(f"`{name}`" for name in GuardrailOverrides.model_fields)
    return {
        "Mode and kill switch": "The kill switch is also flipped at run time: `POST /agent/kill-switch`.",
        "Guardrails and the workflow": "Budgets, cooldowns and circuit breakers count per service. A "
        f"catalog entry's `guardrails:` may set its own {overrides} (`mode`: AGENT_MODE).",
    }


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


def _type(annotation: Any, field: FieldInfo) -> str:
    """The type as a reader sets it in the environment, with the field's bounds."""
    origin = get_origin(annotation)
    if _is_secret(annotation):
        text = "secret"
    elif origin is Literal:
        text = " \\| ".join(f"`{value}`" for value in get_args(annotation))
    elif origin in (Union, types.UnionType):
        text = " or ".join(_type(arg, FieldInfo()) for arg in get_args(annotation) if arg is not type(None))
    elif origin is list:
        text = "comma-separated list"
    elif annotation is Path:
        text = "path"
    else:
        text = getattr(annotation, "__name__", str(annotation))
    for meta in field.metadata:
        for kind, sign in _BOUNDS.items():
            if isinstance(meta, kind):
                text += f", {sign} {getattr(meta, kind.__name__.lower())}"
        if getattr(meta, "pattern", None):
            text += f", matching `{meta.pattern}`"
    return text


def _default(field: FieldInfo) -> str:
    if _is_secret(field.annotation):
        return "*(secret)*"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if value in ("", []):
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _env_name(settings: type[BaseSettings], name: str, field: FieldInfo) -> str:
    return f"{settings.model_config.get('env_prefix') or ''}{field.alias or name}"


def render(settings: type[BaseSettings] = Settings) -> str:
    """The generated part of the page: a table per section, every field of `settings` in its order."""
    fields = settings.model_fields
    missing = [name for name in SECTIONS if name not in fields]
    if missing or next(iter(fields)) not in SECTIONS:
        raise ValueError(
            f"SECTIONS must start at fields of {settings.__name__}, the first one first: {missing}"
        )
    undescribed = [name for name, field in fields.items() if not field.description]
    if undescribed:
        raise ValueError(f"settings without a description: {', '.join(undescribed)}")
    notes = _section_notes()
    lines: list[str] = []
    for name, field in fields.items():
        if name in SECTIONS:
            heading = SECTIONS[name]
            lines += ["", f"### {heading}", ""]
            if heading in notes:
                lines += [textwrap.fill(notes[heading], WIDTH), ""]
            lines += ["| variable | type | default | what it is |", "|---|---|---|---|"]
        row = (
            f"`{_env_name(settings, name, field)}`",
            _type(field.annotation, field),
            _default(field),
            _cell(field.description or ""),
        )
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines[1:]) + "\n"


def update(page: str, settings: type[BaseSettings] = Settings) -> str:
    """`page` with the part between the markers generated afresh."""
    head, begin, rest = page.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"the page lacks the markers {BEGIN!r} … {END!r}")
    return f"{head}{BEGIN}\n\n{render(settings)}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent.config_docs", description=__doc__.split("\n")[0])
    parser.add_argument("--page", type=Path, default=PAGE)
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale, change nothing")
    args = parser.parse_args(argv)
    current = args.page.read_text(encoding="utf-8")
    fresh = update(current)
    if args.check:
        if fresh != current:
            print(f"{args.page} is stale: run `python -m agent.config_docs`", file=sys.stderr)
            return 1
        return 0
    args.page.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
