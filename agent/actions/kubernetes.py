"""A Deployment as an action backend: kubectl's `rollout restart`, `rollout undo`, `scale` and `delete pod`,
sent to the Kubernetes API as kubectl sends them.

- `rollout-restart`: GET the Deployment; PATCH it (strategic merge) with the pod template annotation
  `kubectl.kubernetes.io/restartedAt` set to now.
- `rollout-undo`: GET the Deployment; LIST its ReplicaSets by its selector; PATCH it (JSON patch) with
  the template of the ReplicaSet of the previous `deployment.kubernetes.io/revision` and the annotations
  kubectl carries over.
- `scale`: PATCH `deployments/<name>/scale` (JSON merge patch) with `{"spec": {"replicas": n}}`.
- `delete-pod`: GET the Deployment; LIST its pods by its selector; DELETE one with
  `{"propagationPolicy": "Background"}`.

What differs from kubectl, on purpose: every PATCH names the agent as its field manager
(`?fieldManager=sre-agent`) so the Deployment's managedFields say who changed it; `delete-pod` deletes
one pod (kubectl deletes every pod the selector matches), the one in the worst state; a rollback to a
template that is already current changes nothing and is reported as not done.

`scale` is refused before any request when `replicas` is not a whole number within the bounds the
catalog allows (the planner clamps into them already; this holds for any caller). The requests go
through lightkube's connection (kubeconfig or the pod's service account, its TLS and credentials,
token rotation included) but are written here, from the raw JSON: a ReplicaSet's template is sent back
as the API gave it, never through typed models that would drop fields they do not know.
`PERMISSIONS` lists the verbs this needs: the Role in deploy/kubernetes grants those and no more.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from agent.actions.backend import ActionOutcome, AuditEntry, CatalogAction, HealthVerdict
from agent.actions.kubectl import (
    HASH_LABEL,
    REVISION,
    Refused,
    controlled_by,
    label_selector,
    previous_revision,
    rollout_verdict,
    same_template,
    worst_pod,
)
from agent.catalog.services import KubernetesBackendSpec
from agent.clients.http import Fetched, JsonResponse, get_json, send_json
from agent.redaction import redact

FIELD_MANAGER = "sre-agent"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
# Deployment annotations `kubectl rollout undo` keeps, and never copies from the ReplicaSet.
UNDO_KEEPS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)
STRATEGIC_MERGE = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
DEFAULT_TIMEOUT_SECONDS = 10.0
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
MAX_ERROR_CHARS = 300
# (API group, resource, verb): every request this module sends, for the Role that allows it.
PERMISSIONS = (
    ("apps", "deployments", "get"),
    ("apps", "deployments", "patch"),
    ("apps", "deployments/scale", "patch"),
    ("apps", "replicasets", "list"),
    ("", "pods", "list"),
    ("", "pods", "delete"),
)
ACTIONS = (
    CatalogAction(name="rollout-restart", risk="medium", description="new pods, one by one"),
    CatalogAction(name="rollout-undo", risk="medium", description="back to the previous revision"),
    CatalogAction(name="scale", risk="medium", description="set the replicas", params={"replicas": "int"}),
    CatalogAction(
        name="delete-pod", risk="low", description="the pod in the worst state; its ReplicaSet replaces it"
    ),
)


class KubernetesActionBackend:
    """One Deployment. `connect` builds the authenticated client on first use (a missing kubeconfig is an
    error value, not a start-up failure); `replicas` is the range `scale` may set, None: no scaling."""

    def __init__(
        self,
        spec: KubernetesBackendSpec,
        connect: Callable[[], httpx.AsyncClient],
        replicas: tuple[int, int] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.spec = spec
        self._connect = connect
        self._client: httpx.AsyncClient | None = None
        self._replicas = replicas
        self._clock = clock
        self._path = f"/apis/apps/v1/namespaces/{spec.namespace}/deployments/{spec.deployment}"
        self._name = f"deployment.apps/{spec.deployment}"

    # ------------------------------------------------------------------ the ActionBackend interface
    async def catalog(self) -> Fetched[list[CatalogAction]]:
        """The four actions, once the Deployment can be read (so `/health` shows access problems)."""
        try:
            await self._deployment()
        except Refused as exc:
            return Fetched(error=str(exc))
        return Fetched(value=list(ACTIONS), status_code=200)

    async def run(self, name: str, params: dict[str, Any]) -> ActionOutcome:
        actions = {
            "rollout-restart": self._restart,
            "rollout-undo": self._undo,
            "scale": self._scale,
            "delete-pod": self._delete_pod,
        }
        if name not in actions:
            return ActionOutcome(action=name, ok=False, error=f"{name} is not a Kubernetes action")
        try:
            response, detail = await actions[name](params)
        except Refused as exc:
            return ActionOutcome(action=name, ok=False, error=str(exc)[:MAX_ERROR_CHARS])
        except (KeyError, TypeError, ValueError) as exc:  # an object without the fields the API always sends
            return ActionOutcome(
                action=name, ok=False, error=f"unexpected answer from the API: {exc!r}"[:200]
            )
        if response.error is not None:
            return ActionOutcome(
                action=name,
                ok=False,
                status_code=response.status_code,
                error=_api_error(response),
                may_have_run=response.status_code is None and response.reached_server,
            )
        return ActionOutcome(
            action=name, ok=True, status_code=response.status_code, body={"status": "done", "detail": detail}
        )

    async def audit(self) -> Fetched[list[AuditEntry]]:
        return Fetched(error="the Kubernetes API keeps no audit the agent can read")

    async def health_verdict(self) -> Fetched[HealthVerdict]:
        """`kubectl rollout status`'s verdict: the latest template rolled out and every replica available."""
        try:
            return Fetched(value=rollout_verdict(await self._deployment()), status_code=200)
        except Refused as exc:
            return Fetched(error=str(exc))
        except (KeyError, TypeError, ValueError) as exc:
            return Fetched(error=f"unexpected answer from the API: {exc!r}"[:200])

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    # ------------------------------------------------------------------ the actions
    async def _restart(self, params: dict[str, Any]) -> tuple[JsonResponse, str]:
        deployment = await self._deployment()
        if deployment.get("spec", {}).get("paused"):
            raise Refused(f"can't restart paused {self._name} (run rollout resume first)")
        now = self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
        return await self._patch(self._path, STRATEGIC_MERGE, patch), f"{self._name} restarted"

    async def _undo(self, params: dict[str, Any]) -> tuple[JsonResponse, str]:
        deployment = await self._deployment()
        if deployment.get("spec", {}).get("paused"):
            raise Refused(
                f"you cannot rollback a paused {self._name}; resume it first with 'kubectl rollout resume'"
            )
        selector = label_selector(deployment.get("spec", {}).get("selector") or {})
        listed = await self._list(f"/apis/apps/v1/namespaces/{self.spec.namespace}/replicasets", selector)
        uid = deployment.get("metadata", {}).get("uid")
        owned = [rs for rs in listed if controlled_by(rs, uid)]
        revision, previous = previous_revision(owned)
        if previous is None:
            raise Refused(f"no rollout history found for {self._name}")
        template = copy.deepcopy(previous.get("spec", {}).get("template") or {})
        template.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
        if same_template(template, deployment.get("spec", {}).get("template") or {}):
            raise Refused(f"skipped rollback: the current template already matches revision {revision}")
        current = deployment.get("metadata", {}).get("annotations") or {}
        annotations = {key: value for key, value in current.items() if key in UNDO_KEEPS}
        for key, value in (previous.get("metadata", {}).get("annotations") or {}).items():
            if key not in UNDO_KEEPS:
                annotations[key] = value
        patch = [
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations},
        ]
        detail = f"{self._name} rolled back to revision {revision}"
        return await self._patch(self._path, JSON_PATCH, patch), detail

    async def _scale(self, params: dict[str, Any]) -> tuple[JsonResponse, str]:
        replicas = self._checked_replicas(params.get("replicas"))
        patch = {"spec": {"replicas": replicas}}
        detail = f"{self._name} scaled to {replicas}"
        return await self._patch(f"{self._path}/scale", MERGE_PATCH, patch), detail

    async def _delete_pod(self, params: dict[str, Any]) -> tuple[JsonResponse, str]:
        deployment = await self._deployment()
        selector = label_selector(deployment.get("spec", {}).get("selector") or {})
        pods = [
            pod
            for pod in await self._list(f"/api/v1/namespaces/{self.spec.namespace}/pods", selector)
            if not pod.get("metadata", {}).get("deletionTimestamp")
        ]
        if not pods:
            raise Refused(f"no pod of {self._name} to delete (selector {selector})")
        name = worst_pod(pods)["metadata"]["name"]
        response = await send_json(
            self._http(),
            "DELETE",
            f"/api/v1/namespaces/{self.spec.namespace}/pods/{name}",
            json={"propagationPolicy": "Background"},
            timeout=self._timeout,
        )
        return response, f'pod "{name}" deleted'

    # ------------------------------------------------------------------ requests
    @property
    def _timeout(self) -> float:
        return self.spec.timeout_seconds or DEFAULT_TIMEOUT_SECONDS

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            try:
                self._client = self._connect()
            except Exception as exc:  # a kubeconfig can fail in many ways; each is a reason, never a crash
                raise Refused(f"no Kubernetes connection: {type(exc).__name__}: {redact(str(exc))}") from exc
        return self._client

    async def _deployment(self) -> dict[str, Any]:
        response = await get_json(self._http(), self._path, retries=1)
        if response.error is not None or not isinstance(response.body, dict):
            raise Refused(f"cannot read {self._name} in {self.spec.namespace}: {_api_error(response)}")
        return response.body

    async def _list(self, path: str, selector: str) -> list[dict[str, Any]]:
        response = await get_json(self._http(), path, params={"labelSelector": selector}, retries=1)
        items = response.body.get("items") if isinstance(response.body, dict) else None
        if response.error is not None or not isinstance(items, list):
            raise Refused(f"cannot list {path.rsplit('/', 1)[-1]} of {self._name}: {_api_error(response)}")
        return [item for item in items if isinstance(item, dict)]

    async def _patch(self, path: str, content_type: str, patch: Any) -> JsonResponse:
        return await send_json(
            self._http(),
            "PATCH",
            path,
            params={"fieldManager": FIELD_MANAGER},
            json=patch,
            headers={"Content-Type": content_type},
            timeout=self._timeout,
        )

    def _checked_replicas(self, value: Any) -> int:
        if self._replicas is None:
            raise Refused("the catalog allows no scaling for this service")
        if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
            raise Refused(f"replicas={value!r} is not a whole number: not sent")
        low, high = self._replicas
        if not low <= value <= high:
            raise Refused(f"replicas={int(value)} is outside the catalog's bounds {low}..{high}: not sent")
        return int(value)


