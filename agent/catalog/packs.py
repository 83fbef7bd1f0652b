"""Signal packs: named PromQL signals with units, in YAML files, scoped to a service when read.

A pack's queries are templates: `$selector` is the service's PromQL selector (`{job="checkout"}`),
`$matchers` the same without braces (to add matchers: `http_requests_total{$matchers,code=~"5.."}`),
and any other `$name` a variable the pack gives a default for (`vars`) or the service must give
(`requires_vars`). A variable holding a Prometheus duration also exists in seconds (`$window_seconds`).
A signal may list several queries: the first that returns a value is used (a recording rule, then the
raw expression). `derive` computes a signal from others (`requests_per_second / baseline_rps`).
`pattern` makes a signal part of the symptom pattern the knowledge store compares incidents by.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Literal

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agent.domain.signals import SignalValue, Unit
from agent.validation import summarise

BUILT_IN = Path(__file__).resolve().parent / "packs"
SERVICE_VARS = ("selector", "matchers")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_PACK = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_DURATION = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w|y))+$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
EXPRESSIONS = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
Op = Literal[">", ">=", "<", "<=", "==", "!="]


class PackError(Exception):
    """A pack file that cannot be used; the message names the file and what to fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PatternTag(_Strict):
    """When `signal op value` holds, `tag` is part of the symptom pattern and `words` join the search text."""

    op: Op
    value: float | bool
    tag: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    words: str


class SignalSpec(_Strict):
    """One named signal: PromQL (alternatives in order), or a label of the first series, or derived."""

    promql: list[str] = Field(default_factory=list)
    label: str | None = Field(default=None, description="take this label's value (an _info metric)")
    derive: str | None = Field(default=None, description="an expression over other signals")
    unit: Unit = "number"
    description: str = ""
    pattern: PatternTag | None = None

    @field_validator("promql", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_source(self) -> SignalSpec:
        if bool(self.promql) == bool(self.derive):
            raise ValueError("a signal has either promql or derive")
        if self.derive is not None:
            try:
                EXPRESSIONS.compile_expression(self.derive)
            except TemplateError as exc:
                raise ValueError(f"derive: {exc}") from exc
        return self

    def placeholders(self) -> set[str]:
        found: set[str] = set()
        for query in self.promql:
            for match in string.Template.pattern.finditer(query):
                name = match["named"] or match["braced"]
                if name:
                    found.add(name)
                elif match["invalid"] is not None:
                    raise ValueError(f"a lone $ in {query!r}")
        return found

    def rendered(self, values: dict[str, str]) -> SignalSpec:
        """The spec with its queries scoped: every placeholder substituted."""
        queries = [string.Template(q).substitute(values) for q in self.promql]
        return self.model_copy(update={"promql": queries})


class SignalPack(_Strict):
    pack: str
    description: str
    vars: dict[str, str] = Field(default_factory=dict, description="defaults a service may override")
    requires_vars: list[str] = Field(default_factory=list, description="variables each service must give")
    signals: dict[str, SignalSpec] = Field(min_length=1)

    @field_validator("pack")
    @classmethod
    def _pack_name(cls, value: str) -> str:
        if not _PACK.match(value):
            raise ValueError("a pack name is lowercase letters, digits and dashes")
        return value

    @model_validator(mode="after")
    def _names_and_placeholders(self) -> SignalPack:
        known = {*SERVICE_VARS, *self.requires_vars, *with_seconds(self.vars)}
        known |= {f"{name}_seconds" for name in self.requires_vars}
        for name, spec in self.signals.items():
            if not _NAME.match(name):
                raise ValueError(f"signal name {name!r}: lowercase letters, digits and underscores")
            unknown = spec.placeholders() - known
            if unknown:
                raise ValueError(
                    f"signal {name}: unknown variable(s) {sorted(unknown)} (declare them in vars)"
                )
        return self


def duration_seconds(value: str) -> float | None:
    """Seconds in a Prometheus duration (`1m30s`); None for anything else."""
    if not _DURATION.match(value):
        return None
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", value))


def with_seconds(values: dict[str, str]) -> dict[str, str]:
    """The variables plus `<name>_seconds` for each that is a Prometheus duration."""
    out = dict(values)
    for name, value in values.items():
        seconds = duration_seconds(value)
        if seconds is not None:
            out[f"{name}_seconds"] = f"{seconds:g}"
    return out


def parse_pack(path: Path) -> SignalPack:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PackError(f"{path}: cannot read: {exc}") from exc
    try:
        pack = SignalPack.model_validate(raw)
    except ValidationError as exc:
        raise PackError(f"{path}: {summarise(exc)}") from exc
    if pack.pack != path.stem:
        raise PackError(f"{path}: pack {pack.pack!r} does not match the file name")
    return pack


def pack_files(folder: Path) -> list[Path]:
    return sorted(f for f in [*folder.glob("*.yml"), *folder.glob("*.yaml")] if f.is_file())


def load_packs(*folders: Path) -> dict[str, SignalPack]:
    """The built-in packs, then each folder's (`*.yml`); a later pack of the same name replaces one."""
    packs: dict[str, SignalPack] = {}
    for folder in (BUILT_IN, *folders):
        if not folder.is_dir():
            continue
        for file in pack_files(folder):
            pack = parse_pack(file)
            packs[pack.pack] = pack
    return packs


def derive(expression: str, values: dict[str, SignalValue]) -> SignalValue:
    """A derived signal's value; None when an input is missing or the arithmetic fails."""
    context = {k: v for k, v in values.items() if k.isidentifier() and v is not None}
    try:
        result = EXPRESSIONS.compile_expression(expression, undefined_to_none=False)(**context)
    except (TemplateError, TypeError, ValueError, ArithmeticError):
        return None
    if isinstance(result, bool | str):
        return result
    return float(result) if isinstance(result, int | float) else None
