"""The Kubernetes backend against a stand-in API server, through a real kubeconfig and lightkube's connection:
each action's requests, exactly as kubectl sends them (method, path, content type, body), and every way
an action is refused before anything changes."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agent.actions.kubectl import label_selector
from agent.actions.kubernetes import PERMISSIONS, KubernetesActionBackend, connector
from agent.catalog.services import KubernetesBackendSpec
from lab.runner.ports import free_port
from lab.standins import ServedApp

from .kube_api_standin import NAMESPACE, TOKEN, UID, KubeApiStandIn, Recorded, deployment, pod, replica_set

DEPLOYMENT = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/checkout"
NOW = datetime(2026, 12, 3, 9, 30, 5, tzinfo=UTC)


@pytest.fixture
def api() -> Iterator[tuple[KubeApiStandIn, ServedApp]]:
    standin = KubeApiStandIn()
    served = standin.serve()
    yield standin, served
    served.__exit__(None)


def backend_for(
    api: tuple[KubeApiStandIn, ServedApp],
    tmp_path: Path,
    replicas: tuple[int, int] | None = (2, 10),
    **spec: Any,
) -> KubernetesActionBackend:
    standin, served = api
    config = standin.kubeconfig(tmp_path, served.url)
    k8s = KubernetesBackendSpec(
        kind="kubernetes", namespace=NAMESPACE, deployment="checkout", kubeconfig=str(config), **spec
    )
    return KubernetesActionBackend(k8s, connector(k8s, {}, 2.0), replicas, clock=lambda: NOW)


def shape(r: Recorded) -> tuple[str, str, dict[str, str], str | None]:
    return r.method, r.path, r.query, r.content_type


async def test_rollout_restart_patches_the_template_annotation_as_kubectl(api, tmp_path: Path) -> None:
    standin, _ = api
    backend = backend_for(api, tmp_path)
    outcome = await backend.run("rollout-restart", {})
    await backend.aclose()

    assert outcome.ok and outcome.status_code == 200, outcome
    assert outcome.body == {"status": "done", "detail": "deployment.apps/checkout restarted"}
    get, patch = standin.requests
    assert shape(get)[:2] == ("GET", DEPLOYMENT)
    assert shape(patch) == (
        "PATCH",
        DEPLOYMENT,
        {"fieldManager": "sre-agent"},
        "application/strategic-merge-patch+json",
    )
    assert patch.body == {
        "spec": {
            "template": {
                "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-12-03T09:30:05Z"}}
            }
        }
    }
    assert {r.authorization for r in standin.requests} == {f"Bearer {TOKEN}"}  # the kubeconfig's user
    assert standin.deployment["spec"]["template"]["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/restartedAt": "2026-12-03T09:30:05Z"
    }


async def test_a_paused_deployment_is_not_restarted_nor_rolled_back(api, tmp_path: Path) -> None:
    standin, _ = api
    standin.deployment = deployment(paused=True)
    backend = backend_for(api, tmp_path)
    restart = await backend.run("rollout-restart", {})
    undo = await backend.run("rollout-undo", {})
    assert not restart.ok and "paused" in (restart.error or "") and not restart.may_have_run
    assert not undo.ok and "paused" in (undo.error or "")
    assert standin.changes() == []


async def test_rollout_undo_puts_back_the_previous_revisions_template_as_kubectl(api, tmp_path: Path) -> None:
    standin, _ = api
    previous = replica_set("checkout-6c5b9d7f4", "2", "shop/checkout:1.2.0")
    standin.replica_sets = [
        replica_set("checkout-5b4a8c6e3", "1", "shop/checkout:1.1.0"),
        previous,
        replica_set("checkout-7d9f8c6b5", "3", "shop/checkout:1.3.0"),
        # Same labels, another owner (a second Deployment with an overlapping selector): never chosen.
        replica_set("checkout-canary-8f7e6d5c4", "9", "shop/checkout:2.0.0-rc1", owner="another-uid"),
    ]
    before = copy.deepcopy(previous)
    backend = backend_for(api, tmp_path)
    outcome = await backend.run("rollout-undo", {})
    await backend.aclose()

    assert outcome.ok, outcome
    assert outcome.body["detail"] == "deployment.apps/checkout rolled back to revision 2"
    get, listed, patch = standin.requests
    assert shape(get)[:2] == ("GET", DEPLOYMENT)
    assert shape(listed)[:3] == (
        "GET",
        f"/apis/apps/v1/namespaces/{NAMESPACE}/replicasets",
        {"labelSelector": "app=checkout,tier=web"},  # sorted by key, as kubectl's selector.String()
    )
    assert shape(patch) == ("PATCH", DEPLOYMENT, {"fieldManager": "sre-agent"}, "application/json-patch+json")
    expected_template = copy.deepcopy(before["spec"]["template"])
    del expected_template["metadata"]["labels"]["pod-template-hash"]
    assert patch.body == [
        {"op": "replace", "path": "/spec/template", "value": expected_template},
        {
            "op": "replace",
            "path": "/metadata/annotations",
            # the Deployment's own revision and last-applied kept; the rest from the ReplicaSet
            "value": {
                "deployment.kubernetes.io/revision": "3",
                "kubectl.kubernetes.io/last-applied-configuration": '{"kind":"Deployment"}',
                "team": "payments",
                "kubernetes.io/change-cause": "deploy shop/checkout:1.2.0",
            },
        },
    ]
    assert patch.body[0]["value"]["spec"]["containers"][0]["futureField"] == {"kept": True}
    assert standin.deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "shop/checkout:1.2.0"


async def test_rollout_undo_without_history_or_to_the_current_template_changes_nothing(
    api, tmp_path: Path
) -> None:
    standin, _ = api
    standin.replica_sets = [replica_set("checkout-7d9f8c6b5", "3", "shop/checkout:1.3.0")]
    backend = backend_for(api, tmp_path)
    alone = await backend.run("rollout-undo", {})
    assert not alone.ok and "no rollout history found for deployment.apps/checkout" in (alone.error or "")

    same = replica_set("checkout-7d9f8c6b5", "2", "shop/checkout:1.3.0")
    same["spec"]["template"]["metadata"].pop("annotations")
    standin.replica_sets = [same, replica_set("checkout-1a2b3c4d5", "3", "shop/checkout:1.3.0")]
    current = await backend.run("rollout-undo", {})
    assert not current.ok and "already matches revision 2" in (current.error or "")
    assert standin.changes() == []


async def test_scale_patches_the_scale_subresource_as_kubectl(api, tmp_path: Path) -> None:
    standin, _ = api
    backend = backend_for(api, tmp_path)
    outcome = await backend.run("scale", {"replicas": 6})
    await backend.aclose()

    assert outcome.ok and outcome.body["detail"] == "deployment.apps/checkout scaled to 6"
    (patch,) = standin.requests  # nothing to read first: the scale subresource takes the number
    assert shape(patch) == (
        "PATCH",
        f"{DEPLOYMENT}/scale",
        {"fieldManager": "sre-agent"},
        "application/merge-patch+json",
    )
    assert patch.body == {"spec": {"replicas": 6}}
    assert standin.deployment["spec"]["replicas"] == 6


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"replicas": 11}, "outside the catalog's bounds 2..10"),
        ({"replicas": 1}, "outside the catalog's bounds 2..10"),
        ({"replicas": -3}, "outside the catalog's bounds 2..10"),
        ({"replicas": 2.5}, "not a whole number"),
        ({"replicas": float("inf")}, "not a whole number"),
        ({"replicas": float("nan")}, "not a whole number"),
        ({"replicas": "4"}, "not a whole number"),
        ({"replicas": True}, "not a whole number"),
        ({}, "not a whole number"),
    ],
)
async def test_scale_outside_the_catalog_bounds_is_refused_before_any_request(
    api, tmp_path: Path, params: dict[str, Any], reason: str
) -> None:
    standin, _ = api
    outcome = await backend_for(api, tmp_path).run("scale", params)
    assert not outcome.ok and reason in (outcome.error or "") and not outcome.may_have_run
    assert standin.requests == []


async def test_scale_without_bounds_in_the_catalog_is_refused(api, tmp_path: Path) -> None:
    standin, _ = api
    outcome = await backend_for(api, tmp_path, replicas=None).run("scale", {"replicas": 3})
    assert not outcome.ok and "allows no scaling" in (outcome.error or "")
    assert standin.requests == []


async def test_delete_pod_deletes_one_pod_the_worst_as_kubectl_deletes_a_pod(api, tmp_path: Path) -> None:
    standin, _ = api
    standin.pods = [
        pod("checkout-7d9f8c6b5-abcde", ready=True, restarts=0),
        pod("checkout-7d9f8c6b5-fghjk", ready=True, restarts=7),
        pod("checkout-7d9f8c6b5-lmnpq", ready=False, restarts=1),
        pod("checkout-7d9f8c6b5-rstvw", ready=False, restarts=9, deletionTimestamp="2026-12-03T09:29:00Z"),
    ]
    backend = backend_for(api, tmp_path)
    outcome = await backend.run("delete-pod", {})
    await backend.aclose()

    assert outcome.ok and outcome.body["detail"] == 'pod "checkout-7d9f8c6b5-lmnpq" deleted'
    get, listed, delete = standin.requests
    assert shape(get)[:2] == ("GET", DEPLOYMENT)
    assert shape(listed)[:3] == (
        "GET",
        f"/api/v1/namespaces/{NAMESPACE}/pods",
        {"labelSelector": "app=checkout,tier=web"},
    )
    assert shape(delete) == (
        "DELETE",
        f"/api/v1/namespaces/{NAMESPACE}/pods/checkout-7d9f8c6b5-lmnpq",
        {},
        "application/json",
    )
    assert delete.body == {"propagationPolicy": "Background"}
    assert len(standin.pods) == 3  # one pod, never all that the selector matches


async def test_delete_pod_with_no_pod_changes_nothing(api, tmp_path: Path) -> None:
    standin, _ = api
    outcome = await backend_for(api, tmp_path).run("delete-pod", {})
    assert not outcome.ok and "no pod of deployment.apps/checkout" in (outcome.error or "")
    assert standin.changes() == []


async def test_forbidden_by_rbac_is_a_failure_with_the_apis_reason(api, tmp_path: Path) -> None:
    standin, _ = api
    standin.forbidden = {("PATCH", "/deployments/checkout")}
    outcome = await backend_for(api, tmp_path).run("rollout-restart", {})
    assert not outcome.ok and outcome.status_code == 403 and not outcome.may_have_run
    assert "HTTP 403" in (outcome.error or "") and "cannot patch" in (outcome.error or "")


async def test_a_patch_without_an_answer_may_have_run(api, tmp_path: Path) -> None:
    standin, _ = api
    standin.delay_seconds = 2.0
    outcome = await backend_for(api, tmp_path, timeout_seconds=0.3).run("scale", {"replicas": 3})
    assert not outcome.ok and outcome.error == "timeout" and outcome.may_have_run


async def test_unknown_action_and_unusable_kubeconfig_are_errors_not_exceptions(api, tmp_path: Path) -> None:
    standin, _ = api
    assert (
        await backend_for(api, tmp_path).run("rollout-pause", {})
    ).error == "rollout-pause is not a Kubernetes action"
    spec = KubernetesBackendSpec(
        kind="kubernetes", namespace=NAMESPACE, deployment="checkout", kubeconfig=str(tmp_path / "missing")
    )
    broken = KubernetesActionBackend(spec, connector(spec, {}, 1.0))
    outcome = await broken.run("rollout-restart", {})
    assert not outcome.ok and (outcome.error or "").startswith("no Kubernetes connection")
    assert not (await broken.catalog()).ok and not (await broken.health_verdict()).ok
    assert standin.requests == []


async def test_catalog_needs_the_deployment_readable_and_health_is_the_rollout_status(
    api, tmp_path: Path
) -> None:
    standin, _ = api
    backend = backend_for(api, tmp_path)
    catalog = await backend.catalog()
    assert catalog.ok and [a.name for a in catalog.value or []] == [
        "rollout-restart",
        "rollout-undo",
        "scale",
        "delete-pod",
    ]
    verdict = await backend.health_verdict()
    assert verdict.value is not None and verdict.value.is_healthy
    standin.deployment["status"]["availableReplicas"] = 1
    verdict = await backend.health_verdict()
    assert verdict.value is not None and not verdict.value.is_healthy
    assert verdict.value.checks["rollout"]["detail"] == "1 of 3 updated replicas are available"
    assert not (await backend.audit()).ok  # no audit to read: an unanswered call stays `unknown`

    gone = KubernetesBackendSpec(
        kind="kubernetes", namespace=NAMESPACE, deployment="checkout", kubeconfig=str(tmp_path / "kubeconfig")
    )
    standin.deployment["metadata"]["name"] = "renamed"
    missing = await KubernetesActionBackend(gone, connector(gone, {}, 1.0)).catalog()
    assert not missing.ok and "HTTP 404" in (missing.error or "")
    await backend.aclose()


async def test_an_answer_without_the_usual_fields_is_an_error_not_an_exception(api, tmp_path: Path) -> None:
    standin, _ = api
    standin.pods = [{"metadata": {"labels": {"app": "checkout", "tier": "web"}}, "status": {}}]  # no name
    outcome = await backend_for(api, tmp_path).run("delete-pod", {})
    assert not outcome.ok and "unexpected answer from the API" in (outcome.error or "")
    standin.deployment["spec"]["replicas"] = "three"
    verdict = await backend_for(api, tmp_path).health_verdict()
    assert not verdict.ok and "unexpected answer" in (verdict.error or "")
    assert standin.changes() == []


async def test_an_api_server_that_does_not_answer_is_an_error(tmp_path: Path) -> None:
    standin = KubeApiStandIn()
    config = standin.kubeconfig(tmp_path, f"http://127.0.0.1:{free_port()}")
    spec = KubernetesBackendSpec(
        kind="kubernetes", namespace=NAMESPACE, deployment="checkout", kubeconfig=str(config)
    )
    backend = KubernetesActionBackend(spec, connector(spec, {}, 1.0), (1, 3))
    outcome = await backend.run("scale", {"replicas": 2})
    assert not outcome.ok and not outcome.may_have_run  # never reached a server
    assert not (await backend.catalog()).ok


def test_label_selector_is_kubectls_string() -> None:
    selector = {
        "matchLabels": {"tier": "web", "app": "checkout"},
        "matchExpressions": [
            {"key": "track", "operator": "In", "values": ["stable", "canary"]},
            {"key": "legacy", "operator": "DoesNotExist"},
            {"key": "zone", "operator": "NotIn", "values": ["b", "a"]},
        ],
    }
    assert (
        label_selector(selector) == "app=checkout,!legacy,tier=web,track in (canary,stable),zone notin (a,b)"
    )


def test_every_request_the_backend_sends_is_in_its_permissions() -> None:
    """The Role in deploy/kubernetes is built from PERMISSIONS (tests/deploy checks that side)."""
    assert set(PERMISSIONS) == {
        ("apps", "deployments", "get"),
        ("apps", "deployments", "patch"),
        ("apps", "deployments/scale", "patch"),
        ("apps", "replicasets", "list"),
        ("", "pods", "list"),
        ("", "pods", "delete"),
    }


async def test_the_requests_of_all_four_actions_need_only_those_permissions(api, tmp_path: Path) -> None:
    standin, _ = api
    standin.replica_sets = [
        replica_set("checkout-6c5b9d7f4", "2", "shop/checkout:1.2.0"),
        replica_set("checkout-7d9f8c6b5", "3", "shop/checkout:1.3.0"),
    ]
    standin.pods = [pod("checkout-7d9f8c6b5-abcde", ready=False)]
    backend = backend_for(api, tmp_path)
    for action, params in [
        ("rollout-restart", {}),
        ("rollout-undo", {}),
        ("scale", {"replicas": 3}),
        ("delete-pod", {}),
    ]:
        assert (await backend.run(action, params)).ok, action
    await backend.aclose()
    assert {permission(r) for r in standin.requests} <= set(PERMISSIONS)
    assert UID  # the stand-in's Deployment owns the ReplicaSets listed


def permission(r: Recorded) -> tuple[str, str, str]:
    parts = r.path.strip("/").split("/")
    group = parts[1] if parts[0] == "apis" else ""
    after_namespace = parts[parts.index("namespaces") + 2 :]
    resource = after_namespace[0] + ("/" + after_namespace[2] if len(after_namespace) > 2 else "")
    verb = {"PATCH": "patch", "DELETE": "delete"}.get(r.method) or (
        "get" if len(after_namespace) > 1 else "list"
    )
    return group, resource, verb
