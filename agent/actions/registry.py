"""Each service's action backend, built from its catalog entry and kept for the app's lifetime.

An HTTP backend's token comes from the environment variable the entry names (`token_env`), so the
catalog file holds no secret; services with the same backend and token share one backend object. A
Kubernetes backend is one Deployment, built again when the entry's bounds on `scale` change.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping

import httpx
from pydantic import SecretStr

from agent.actions.backend import ActionBackend
from agent.actions.http import HttpActionBackend
from agent.actions.kubernetes import KubernetesActionBackend, connector
from agent.catalog.catalog import Service
from agent.catalog.services import HttpBackendSpec, KubernetesBackendSpec


class ActionBackends:
    def __init__(self, http: httpx.AsyncClient, env: Mapping[str, str], timeout_seconds: float) -> None:
        self._http = http
        self._env = env
        self._timeout = timeout_seconds
        self._built: dict[Hashable, ActionBackend] = {}

    def for_service(self, service: Service) -> ActionBackend | None:
        """None when the entry names no backend: the service's incidents are diagnosed, never acted on."""
        spec = service.backend
        if spec is None:
            return None
        key: Hashable = spec
        if isinstance(spec, KubernetesBackendSpec):
            key = (spec, scale_bounds(service))
        if key not in self._built:
            self._built[key] = self.build(service)
        return self._built[key]

    def build(self, service: Service) -> ActionBackend:
        spec = service.backend
        if isinstance(spec, KubernetesBackendSpec):
            timeout = spec.timeout_seconds or min(self._timeout, 30.0)
            return KubernetesActionBackend(spec, connector(spec, self._env, timeout), scale_bounds(service))
        assert isinstance(spec, HttpBackendSpec)
        token = SecretStr(self._env.get(spec.token_env, "") if spec.token_env else "")
        return HttpActionBackend(
            self._http, spec.url, token, spec.timeout_seconds or self._timeout, health=spec.health
        )

    def all(self) -> list[ActionBackend]:
        return list(self._built.values())

    async def aclose(self) -> None:
        """Close the connections the backends opened themselves (the shared HTTP client is the app's)."""
        for backend in self._built.values():
            if isinstance(backend, KubernetesActionBackend):
                await backend.aclose()


def scale_bounds(service: Service) -> tuple[int, int] | None:
    """The replicas `scale` may set: the range spanned by every allowed action that maps to it."""
    bounds = [
        allowed.params["replicas"]
        for name, allowed in service.entry.actions.allowed.items()
        if (allowed.action or name) == "scale" and "replicas" in allowed.params
    ]
    lows = [b.min for b in bounds if b.min is not None]
    highs = [b.max for b in bounds if b.max is not None]
    if not lows or not highs:
        return None
    return math.ceil(min(lows)), math.floor(max(highs))
