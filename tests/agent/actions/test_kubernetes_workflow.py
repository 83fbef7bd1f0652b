"""A catalog entry with a Kubernetes backend, through the agent's whole workflow: the same guardrails,
approvals and action log as an HTTP action server, with the requests arriving at a stand-in API server.

The verification side (PromQL, ALERTS) is the lab's Prometheus stand-in, told the service is healthy
once the stand-in API server has been changed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from agent.actions.kubernetes import KubernetesActionBackend
from agent.catalog.catalog import ServiceCatalog
from agent.catalog.services import ServiceEntry
from agent.composition import Parts, build_runtime
from agent.intake.alertmanager import Alert
from agent.runtime import AgentRuntime
from agent.workflow.nodes.approve import ApprovalDecision

from ..agent_testkit import Lab, LabUrls, ServedApp, agent_settings, standin_reasoning, standin_runbook
from .kube_api_standin import NAMESPACE, KubeApiStandIn, replica_set

ALERT = "CheckoutErrorsAfterRelease"


@pytest.fixture
def kube(serve: Callable[[FastAPI], ServedApp]) -> Iterator[tuple[KubeApiStandIn, str]]:
    standin = KubeApiStandIn()
    standin.replica_sets = [
        replica_set("checkout-6c5b9d7f4", "2", "shop/checkout:1.2.0"),
        replica_set("checkout-7d9f8c6b5", "3", "shop/checkout:1.3.0"),
    ]
    yield standin, serve(standin.app()).url


def checkout(kubeconfig: Path) -> ServiceEntry:
    return ServiceEntry.model_validate(
        {
            "service": "checkout",
            "owns": ['service="checkout"'],
            "selector": '{job="checkout"}',
            "actions": {
                "backend": {
                    "kind": "kubernetes",
                    "namespace": NAMESPACE,
                    "deployment": "checkout",
                    "kubeconfig": "${CHECKOUT_KUBECONFIG}",
                },
                "allowed": {
                    "rollback-release": {"action": "rollout-undo", "risk": "high"},
                    "scale-out": {"action": "scale", "params": {"replicas": {"min": 2, "max": 8}}},
                },
            },
        }
    )


@contextlib.asynccontextmanager
async def agent(
    tmp_path: Path, lab_urls: LabUrls, kubeconfig: Path, actions: list[dict[str, Any]], **settings: Any
) -> AsyncIterator[AgentRuntime]:
    env = {"CHECKOUT_KUBECONFIG": str(kubeconfig)}
    runbook = standin_runbook("bad-release", ALERT, actions)
    parts = Parts(
        reasoning=standin_reasoning(),
        runbooks=[runbook],
        catalog=ServiceCatalog.of([checkout(kubeconfig)], env=env),
        env=env,
        background=False,
        recover=False,
    )
    async with build_runtime(agent_settings(tmp_path, lab_urls, **settings), parts) as runtime:
        yield runtime


async def page(runtime: AgentRuntime) -> str:
    alert = Alert.model_validate(
        {
            "status": "firing",
            "labels": {"alertname": ALERT, "service": "checkout", "severity": "critical"},
            "annotations": {"summary": "errors since the last release"},
            "startsAt": "2026-12-03T09:00:00Z",
            "fingerprint": "fp-checkout",
        }
    )
    opened = await runtime.correlator.open_or_merge(
        "alertmanager", "checkout", '{}:{service="checkout"}', [alert]
    )
    assert opened.incident_id is not None
    return opened.incident_id


def heal_on_change(lab: Lab) -> Callable[[Any], None]:
    lab.firing = lambda: [] if lab.healthy else [ALERT]

    def heal(_: Any) -> None:
        lab.healthy = True

    return heal


async def test_a_rollback_waits_for_approval_then_runs_through_the_kubernetes_api(
    tmp_path: Path, lab: Lab, lab_urls: LabUrls, kube: tuple[KubeApiStandIn, str]
) -> None:
    standin, url = kube
    standin.on_change = heal_on_change(lab)
    kubeconfig = standin.kubeconfig(tmp_path, url)
    async with agent(
        tmp_path, lab_urls, kubeconfig, [{"action": "rollback-release", "risk": "medium"}]
    ) as runtime:
        assert isinstance(runtime.deps.backend(runtime.catalog.get("checkout")), KubernetesActionBackend)
        incident_id = await page(runtime)
        await runtime.runner.wait(incident_id)
        # The catalog raises the risk to high: approval first, and nothing changed in the cluster yet.
        assert (await runtime.store.get(incident_id)).status == "awaiting_approval"
        assert standin.changes() == []

        await runtime.runner.decide(incident_id, ApprovalDecision(approved=True, by="alice"))
        await runtime.runner.wait(incident_id)
        incident = await runtime.store.get(incident_id)
        assert incident.status == "resolved", incident.timeline
        assert [(a.action, a.status) for a in incident.actions] == [("rollout-undo", "succeeded")]
        (patch,) = standin.changes()
        assert patch.content_type == "application/json-patch+json" and patch.path.endswith(
            "/deployments/checkout"
        )
        assert (
            runtime.registry.get_sample_value(
                "sre_agent_actions_total",
                {"service": "checkout", "action": "rollout-undo", "result": "succeeded"},
            )
            == 1
        )
        assert [name for _, name, _ in await runtime.store.actions_in_last(3600, service="checkout")] == [
            "rollout-undo"
        ]


async def test_the_kill_switch_holds_for_kubernetes_too(
    tmp_path: Path, lab: Lab, lab_urls: LabUrls, kube: tuple[KubeApiStandIn, str]
) -> None:
    standin, url = kube
    kubeconfig = standin.kubeconfig(tmp_path, url)
    async with agent(
        tmp_path, lab_urls, kubeconfig, [{"action": "rollback-release", "risk": "medium"}]
    ) as runtime:
        await runtime.kill_switch.set(True)
        incident_id = await page(runtime)
        await runtime.runner.wait(incident_id)
        assert (await runtime.store.get(incident_id)).status == "escalated"
        assert standin.changes() == []


async def test_a_scale_beyond_the_catalog_bounds_is_clamped_before_the_request(
    tmp_path: Path, lab: Lab, lab_urls: LabUrls, kube: tuple[KubeApiStandIn, str]
) -> None:
    standin, url = kube
    standin.on_change = heal_on_change(lab)
    kubeconfig = standin.kubeconfig(tmp_path, url)
    scale = [{"action": "scale-out", "params": {"replicas": 50}, "risk": "low"}]
    async with agent(tmp_path, lab_urls, kubeconfig, scale) as runtime:
        incident_id = await page(runtime)
        await runtime.runner.wait(incident_id)
        incident = await runtime.store.get(incident_id)
        assert incident.status == "resolved", incident.timeline
        (patch,) = standin.changes()
        assert patch.path.endswith("/deployments/checkout/scale") and patch.body == {"spec": {"replicas": 8}}
        assert "replicas=50 clamped to 8" in str(incident.timeline)