def _api_error(response: JsonResponse) -> str:
    """The API's own Status message when it gave one (403 names the missing permission), redacted."""
    message = response.body.get("message") if isinstance(response.body, dict) else None
    text = f"{response.error}: {message}" if message else str(response.error or "no answer")
    return redact(text)[:MAX_ERROR_CHARS]


# ---------------------------------------------------------------------- the connection
def connector(
    spec: KubernetesBackendSpec, env: Mapping[str, str], timeout_seconds: float
) -> Callable[[], httpx.AsyncClient]:
    """The client factory: `spec.kubeconfig`, else the pod's service account, else KUBECONFIG (its first
    file), else ~/.kube/config; `spec.context` picks a context (default: the current one)."""

    def connect() -> httpx.AsyncClient:
        from lightkube.config import client_adapter
        from lightkube.config.kubeconfig import KubeConfig

        if spec.kubeconfig:
            config = KubeConfig.from_file(spec.kubeconfig).get(spec.context)
        elif (SERVICE_ACCOUNT / "token").is_file() and "KUBERNETES_SERVICE_HOST" in env:
            config = KubeConfig.from_service_account(SERVICE_ACCOUNT).get()
        else:
            path = (env.get("KUBECONFIG") or "~/.kube/config").split(":")[0]
            config = KubeConfig.from_file(Path(path).expanduser()).get(spec.context)
        if config is None:
            raise ValueError("the kubeconfig has no current context")
        params = client_adapter.ConnectionParams(timeout=httpx.Timeout(timeout_seconds))
        return client_adapter.AsyncClient(config, params)

    return connect
