"""Each service's action backend, built from its catalog entry and kept for the app's lifetime.

The token comes from the environment variable the entry names (`token_env`), so the catalog file holds
no secret. Services with the same backend and token share one backend object.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from pydantic import SecretStr

from agent.actions.backend import ActionBackend
from agent.actions.http import HttpActionBackend
from agent.catalog.catalog import Service
from agent.catalog.services import ActionBackendSpec


class ActionBackends:
    def __init__(self, http: httpx.AsyncClient, env: Mapping[str, str], timeout_seconds: float) -> None:
        self._http = http
        self._env = env
        self._timeout = timeout_seconds
        self._built: dict[ActionBackendSpec, ActionBackend] = {}

    def for_service(self, service: Service) -> ActionBackend | None:
        """None when the entry names no backend: the service's incidents are diagnosed, never acted on."""
        spec = service.backend
        if spec is None:
            return None
        if spec not in self._built:
            self._built[spec] = self.build(spec)
        return self._built[spec]

    def build(self, spec: ActionBackendSpec) -> ActionBackend:
        token = SecretStr(self._env.get(spec.token_env, "") if spec.token_env else "")
        return HttpActionBackend(
            self._http, spec.url, token, spec.timeout_seconds or self._timeout, health=spec.health
        )

    def all(self) -> dict[ActionBackendSpec, ActionBackend]:
        return dict(self._built)
