"""deploy/kubernetes rendered by `kubectl kustomize` (offline) and checked without a cluster.

Kubernetes' own kinds are validated against the API's JSON schemas in strict mode (unknown fields are
errors) with kubernetes-validate, for the oldest and newest Kubernetes this targets. prometheus-operator's
kinds (PrometheusRule, ServiceMonitor, AlertmanagerConfig) are validated against models generated from
its CRDs' OpenAPI schemas (cloudcoil-models-prometheus-operator, operator v0.80), and must survive the
round trip unchanged, so an unknown field fails too. Then what holds the pieces together: the RBAC is
exactly what the Kubernetes backend sends, every token comes from a Secret, probes and the webhook hit the
agent's real routes, the writable paths are volumes, the generated files are current.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.prometheus_operator import v1 as monitoring_v1
from cloudcoil.models.prometheus_operator import v1alpha1 as monitoring_v1alpha1
from pydantic import SecretStr, ValidationError

from agent.actions.kubernetes import PERMISSIONS
from agent.api.routes.health import router as health_router
from agent.api.routes.webhooks import router as webhooks_router
from agent.catalog.catalog import resolve
from agent.catalog.packs import load_packs
from agent.catalog.services import KubernetesBackendSpec, ServiceEntry
from agent.config import WRITE_TOKENS, Settings

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
KUBECTL = shutil.which("kubectl")
VERSIONS = (
    "1.30",
    "1.37",
)  # the oldest Kubernetes still in support when this was written, the newest schemas
CRDS = {
    "PrometheusRule": monitoring_v1.PrometheusRule,
    "ServiceMonitor": monitoring_v1.ServiceMonitor,
    "AlertmanagerConfig": monitoring_v1alpha1.AlertmanagerConfig,
}
PROVIDER_KEYS = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"}  # read by litellm, not by Settings


def kustomize(folder: Path) -> list[dict[str, Any]]:
    if KUBECTL is None:
        pytest.skip("kubectl is not installed (scripts/install-system-deps installs it)")
    done = subprocess.run(
        [str(KUBECTL), "kustomize", str(folder)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def example() -> list[dict[str, Any]]:
    return kustomize(KUBE / "overlays" / "example")


def one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def validate(obj: dict[str, Any]) -> None:
    """Raises when `obj` does not fit its kind's schema (kubernetes-validate's error, or pydantic's)."""
    model = CRDS.get(obj["kind"])
    if model is not None:
        back = model.model_validate(obj).model_dump(by_alias=True, exclude_unset=True, mode="json")
        if back != obj:
            raise ValueError(f"{obj['kind']}: fields the CRD does not know: {_diff(obj, back)}")
        return
    for version in VERSIONS:
        kubernetes_validate.validate(obj, version, strict=True)


def _diff(given: Any, kept: Any, path: str = "") -> list[str]:
    if isinstance(given, dict) and isinstance(kept, dict):
        return [p for key in given for p in _diff(given[key], kept.get(key), f"{path}.{key}")]
    if isinstance(given, list) and isinstance(kept, list) and len(given) == len(kept):
        return [
            p for i, (a, b) in enumerate(zip(given, kept, strict=True)) for p in _diff(a, b, f"{path}[{i}]")
        ]
    return [] if given == kept else [path or "."]


# ---------------------------------------------------------------------- schemas
@pytest.mark.parametrize("folder", ["base", "workload", "overlays/example"])
def test_every_rendered_manifest_fits_its_schema(folder: str) -> None:
    objects = kustomize(KUBE / folder)
    assert objects
    for obj in objects:
        validate(obj)


