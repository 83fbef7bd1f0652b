"""A service catalog entry (`services/<name>.yml`), validated strictly: unknown keys are errors.

```yaml
service: checkout
owns: ['service="checkout"', '{namespace="shop", alertname=~"KubePod.*"}']  # any of these matches
selector: '{job="checkout"}'          # scopes every PromQL signal of the packs
packs: [standard, otel-http]
vars: {window: 2m}                     # pack variables
signals: {}                            # extra or overriding signals, a pack's shape
probes: []                             # optional HTTP JSON and log probes
actions:
  backend: {url: "${ACTIONS_URL:-https://actions.shop.internal}", token_env: ACTIONS_TOKEN}
  allowed:
    restart: {action: rollout-restart}  # runbooks say `restart`; the backend runs `rollout-restart`
    scale-out: {params: {replicas: {min: 2, max: 10}}}
guardrails: {max_actions_per_hour: 4}
escalation: {labels: {team: payments}}
verify: {settle: 2m}                   # default: the `window` variable
```

The backend may instead be a Deployment the agent acts on through the Kubernetes API
(`{kind: kubernetes, namespace: shop, deployment: checkout}`): then the allowed actions map to
`rollout-restart`, `rollout-undo`, `scale` (with `replicas` bounds) and `delete-pod` (docs/kubernetes.md).

`owns` entries are Alertmanager matchers; a braced entry is a set that must all match. URLs may use
`${NAME}` / `${NAME:-default}` from the environment; tokens are read from the variable `token_env` names,
never written in the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from agent.catalog.packs import SignalSpec, duration_seconds
from agent.domain.matchers import Matcher, MatcherError, parse_matchers
from agent.domain.signals import Unit

Risk = Literal["low", "medium", "high"]
AgentMode = Literal["autonomous", "approval", "dry-run"]
SERVICE_NAME = r"^[a-z0-9][a-z0-9_.-]{0,62}$"  # a catalog file name, so also what a trigger may name
_SERVICE = re.compile(SERVICE_NAME)
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
K8S_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"  # a namespace name
K8S_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"  # a Deployment name (at most 253 characters)
# The actions a Kubernetes backend runs, and the parameters each takes.
KUBERNETES_ACTIONS: dict[str, tuple[str, ...]] = {
    "rollout-restart": (),
    "rollout-undo": (),
    "scale": ("replicas",),
    "delete-pod": (),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """`${NAME}` and `${NAME:-default}` from `env`; an unset name without a default is an error."""

    def value(match: re.Match[str]) -> str:
        name, default = match[1], match[2]
        if name in env and env[name] != "":
            return env[name]
        if default is None:
            raise ValueError(f"${{{name}}} is not set and has no default")
        return default

    return _ENV.sub(value, text)


class ProbeSignal(_Strict):
    """A value read from a JSON answer: a JMESPath `path`, scaled into base units, optionally transformed.

    transform `present`: true when the value is there and not null; `age`: seconds since a Unix time.
    """

    path: str
    unit: Unit = "number"
    scale: float = 1.0
    transform: Literal["value", "present", "age"] = "value"
    description: str = ""


class ProbeChecks(_Strict):
    """Named health checks in a JSON answer: `path` is a mapping of name → check object."""

    path: str
    status: str = "status"
    detail: str = "detail"
    failing: list[str] = Field(default_factory=lambda: ["failing"])
    ok: list[str] = Field(default_factory=lambda: ["ok"])


class HttpJsonProbe(_Strict):
    kind: Literal["http_json"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    url: str
    any_status: bool = Field(
        default=False, description="read the body of a non-2xx answer too (a 503 health)"
    )
    signals: dict[str, ProbeSignal] = Field(default_factory=dict)
    checks: ProbeChecks | None = None


class LogProbe(_Strict):
    """Recent error log lines over HTTP: the entries, their level, and the fields that make a message.

    `message` lists JMESPath expressions joined with ": " (repeats dropped); a multi-line value
    contributes its last line (a traceback's exception).
    """

    kind: Literal["log"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    url: str
    params: dict[str, str] = Field(default_factory=dict)
    since_param: str | None = Field(default=None, description="query parameter taking an ISO time")
    entries: str = Field(default="@", description="JMESPath to the list of entries")
    level: str = "level"
    levels: list[str] = Field(default_factory=lambda: ["ERROR", "CRITICAL"])
    message: list[str] = Field(min_length=1)


Probe = Annotated[HttpJsonProbe | LogProbe, Field(discriminator="kind")]


class ParamBound(_Strict):
    """What a parameter may be: a number within [min, max] (planned values are clamped), or a `choice`."""

    min: float | None = None
    max: float | None = None
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ParamBound:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is above max")
        return self


class AllowedAction(_Strict):
    """An action runbooks may plan for this service. `action`: the backend's name (default: the key);
    `params`: the only parameters passed, with their bounds; `risk`: raises the runbook's, never lowers."""

    action: str | None = None
    params: dict[str, ParamBound] = Field(default_factory=dict)
    risk: Risk | None = None


class HttpBackendSpec(_Strict):
    """An action server speaking the agent's action protocol (GET catalog and audit, POST one action)."""

    kind: Literal["http"] = "http"
    url: str
    token_env: str | None = Field(default=None, description="environment variable holding its bearer token")
    health: str | None = Field(
        default=None, description="the backend's health verdict for this service (GET /action/<health>)"
    )
    timeout_seconds: float | None = Field(default=None, gt=0)


class KubernetesBackendSpec(_Strict):
    """A Deployment the agent acts on through the Kubernetes API, as kubectl would (see
    agent/actions/kubernetes.py). Credentials: the pod's service account in a cluster, else `kubeconfig`
    (default: KUBECONFIG, then ~/.kube/config) and its `context`."""

    kind: Literal["kubernetes"]
    namespace: str = Field(pattern=K8S_LABEL)
    deployment: str = Field(pattern=K8S_SUBDOMAIN, max_length=253)
    kubeconfig: str | None = Field(default=None, description="a kubeconfig file; may use ${NAME}")
    context: str | None = Field(default=None, description="a context of that kubeconfig (default: current)")
    timeout_seconds: float | None = Field(default=None, gt=0)


def _backend_kind(value: Any) -> str:
    """Entries written before there were other kinds have no `kind`: they are HTTP action servers."""
    kind = value.get("kind", "http") if isinstance(value, dict) else getattr(value, "kind", "http")
    return str(kind)


ActionBackendSpec = Annotated[
    Annotated[HttpBackendSpec, Tag("http")] | Annotated[KubernetesBackendSpec, Tag("kubernetes")],
    Discriminator(_backend_kind),
]


class ServiceActions(_Strict):
    backend: ActionBackendSpec | None = None
    allowed: dict[str, AllowedAction] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _kubernetes_actions(self) -> ServiceActions:
        """A Kubernetes backend runs only its own actions, and scales only within bounds the entry sets."""
        if not isinstance(self.backend, KubernetesBackendSpec):
            return self
        for name, allowed in self.allowed.items():
            action = allowed.action or name
            if action not in KUBERNETES_ACTIONS:
                raise ValueError(
                    f"{name}: a kubernetes backend runs {', '.join(KUBERNETES_ACTIONS)}, not {action!r}"
                )
            unknown = set(allowed.params) - set(KUBERNETES_ACTIONS[action])
            if unknown:
                raise ValueError(f"{name}: {action} takes no parameter {', '.join(sorted(unknown))}")
            if action == "scale":
                replicas = allowed.params.get("replicas")
                if replicas is None or replicas.min is None or replicas.max is None or replicas.min < 0:
                    raise ValueError(f"{name}: scale needs params.replicas with min >= 0 and max")
        return self


class GuardrailOverrides(_Strict):
    """This service's own limits; unset ones take the agent's settings."""

    max_actions_per_incident: int | None = Field(default=None, ge=0)
    max_actions_per_hour: int | None = Field(default=None, ge=0)
    action_cooldown_seconds: float | None = Field(default=None, ge=0)
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    max_attempts: int | None = Field(default=None, ge=1)
    mode: AgentMode | None = None


class Escalation(_Strict):
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="kept on the service's escalated incidents (`escalation_labels`), for routing them",
    )


