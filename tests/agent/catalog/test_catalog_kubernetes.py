"""Catalog entries whose backend is a Kubernetes Deployment: what they may allow, what is an error at
load time (never at the first page), and which backend object the agent builds from them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.actions.http import HttpActionBackend
from agent.actions.kubernetes import KubernetesActionBackend
from agent.actions.registry import ActionBackends, scale_bounds
from agent.catalog.catalog import ServiceCatalog, resolve
from agent.catalog.packs import load_packs
from agent.catalog.services import HttpBackendSpec, KubernetesBackendSpec, ServiceEntry

ROOT = Path(__file__).resolve().parents[3]
BACKEND = {"kind": "kubernetes", "namespace": "shop", "deployment": "checkout"}


def entry(backend: dict[str, Any], allowed: dict[str, Any]) -> ServiceEntry:
    return ServiceEntry.model_validate(
        {
            "service": "checkout",
            "owns": ['service="checkout"'],
            "selector": '{job="checkout"}',
            "actions": {"backend": backend, "allowed": allowed},
        }
    )


def test_the_lab_entries_without_a_kind_are_still_http_backends() -> None:
    catalog = ServiceCatalog(ROOT / "services", [ROOT / "signals"], {})
    catalog.refresh()
    assert catalog.notes == [] and sorted(catalog.services()) == ["target", "worker"]
    assert all(isinstance(s.backend, HttpBackendSpec) for s in catalog.services().values())


def test_a_kubernetes_entry_maps_runbook_actions_to_the_four_it_runs() -> None:
    service = resolve(
        entry(
            {**BACKEND, "kubeconfig": "${KUBE_DIR:-/etc/agent}/kubeconfig"},
            {
                "restart": {"action": "rollout-restart"},
                "rollback-release": {"action": "rollout-undo", "risk": "high"},
                "scale-out": {"action": "scale", "params": {"replicas": {"min": 2, "max": 10}}},
                "scale-in": {"action": "scale", "params": {"replicas": {"min": 1.5, "max": 4}}},
                "delete-pod": {},
            },
        ),
        load_packs(),
        {"KUBE_DIR": "/var/run/kube"},
    )
    assert isinstance(service.backend, KubernetesBackendSpec)
    assert service.backend.kubeconfig == "/var/run/kube/kubeconfig"
    assert service.backend_action("restart") == "rollout-restart"
    assert scale_bounds(service) == (2, 10)  # the span of every action that scales, whole replicas


@pytest.mark.parametrize(
    ("backend", "allowed", "reason"),
    [
        (
            BACKEND,
            {"restart": {}},
            "a kubernetes backend runs rollout-restart, rollout-undo, scale, delete-pod",
        ),
        (BACKEND, {"scale-out": {"action": "scale"}}, "scale needs params.replicas with min >= 0 and max"),
        (BACKEND, {"scale-out": {"action": "scale", "params": {"replicas": {"min": 1}}}}, "scale needs"),
        (
            BACKEND,
            {"scale-out": {"action": "scale", "params": {"replicas": {"min": -1, "max": 3}}}},
            "min >= 0",
        ),
        (
            BACKEND,
            {"restart": {"action": "rollout-restart", "params": {"force": {}}}},
            "takes no parameter force",
        ),
        ({**BACKEND, "namespace": "Shop_1"}, {}, "namespace"),
        ({**BACKEND, "replicas": 3}, {}, "replicas"),
        ({"kind": "nomad", "url": "http://x"}, {}, "'nomad' found using _backend_kind() does not match"),
    ],
)
def test_kubernetes_entries_that_cannot_work_are_refused_at_load(
    backend: dict[str, Any], allowed: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValueError) as caught:
        entry(backend, allowed)
    assert reason in str(caught.value)


async def test_the_registry_builds_one_kubernetes_backend_per_deployment_and_bounds() -> None:
    packs = load_packs()
    small = resolve(
        entry(BACKEND, {"scale-out": {"action": "scale", "params": {"replicas": {"min": 1, "max": 3}}}}),
        packs,
        {},
    )
    large = resolve(
        entry(BACKEND, {"scale-out": {"action": "scale", "params": {"replicas": {"min": 1, "max": 9}}}}),
        packs,
        {},
    )
    http_entry = ServiceEntry.model_validate(
        {
            "service": "orders",
            "owns": ['service="orders"'],
            "selector": '{job="orders"}',
            "actions": {"backend": {"url": "http://a"}},
        }
    )
    async with httpx.AsyncClient() as http:
        backends = ActionBackends(http, {}, 120.0)
        first, again = backends.for_service(small), backends.for_service(small)
        wider = backends.for_service(large)
        assert isinstance(first, KubernetesActionBackend) and first is again
        assert isinstance(wider, KubernetesActionBackend) and wider is not first  # an edited entry's bounds
        assert isinstance(backends.for_service(resolve(http_entry, packs, {})), HttpActionBackend)
        await backends.aclose()  # nothing was connected: closing is a no-op