def test_the_validators_do_fail_on_a_wrong_manifest(example: list[dict[str, Any]]) -> None:
    deployment = copy.deepcopy(one(example, "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFS"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    deployment = copy.deepcopy(one(example, "Deployment"))
    deployment["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    monitor = copy.deepcopy(one(example, "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    with pytest.raises(ValueError, match=r"\.spec\.endpoints\[0\]\.intervall"):
        validate(monitor)
    route = copy.deepcopy(one(example, "AlertmanagerConfig"))
    route["spec"]["receivers"][0]["webhookConfigs"][0]["httpConfig"]["authorization"]["credentials"] = (
        "a-token"
    )
    with pytest.raises(ValidationError):
        validate(route)


def test_the_generated_manifests_are_current() -> None:
    done = subprocess.run(
        [sys.executable, str(KUBE / "render.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------------- the agent's pod
def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (agent,) = one(objects, "Deployment", "sre-agent")["spec"]["template"]["spec"]["containers"]
    return agent


def env(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container(objects)["env"]}


def test_the_agent_runs_unprivileged_on_a_read_only_root(example: list[dict[str, Any]]) -> None:
    pod = one(example, "Deployment", "sre-agent")["spec"]["template"]["spec"]
    agent = container(example)
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert agent["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert (
        set(agent["resources"]["requests"]) == {"cpu", "memory"} and "memory" in agent["resources"]["limits"]
    )
    assert agent["image"] == "registry.example.com/platform/sre-agent:0.1.0"


def test_every_path_the_agent_writes_is_a_volume(example: list[dict[str, Any]]) -> None:
    mounts = {m["mountPath"]: m for m in container(example)["volumeMounts"]}
    writable = [path for path, m in mounts.items() if not m.get("readOnly")]
    values = {name: item.get("value") for name, item in env(example).items()}
    for name in ("AGENT_DATA_DIR", "VECTOR_STORE_PATH", "PROPOSED_RUNBOOKS_PATH"):
        assert any(Path(values[name]).is_relative_to(path) for path in writable), name
    volumes = {v["name"]: v for v in one(example, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    data = next(m["name"] for path, m in mounts.items() if path == values["AGENT_DATA_DIR"])
    claim = volumes[data]["persistentVolumeClaim"]["claimName"]
    assert one(example, "PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteOnce"]
    deployment = one(example, "Deployment")["spec"]
    assert deployment["replicas"] == 1 and deployment["strategy"] == {"type": "Recreate"}  # one SQLite writer
    assert values["HOST"] == "0.0.0.0" and "/tmp" in writable


def test_every_token_comes_from_a_secret_and_none_may_be_left_open(example: list[dict[str, Any]]) -> None:
    items = env(example)
    secrets = {name for name, field in Settings.model_fields.items() if field.annotation is SecretStr}
    assert secrets >= {"WEBHOOK_TOKEN", "API_TOKEN", "READ_TOKEN", "LLM_API_KEY"}
    for name in secrets | PROVIDER_KEYS:
        ref = items[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "sre-agent-tokens" and ref["key"] == name and "value" not in items[name]
        required = name in {*WRITE_TOKENS, "READ_TOKEN"}
        assert ref.get("optional", False) is not required, name
    assert "ALLOW_UNAUTHENTICATED" not in items  # the agent refuses to start with a write token empty
    unknown = set(items) - set(Settings.model_fields) - PROVIDER_KEYS
    assert not unknown, f"not the agent's settings: {unknown}"


def test_probes_and_scrapes_hit_the_agents_own_routes(example: list[dict[str, Any]]) -> None:
    agent = container(example)
    routes = {route.path for route in [*health_router.routes, *webhooks_router.routes]}
    port_names = {p["name"]: p["containerPort"] for p in agent["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert agent[probe]["httpGet"]["path"] in routes and agent[probe]["httpGet"]["port"] in port_names
        assert agent[probe]["timeoutSeconds"] > 3  # /health waits up to 3 s for a dependency
    assert port_names["http"] == int(env(example)["PORT"]["value"])
    service = one(example, "Service", "sre-agent")
    pod_labels = one(example, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    monitor = one(example, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["spec"]["endpoints"][0]["path"] in routes
    # Prometheus Operator names the job after the Service: what the dashboard's `up` query asks for.
    dashboard = one(example, "ConfigMap", "sre-agent-dashboard-agent")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert f'up{{job=\\"{service["metadata"]["name"]}\\"}}' in dashboard["data"]["agent.json"]
    assert dashboard["data"]["agent.json"] == (ROOT / "grafana" / "dashboards" / "agent.json").read_text()


def test_the_alertmanager_route_reaches_the_webhook_with_the_token(example: list[dict[str, Any]]) -> None:
    route = one(example, "AlertmanagerConfig")
    (hook,) = route["spec"]["receivers"][0]["webhookConfigs"]
    service = one(example, "Service", "sre-agent")
    name, namespace, port = (
        service["metadata"]["name"],
        service["metadata"]["namespace"],
        service["spec"]["ports"][0]["port"],
    )
    assert hook["url"] == f"http://{name}.{namespace}.svc:{port}/webhooks/alertmanager"
    assert "/webhooks/alertmanager" in {r.path for r in webhooks_router.routes}
    assert hook["sendResolved"] is True
    assert hook["httpConfig"]["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "sre-agent-webhook", "key": "token"},
    }
    assert route["metadata"]["namespace"] == "shop"  # the operator routes only this namespace's alerts here
    rule = one(example, "PrometheusRule")
    alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert alerts == ["SREAgentFollowUpOpen", "SREAgentDown"]


# ---------------------------------------------------------------------- RBAC and the catalog
def grants(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_the_role_grants_exactly_what_the_kubernetes_backend_sends(example: list[dict[str, Any]]) -> None:
    assert not [o for o in example if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    role = one(example, "Role")
    assert grants(role) == set(PERMISSIONS)
    for rule in role["rules"]:
        if "deployments" in rule["resources"] or "deployments/scale" in rule["resources"]:
            assert rule["resourceNames"] == ["checkout"]
    binding = one(example, "RoleBinding")
    account = one(example, "ServiceAccount")
    assert binding["metadata"]["namespace"] == role["metadata"]["namespace"] == "shop"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }
    ]
    pod = one(example, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]


def catalog(objects: list[dict[str, Any]]) -> Iterator[ServiceEntry]:
    services = one(objects, "ConfigMap", "sre-agent-services")
    for key, text in services["data"].items():
        entry = ServiceEntry.model_validate(yaml.safe_load(text))
        assert f"{entry.service}.yml" == key  # the agent reads `<service>.yml`
        yield entry


def test_the_catalog_configmap_is_a_valid_catalog_the_rbac_covers(example: list[dict[str, Any]]) -> None:
    entries = list(catalog(example))
    assert [e.service for e in entries] == ["checkout"]
    mounts = {m["name"]: m["mountPath"] for m in container(example)["volumeMounts"]}
    assert mounts["services"] == env(example)["SERVICES_PATH"]["value"]
    role = one(example, "Role")
    for entry in entries:
        resolve(entry, load_packs(), {})  # its packs exist and get the variables they need
        backend = entry.actions.backend
        assert isinstance(backend, KubernetesBackendSpec)
        assert backend.namespace == role["metadata"]["namespace"]
        assert all(
            backend.deployment in rule.get("resourceNames", [backend.deployment]) for rule in role["rules"]
        )


def test_the_catalog_example_in_the_docs_is_the_one_deployed() -> None:
    text = (ROOT / "docs" / "kubernetes.md").read_text()
    deployed = (KUBE / "overlays" / "example" / "agent" / "services" / "checkout.yml").read_text()
    assert deployed.strip() in text


def test_the_docs_explain_every_permission() -> None:
    text = (ROOT / "docs" / "kubernetes.md").read_text()
    for group, resource, verb in PERMISSIONS:
        assert f"`{verb}` `{resource}`" in text, (group, resource, verb)
