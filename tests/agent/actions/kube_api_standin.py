"""A Kubernetes API stand-in: the few apps/v1 and core/v1 routes the agent's Kubernetes backend uses,
served by uvicorn on a free port, with every request recorded (method, path, query, content type, body).

No cluster runs here. This answers the way the API server does for these routes (objects as JSON, a
Status with a message for errors, 401 without the kubeconfig's bearer token) and applies what it is sent
to its own objects, so a later read shows the change. It does not implement strategic merge or JSON
patch in general: it applies the shapes kubectl sends (an annotation on the pod template, `replace` of
`/spec/template` and `/metadata/annotations`, `spec.replicas` on the scale subresource) and answers 415
to any other content type, as the API server does for an unknown patch type.
"""

from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from lab.standins import ServedApp

TOKEN = "standin-service-account-token"
NAMESPACE = "shop"
UID = "5f0c6a3e-0d5b-4c39-9a53-0d1d5e2b7a10"
PATCH_TYPES = {
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/merge-patch+json",
}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    content_type: str | None
    body: Any
    authorization: str | None


def template(image: str, hash_label: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"labels": {"app": "checkout", "tier": "web", "pod-template-hash": hash_label}}
    if annotations:
        meta["annotations"] = annotations
    return {
        "metadata": meta,
        "spec": {
            "containers": [
                {
                    "name": "checkout",
                    "image": image,
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    # A field newer than any client's typed models: a rollback must send it back as is.
                    "futureField": {"kept": True},
                }
            ],
            "restartPolicy": "Always",
        },
    }


def deployment(paused: bool = False, replicas: int = 3) -> dict[str, Any]:
    current = template("shop/checkout:1.3.0", "7d9f8c6b5")
    current["metadata"]["labels"].pop("pod-template-hash")
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "checkout",
            "namespace": NAMESPACE,
            "uid": UID,
            "generation": 3,
            "annotations": {
                "deployment.kubernetes.io/revision": "3",
                "kubectl.kubernetes.io/last-applied-configuration": '{"kind":"Deployment"}',
                "team": "payments",
            },
        },
        "spec": {
            "replicas": replicas,
            "paused": paused,
            "selector": {"matchLabels": {"tier": "web", "app": "checkout"}},
            "template": current,
        },
        "status": {
            "observedGeneration": 3,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": replicas,
        },
    }


def replica_set(name: str, revision: str | None, image: str, owner: str = UID) -> dict[str, Any]:
    """A ReplicaSet as the Deployment controller writes it: the Deployment's annotations of the time copied
    over (its own bookkeeping ones aside), its revision, and its template with the pod-template-hash."""
    annotations = {
        "deployment.kubernetes.io/desired-replicas": "3",
        "deployment.kubernetes.io/max-replicas": "4",
        "team": "payments",
        "kubernetes.io/change-cause": f"deploy {image}",
    }
    if revision is not None:
        annotations["deployment.kubernetes.io/revision"] = revision
    return {
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "annotations": annotations,
            "labels": {"app": "checkout", "tier": "web"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "checkout",
                    "uid": owner,
                    "controller": True,
                }
            ],
        },
        "spec": {"template": template(image, name.rsplit("-", 1)[-1], {"prometheus.io/scrape": "true"})},
    }


def pod(
    name: str, ready: bool, restarts: int = 0, created: str = "2026-12-01T10:00:00Z", **meta: Any
) -> dict:
    labels = {"app": "checkout", "tier": "web", "pod-template-hash": "7d9f8c6b5"}
    return {
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "creationTimestamp": created,
            "labels": labels,
            **meta,
        },
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "checkout", "restartCount": restarts}],
        },
    }


