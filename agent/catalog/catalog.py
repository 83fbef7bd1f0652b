"""The service catalog as the agent uses it: resolved entries, alert ownership, re-read on change.

`refresh()` re-reads SERVICES_PATH when a file changed (and the signal packs with it). An entry that
stops validating keeps its last good version, with a note for `/agent/status`; a new entry that never
validated stays out. Resolving an entry scopes its packs' queries with its selector and variables,
fills `${ENV}` in its URLs and checks what runbooks and the planner will rely on (packs that exist,
variables they need). Nothing here raises into the workflow.

Ownership: an alert belongs to the one service whose `owns` matchers match its labels. An alert no
service owns, or several do, is nobody's: the agent records it and never acts on it.
"""

from __future__ import annotations

import asyncio
import string
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import structlog
import yaml
from pydantic import ValidationError

from agent.catalog.packs import (
    SERVICE_VARS,
    PackError,
    SignalPack,
    SignalSpec,
    duration_seconds,
    load_packs,
    pack_files,
    with_seconds,
)
from agent.catalog.services import (
    ActionBackendSpec,
    AllowedAction,
    HttpBackendSpec,
    HttpJsonProbe,
    LogProbe,
    Probe,
    ServiceEntry,
    interpolate,
)
from agent.catalog.watch import FolderWatch
from agent.domain.matchers import Matcher, all_match, promql_selector
from agent.validation import summarise

log = structlog.get_logger("agent.catalog")
MAX_OWNERSHIP_ANSWERS = 4096


class CatalogError(Exception):
    """A catalog file or entry that cannot be used; `reason` says what to fix."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass(frozen=True)
class Service:
    """One catalog entry, resolved: its signals scoped to it, URLs filled, matchers parsed."""

    entry: ServiceEntry
    signals: dict[str, SignalSpec]
    probes: list[Probe]
    backend: ActionBackendSpec | None
    owns: list[list[Matcher]]
    selector: str = "{}"
    packs: frozenset[str] = field(default_factory=frozenset)
    settle_seconds: float = 0.0  # how long a fix takes to show in its signals and alerts
    # each PromQL signal as written, with the values it was scoped with (`since`: rate windows shortened)
    templates: dict[str, tuple[SignalSpec, dict[str, str]]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.entry.service

    def signal_names(self) -> set[str]:
        names = set(self.signals)
        for probe in self.probes:
            if isinstance(probe, HttpJsonProbe):
                names.update(probe.signals)
        return names

    @property
    def reads_logs(self) -> bool:
        return any(isinstance(p, LogProbe) for p in self.probes)

    def owns_alert(self, labels: Mapping[str, str]) -> bool:
        return any(all_match(group, labels) for group in self.owns)

    def allowed(self, name: str) -> AllowedAction | None:
        """The catalog's permission for the action a runbook names (None: not for this service)."""
        return self.entry.actions.allowed.get(name)

    def backend_action(self, name: str) -> str:
        allowed = self.allowed(name)
        return (allowed.action if allowed is not None else None) or name

    def runbook_names(self) -> dict[str, str]:
        """Backend action name → the name runbooks use for it (`rollout-restart` → `restart`)."""
        return {self.backend_action(name): name for name in self.entry.actions.allowed}

    def since(self, seconds: float) -> Service:
        """This service with its signals' rate windows (`$window`) cut to the last `seconds`: read after
        a fix, a signal then reflects only what happened since, not the fault still in its window."""
        cut = max(1, int(seconds))
        signals = dict(self.signals)
        for name, (spec, values) in self.templates.items():
            window = duration_seconds(values.get("window", ""))
            if window is not None and cut < window and "window" in spec.placeholders():
                signals[name] = spec.rendered({**values, "window": f"{cut}s", "window_seconds": str(cut)})
        return replace(self, signals=signals)

    def scope(self, query: str, **extra: str) -> str:
        """A query with `$selector` / `$matchers` filled with this service's selector (and `extra`)."""
        return string.Template(query).safe_substitute(
            extra, selector=self.selector, matchers=self.selector[1:-1]
        )

    def alerts_selectors(self, *extra: str) -> list[str]:
        """PromQL selectors of this service's alerts in `ALERTS`, one per `owns` entry."""
        return [promql_selector(group, *extra) for group in self.owns]


@dataclass(frozen=True)
class Ownership:
    service: Service | None
    reason: str = ""