class VerifyOverrides(_Strict):
    settle: str | None = Field(
        default=None,
        description=(
            "how long after a fix this service's signals and alerts show only time after it (a Prometheus "
            "duration; default: its `window` variable, the rate window its signals use): what still fires "
            "is handed on as another problem only once this has passed"
        ),
    )

    @field_validator("settle")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None and duration_seconds(value) is None:
            raise ValueError("settle is a Prometheus duration such as 30s or 2m")
        return value


class ServiceEntry(_Strict):
    service: str
    description: str = ""
    owns: list[str] = Field(min_length=1)
    selector: str
    packs: list[str] = Field(default_factory=list)
    vars: dict[str, str] = Field(default_factory=dict)
    signals: dict[str, SignalSpec] = Field(default_factory=dict)
    probes: list[Probe] = Field(default_factory=list)
    actions: ServiceActions = Field(default_factory=ServiceActions)
    guardrails: GuardrailOverrides = Field(default_factory=GuardrailOverrides)
    escalation: Escalation = Field(default_factory=Escalation)
    verify: VerifyOverrides = Field(default_factory=VerifyOverrides)

    @field_validator("service")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _SERVICE.match(value):
            raise ValueError("a service name is lowercase letters, digits, '.', '_' and '-'")
        return value

    @field_validator("owns")
    @classmethod
    def _owns_parse(cls, value: list[str]) -> list[str]:
        for text in value:
            try:
                parse_matchers(text)
            except MatcherError as exc:
                raise ValueError(str(exc)) from exc
        return value

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: str) -> str:
        if not value.strip().startswith("{"):
            raise ValueError('the selector is a PromQL label selector such as {job="checkout"}')
        try:
            parse_matchers(value)
        except MatcherError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @model_validator(mode="after")
    def _unique_probes(self) -> ServiceEntry:
        names = [p.name for p in self.probes]
        if len(names) != len(set(names)):
            raise ValueError("probe names must be unique")
        return self

    def ownership(self) -> list[list[Matcher]]:
        return [parse_matchers(text) for text in self.owns]

    def selector_matchers(self) -> list[Matcher]:
        return parse_matchers(self.selector)