@dataclass
class KubeApiStandIn:
    deployment: dict[str, Any] = field(default_factory=deployment)
    replica_sets: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    forbidden: set[tuple[str, str]] = field(default_factory=set)  # (method, path suffix) answered 403
    delay_seconds: float = 0.0  # before answering a PATCH or DELETE (a slow API server)
    on_change: Any = None  # called after each change is applied

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["GET", "PATCH", "DELETE", "POST", "PUT"])
        async def route(path: str, request: Request) -> Any:
            raw = await request.body()
            recorded = Recorded(
                method=request.method,
                path="/" + path,
                query=dict(request.query_params),
                content_type=request.headers.get("content-type"),
                body=json.loads(raw) if raw else None,
                authorization=request.headers.get("authorization"),
            )
            self.requests.append(recorded)
            if recorded.authorization != f"Bearer {TOKEN}":
                return status(401, "Unauthorized", "Unauthorized")
            if any(recorded.method == m and recorded.path.endswith(p) for m, p in self.forbidden):
                return status(
                    403,
                    "Forbidden",
                    f'{recorded.path} is forbidden: User "system:serviceaccount:sre-agent:sre-agent" '
                    f"cannot {recorded.method.lower()} this resource",
                )
            if recorded.method in ("PATCH", "DELETE") and self.delay_seconds:
                await asyncio.sleep(self.delay_seconds)
            answer = self._answer(recorded)
            if recorded.method in ("PATCH", "DELETE") and self.on_change is not None:
                self.on_change(recorded)
            return answer

        return app

    def serve(self) -> ServedApp:
        return ServedApp(self.app()).__enter__()

    def kubeconfig(self, folder: Path, url: str) -> Path:
        path = folder / "kubeconfig"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "standin", "cluster": {"server": url}}],
            "users": [{"name": "sre-agent", "user": {"token": TOKEN}}],
            "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "sre-agent"}}],
            "current-context": "standin",
        }
        path.write_text(json.dumps(config))  # JSON is YAML
        return path

    def changes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method not in ("GET",)]

    # ------------------------------------------------------------------ answering
    def _answer(self, r: Recorded) -> Any:
        base = f"/apis/apps/v1/namespaces/{NAMESPACE}"
        name = self.deployment["metadata"]["name"]
        if r.method == "GET" and r.path == f"{base}/deployments/{name}":
            return self.deployment
        if r.method == "GET" and r.path == f"{base}/replicasets":
            return {"kind": "ReplicaSetList", "items": self._selected(self.replica_sets, r.query)}
        if r.method == "GET" and r.path == f"/api/v1/namespaces/{NAMESPACE}/pods":
            return {"kind": "PodList", "items": self._selected(self.pods, r.query)}
        if r.method == "PATCH" and r.content_type not in PATCH_TYPES:
            return status(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format: {r.content_type}",
            )
        if r.method == "PATCH" and r.path == f"{base}/deployments/{name}":
            return self._patch_deployment(r)
        if r.method == "PATCH" and r.path == f"{base}/deployments/{name}/scale":
            self.deployment["spec"]["replicas"] = r.body["spec"]["replicas"]
            return {
                "kind": "Scale",
                "apiVersion": "autoscaling/v1",
                "spec": {"replicas": r.body["spec"]["replicas"]},
            }
        if r.method == "DELETE" and r.path.startswith(f"/api/v1/namespaces/{NAMESPACE}/pods/"):
            pod_name = r.path.rsplit("/", 1)[-1]
            found = [p for p in self.pods if p["metadata"]["name"] == pod_name]
            if not found:
                return status(404, "NotFound", f'pods "{pod_name}" not found')
            self.pods.remove(found[0])
            return found[0]
        return status(404, "NotFound", f"the server could not find the requested resource ({r.path})")

    def _patch_deployment(self, r: Recorded) -> Any:
        if r.content_type == "application/json-patch+json":
            for op in r.body:
                if op["op"] != "replace":
                    return status(422, "Invalid", f"unexpected op {op['op']}")
                parent, key = op["path"].rsplit("/", 1)
                target = self.deployment
                for part in parent.strip("/").split("/"):
                    target = target[part]
                target[key] = copy.deepcopy(op["value"])
        else:
            annotations = r.body["spec"]["template"]["metadata"]["annotations"]
            meta = self.deployment["spec"]["template"]["metadata"]
            meta.setdefault("annotations", {}).update(annotations)
        self.deployment["metadata"]["generation"] += 1
        return self.deployment

    @staticmethod
    def _selected(items: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
        wanted = dict(pair.split("=", 1) for pair in query.get("labelSelector", "").split(",") if "=" in pair)
        return [i for i in items if wanted.items() <= (i["metadata"].get("labels") or {}).items()]


def status(code: int, reason: str, message: str) -> JSONResponse:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return JSONResponse(body, status_code=code)