@dataclass(frozen=True)
class _Owners:
    """Ownership answers for one set of services, keyed by the values of the labels their matchers name:
    the only labels an answer depends on (an absent one matches as empty). A flood's alerts differ in
    their instance, not in those, so one answer serves all of them."""

    services: dict[str, Service]
    names: tuple[str, ...]
    answers: dict[tuple[str, ...], Ownership] = field(default_factory=dict)

    @classmethod
    def of(cls, services: dict[str, Service]) -> _Owners:
        names = {m.name for s in services.values() for group in s.owns for m in group}
        return cls(services, tuple(sorted(names)))


class ServiceCatalog:
    def __init__(
        self,
        folder: Path | None,
        pack_folders: list[Path] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.pack_folders = pack_folders or []
        self._env = dict(env or {})
        self._lock = threading.Lock()
        self._watch = FolderWatch()
        self._services: dict[str, Service] = {}
        self._packs: dict[str, SignalPack] = {}
        self._problems: dict[str, str] = {}
        self._owners = _Owners.of(self._services)

    @classmethod
    def of(
        cls,
        entries: list[ServiceEntry],
        packs: dict[str, SignalPack] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ServiceCatalog:
        """A fixed catalog (tests, embedding): entries given, packs given or the built-in ones."""
        catalog = cls(None, env=env)
        catalog._packs = packs if packs is not None else load_packs()
        catalog._services = {e.service: resolve(e, catalog._packs, catalog._env) for e in entries}
        return catalog

    # ------------------------------------------------------------------ reading
    def services(self) -> dict[str, Service]:
        return self._services

    def get(self, name: str) -> Service | None:
        return self._services.get(name)

    @property
    def packs(self) -> dict[str, SignalPack]:
        return self._packs

    def signal_names(self) -> set[str]:
        """Every signal any pack or probe can give: what a runbook may name."""
        names = {name for pack in self._packs.values() for name in pack.signals}
        for service in self._services.values():
            names |= service.signal_names()
        return names

    def owner(self, labels: Mapping[str, str]) -> Ownership:
        """The one service whose `owns` matches the labels; answers are remembered (`_Owners`) until the
        set of services is replaced."""
        owners = self._owners
        if owners.services is not self._services:
            owners = self._owners = _Owners.of(self._services)
        key = tuple(labels.get(name, "") for name in owners.names)
        answer = owners.answers.get(key)
        if answer is None:
            if len(owners.answers) >= MAX_OWNERSHIP_ANSWERS:  # matchers on a label of many values
                owners.answers.clear()
            answer = owners.answers[key] = _owner(owners.services, labels)
        return answer

    @property
    def notes(self) -> list[str]:
        return [f"service catalog: {where}: {reason}" for where, reason in sorted(self._problems.items())]

    # ------------------------------------------------------------------ loading
    def refresh(self) -> bool:
        """Re-read the folder if it changed; True when the set of services changed. Never raises."""
        if self.folder is None:
            return False
        with self._lock:
            try:
                files = catalog_files(self.folder)
                packs_files = [
                    f for folder in self.pack_folders if folder.is_dir() for f in pack_files(folder)
                ]
                if not self._watch.changed([*files, *packs_files]) and self._services:
                    return False
                packs = load_packs(*self.pack_folders)
            except (OSError, CatalogError, PackError) as exc:
                self._problems = {**self._problems, "catalog": str(exc)}
                log.error("catalog_unreadable", error=str(exc))
                return False
            self._problems.pop("catalog", None)
            return self._reload(files, packs)

    def _reload(self, files: list[Path], packs: dict[str, SignalPack]) -> bool:
        services: dict[str, Service] = {}
        problems: dict[str, str] = {}
        by_file = {s.entry.service: s for s in self._services.values()}
        for file in files:
            try:
                service = resolve(parse_entry(file), packs, self._env)
                if service.name in services:
                    raise CatalogError(file.name, f"service {service.name!r} is defined twice")
                services[service.name] = service
            except CatalogError as exc:
                problems[file.name] = exc.reason
                kept = by_file.get(file.stem)
                if kept is not None and kept.name not in services:
                    services[kept.name] = kept
                if self._problems.get(file.name) != exc.reason:
                    log.error("catalog_entry_invalid", file=file.name, reason=exc.reason)
        changed = services.keys() != self._services.keys() or any(
            services[n].entry != self._services[n].entry for n in services
        )
        self._services, self._packs, self._problems = services, packs, problems
        if changed:
            log.info("catalog_loaded", services=sorted(services))
        return changed

    async def run(self, interval_seconds: float) -> None:
        while True:
            await asyncio.sleep(interval_seconds)
            await asyncio.to_thread(self.refresh)


def _owner(services: dict[str, Service], labels: Mapping[str, str]) -> Ownership:
    owners = [s for s in services.values() if s.owns_alert(labels)]
    if len(owners) == 1:
        return Ownership(owners[0])
    if not owners:
        return Ownership(None, "no catalog service owns it")
    return Ownership(None, "owned by several services: " + ", ".join(sorted(s.name for s in owners)))


def catalog_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise CatalogError(str(folder), "service catalog folder does not exist")
    return sorted(f for f in [*folder.glob("*.yml"), *folder.glob("*.yaml")] if f.is_file())


def parse_entry(path: Path) -> ServiceEntry:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CatalogError(path.name, f"cannot read: {exc}") from exc
    try:
        entry = ServiceEntry.model_validate(raw)
    except ValidationError as exc:
        raise CatalogError(path.name, summarise(exc)) from exc
    if entry.service != path.stem:
        raise CatalogError(path.name, f"service {entry.service!r} does not match the file name")
    return entry


def resolve(entry: ServiceEntry, packs: dict[str, SignalPack], env: Mapping[str, str]) -> Service:
    """Scope the entry's packs and signals to it and fill its URLs; CatalogError says what is wrong."""
    where = entry.service
    missing = [p for p in entry.packs if p not in packs]
    if missing:
        raise CatalogError(where, f"unknown signal pack(s) {missing}; known: {sorted(packs)}")
    matchers = entry.selector_matchers()
    selector = promql_selector(matchers)
    base = {"selector": selector, "matchers": selector[1:-1]}
    signals: dict[str, SignalSpec] = {}
    templates: dict[str, tuple[SignalSpec, dict[str, str]]] = {}
    for name in entry.packs:
        pack = packs[name]
        needed = [v for v in pack.requires_vars if v not in entry.vars]
        if needed:
            raise CatalogError(where, f"pack {name} needs vars {needed}")
        values = {**with_seconds({**pack.vars, **entry.vars}), **base}
        for signal, spec in pack.signals.items():
            signals[signal], templates[signal] = _render(where, signal, spec, values), (spec, values)
    own = {**with_seconds(entry.vars), **base}
    for signal, spec in entry.signals.items():
        signals[signal], templates[signal] = _render(where, signal, spec, own), (spec, own)
    try:
        probes = [p.model_copy(update={"url": interpolate(p.url, env)}) for p in entry.probes]
        backend = entry.actions.backend
        if isinstance(backend, HttpBackendSpec):
            backend = backend.model_copy(update={"url": interpolate(backend.url, env)})
        elif backend is not None and backend.kubeconfig is not None:
            backend = backend.model_copy(update={"kubeconfig": interpolate(backend.kubeconfig, env)})
    except ValueError as exc:
        raise CatalogError(where, str(exc)) from exc
    return Service(
        entry=entry,
        signals=signals,
        probes=probes,
        backend=backend,
        owns=entry.ownership(),
        selector=selector,
        packs=frozenset(entry.packs),
        settle_seconds=_settle_seconds(entry, packs),
        templates={name: t for name, t in templates.items() if t[0].promql},
    )


def _settle_seconds(entry: ServiceEntry, packs: dict[str, SignalPack]) -> float:
    """The entry's `verify.settle`, else its `window` variable, else the longest `window` of its packs."""
    settle = entry.verify.settle or entry.vars.get("window")
    if settle is not None:
        return duration_seconds(settle) or 0.0
    windows = [packs[name].vars["window"] for name in entry.packs if "window" in packs[name].vars]
    return max((duration_seconds(w) or 0.0 for w in windows), default=0.0)


def _render(where: str, name: str, spec: SignalSpec, values: dict[str, str]) -> SignalSpec:
    try:
        return spec.rendered(values)
    except (KeyError, ValueError) as exc:
        known = sorted(v for v in values if v not in SERVICE_VARS)
        raise CatalogError(where, f"signal {name}: variable {exc} not set (vars: {known})") from exc
