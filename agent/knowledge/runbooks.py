"""Runbooks: Markdown files people edit, with YAML front matter the agent acts on.

The front matter is validated strictly (unknown keys rejected, signal names well formed, and checked
against the signals the service catalog's packs and probes give by `check_signals`), so a typo fails
loudly at load time with the file and the reason instead of silently never matching. A runbook names
signals, never a service: it is a candidate for every service that gives all of its `signals` and has
the packs it `requires`. Drafts in `runbooks/proposed/` are not loaded: only files directly in the folder.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.domain.signals import PREFIXES
from agent.validation import summarise

Op = Literal[">", ">=", "<", "<=", "==", "!=", "contains"]
Risk = Literal["low", "medium", "high"]
SignalValue = float | bool | str

_PLAIN_SIGNAL = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
RUNBOOK_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
_ID = re.compile(RUNBOOK_ID)
_TEMPLATES = ImmutableSandboxedEnvironment(undefined=StrictUndefined)


class RunbookError(Exception):
    """A runbook file that cannot be used; `reason` says what to fix."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_signal_name(name: str) -> str:
    if _PLAIN_SIGNAL.match(name):
        return name
    for prefix in PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name
    raise ValueError(
        f"bad signal name {name!r}: a pack or probe signal (lowercase, digits, _) "
        "or alert:/check_failing:/log: + text"
    )


class Signal(_Strict):
    """Evidence: `signal op value`. `log:<text>` is the number of error log lines containing <text>."""

    signal: str
    op: Op
    value: SignalValue
    weight: float = Field(default=1.0, gt=0, le=10)
    description: str

    _name = field_validator("signal")(_check_signal_name)


class Check(_Strict):
    """An investigation question (`name`) answered from a signal; `expect`: what the runbook predicts."""

    name: str
    signal: str
    op: Op
    value: SignalValue
    expect: bool = True
    why: str = ""

    _name = field_validator("signal")(_check_signal_name)


class RunbookAction(_Strict):
    """One approach, by the name the service catalog allows it under (`restart`, `scale-out`). A string
    param may be a Jinja expression over the signals: "{{ 2 * baseline_rps }}". `follow_up`: what this
    mitigation leaves for a person when it works (a reaper or a fallback hides a cause still there)."""

    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    risk: Risk
    why: str = ""
    follow_up: str | None = None

    @field_validator("params")
    @classmethod
    def _templates_compile(cls, params: dict[str, Any]) -> dict[str, Any]:
        for name, value in params.items():
            if isinstance(value, str) and "{{" in value:
                try:
                    _TEMPLATES.from_string(value)
                except TemplateError as exc:
                    raise ValueError(f"param {name}: bad template: {exc}") from exc
        return params

    def resolve_params(self, signals: dict[str, Any]) -> dict[str, Any]:
        """Params with templates rendered against `Symptoms.as_signals()`.

        A template whose inputs are missing (e.g. no baseline known) drops its param, so the action
        server's catalog default applies; the planner should record that.
        """
        context = {k: v for k, v in signals.items() if k.isidentifier()}
        resolved: dict[str, Any] = {}
        for name, value in self.params.items():
            if not (isinstance(value, str) and "{{" in value):
                resolved[name] = value
                continue
            try:
                text = _TEMPLATES.from_string(value).render(**context)
            except (TemplateError, TypeError, ValueError, ArithmeticError):
                continue
            resolved[name] = _literal(text)
        return resolved


def _literal(text: str) -> Any:
    try:
        number = float(text)
    except ValueError:
        return {"true": True, "false": False}.get(text.strip().lower(), text)
    return int(number) if number.is_integer() else round(number, 3)


class Condition(_Strict):
    """`signal op value`, read from the service's signals."""

    signal: str
    op: Op
    value: SignalValue

    _name = field_validator("signal")(_check_signal_name)


class Verification(_Strict):
    """What healthy looks like, held for `hold_seconds`: PromQL that returns a non-empty result only when
    healthy (`$selector` / `$matchers` scope it to the incident's service) and conditions on signals.
    `$since` is a range that starts at the fix (`rate(x[$since])`: only what happened after it; before
    the action, the service's rate window): a windowed value would still hold the fault's samples.

    The incident's alerts must have stopped firing too, except `may_keep_firing`: alerts this
    mitigation hides from users without removing their cause (a fallback around a dead dependency).
    Checks that held for `hold_seconds` on the fix's own windows mark the incident mitigated then; the
    alerts stopping, which waits on their rate windows, confirms it.
    With neither queries nor signals, the service's action backend's health verdict decides.
    """

    promql: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    signals: list[Condition] = Field(default_factory=list)
    hold_seconds: float = Field(default=30, ge=0)
    deadline_seconds: float = Field(default=180, gt=0)
    may_keep_firing: list[str] = Field(default_factory=list)


class RunbookFrontMatter(_Strict):
    id: str
    title: str
    requires: list[str] = Field(default_factory=list, description="signal packs a service must have")
    alerts: list[str] = Field(default_factory=list)
    signals: list[Signal] = Field(min_length=1)
    counter_signals: list[Signal] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    actions: list[RunbookAction] = Field(default_factory=list)
    verification: Verification
    escalate_when: str

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("id must be lowercase letters, digits and dashes")
        return value


class Runbook(RunbookFrontMatter):
    body: str
    path: str
    content_hash: str

    @property
    def action_names(self) -> list[str]:
        return [a.action for a in self.actions]

    def plain_signals(self) -> set[str]:
        """The signals (not alerts, checks or logs) its evidence needs: a service must give them all."""
        return {s.signal for s in self.signals if not s.signal.startswith(PREFIXES)}

    def named_signals(self) -> set[str]:
        """Every plain signal it names anywhere (evidence, counter-evidence, checks, verification)."""
        named = [s.signal for s in [*self.signals, *self.counter_signals]]
        named += [c.signal for c in self.checks] + [c.signal for c in self.verification.signals]
        return {name for name in named if not name.startswith(PREFIXES)}

    def applies_to(self, signals: set[str], packs: frozenset[str] | set[str]) -> bool:
        """A candidate for a service that gives these signals and has these packs."""
        return set(self.requires) <= set(packs) and self.plain_signals() <= signals


def check_signals(runbook: Runbook, known: set[str]) -> None:
    """RunbookError when the runbook names a signal no pack or probe gives (a typo never matches)."""
    unknown = sorted(runbook.named_signals() - known)
    if unknown:
        raise RunbookError(runbook.path, f"unknown signal(s) {unknown}: no signal pack or probe gives them")


def parse_runbook(path: Path, raw: bytes | None = None) -> Runbook:
    """One runbook file (`raw`: its bytes when the caller has read them already, e.g. to hash them)."""
    try:
        raw = path.read_bytes() if raw is None else raw
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RunbookError(path, f"cannot read: {type(exc).__name__}") from exc
    match = re.match(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", text, re.S)
    if match is None:
        raise RunbookError(path, "no YAML front matter (the file must start with a '---' block)")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise RunbookError(path, f"front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise RunbookError(path, "front matter must be a mapping")
    try:
        front = RunbookFrontMatter.model_validate(meta)
    except ValidationError as exc:
        raise RunbookError(path, summarise(exc, "front matter")) from exc
    if front.id != path.stem:
        raise RunbookError(path, f"id {front.id!r} does not match the file name {path.name!r}")
    return Runbook(
        **front.model_dump(),
        body=match.group(2).strip(),
        path=str(path),
        content_hash=hashlib.sha256(raw).hexdigest(),
    )


def load_runbooks(path: Path | str) -> list[Runbook]:
    """Every `*.md` directly in `path` (README.md and sub-folders such as proposed/ are skipped), by id."""
    runbooks: dict[str, Runbook] = {}
    for file in runbook_files(path):
        runbook = parse_runbook(file)
        if runbook.id in runbooks:
            raise RunbookError(file, f"duplicate id {runbook.id!r}")
        runbooks[runbook.id] = runbook
    return list(runbooks.values())


def runbook_files(path: Path | str) -> list[Path]:
    """The runbook files of a folder, by name: `*.md` directly in it, README.md and sub-folders skipped."""
    folder = Path(path)
    if not folder.is_dir():
        raise RunbookError(folder, "runbooks folder does not exist")
    return [f for f in sorted(folder.glob("*.md")) if f.name.lower() != "readme.md" and f.is_file()]
