"""kubectl's rules, applied to the API's JSON as it comes: the `labelSelector` string of a selector, the
ReplicaSet `rollout undo` goes back to, whether two pod templates are the same, `rollout status`'s verdict;
and the pod `delete-pod` picks. No request here: agent/actions/kubernetes.py sends them."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from agent.actions.backend import HealthVerdict

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"


class Refused(Exception):
    """The action cannot be done as asked; nothing was changed."""


def label_selector(selector: Mapping[str, Any]) -> str:
    """A LabelSelector as the `labelSelector` query kubectl sends (requirements sorted by key)."""
    requirements: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        requirements.append((key, f"{key}={value}"))
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator")
        values = ",".join(sorted(expression.get("values") or []))
        text = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(str(operator))
        if text is None:
            raise Refused(f"unknown selector operator {operator!r}")
        requirements.append((key, text))
    if not requirements:
        raise Refused("the Deployment has an empty selector: it would match every pod")
    return ",".join(text for _, text in sorted(requirements, key=lambda r: r[0]))


def previous_revision(replica_sets: list[dict[str, Any]]) -> tuple[int, dict[str, Any] | None]:
    """The ReplicaSet with the second-highest revision (a missing annotation is revision 0), as kubectl."""
    latest, previous = -1, -1
    latest_rs: dict[str, Any] | None = None
    previous_rs: dict[str, Any] | None = None
    for rs in replica_sets:
        raw = (rs.get("metadata", {}).get("annotations") or {}).get(REVISION, "0")
        try:
            revision = int(raw)
        except ValueError:
            continue
        if revision > latest:
            previous, previous_rs, latest, latest_rs = latest, latest_rs, revision, rs
        elif revision > previous:
            previous, previous_rs = revision, rs
    return previous, previous_rs


def worst_pod(pods: list[dict[str, Any]]) -> dict[str, Any]:
    """Not ready first, then the most container restarts, then the oldest (then by name)."""

    def badness(pod: dict[str, Any]) -> tuple[bool, int, str, str]:
        status = pod.get("status") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
        )
        restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
        metadata = pod.get("metadata") or {}
        return (ready, -restarts, str(metadata.get("creationTimestamp") or ""), str(metadata.get("name")))

    return min(pods, key=badness)


def rollout_verdict(deployment: dict[str, Any]) -> HealthVerdict:
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    wanted = int(spec.get("replicas", 1))
    generation = int(deployment.get("metadata", {}).get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    total = int(status.get("replicas") or 0)
    if observed < generation:
        message = "waiting for the deployment spec update to be observed"
    elif updated < wanted:
        message = f"{updated} of {wanted} new replicas have been updated"
    elif total > updated:
        message = f"{total - updated} old replicas are pending termination"
    elif available < updated:
        message = f"{available} of {updated} updated replicas are available"
    else:
        message = "successfully rolled out"
    healthy = message == "successfully rolled out"
    return HealthVerdict(
        is_healthy=healthy,
        status="healthy" if healthy else "rolling out",
        checks={"rollout": {"status": "ok" if healthy else "failing", "detail": message}},
    )


def controlled_by(obj: dict[str, Any], uid: str | None) -> bool:
    owners = obj.get("metadata", {}).get("ownerReferences") or []
    return uid is not None and any(ref.get("controller") and ref.get("uid") == uid for ref in owners)


def same_template(left: dict[str, Any], right: dict[str, Any]) -> bool:
    """kubectl's equalIgnoreHash on JSON: the pod-template-hash label and empty maps do not count."""

    def normal(template: dict[str, Any]) -> dict[str, Any]:
        template = copy.deepcopy(template)
        metadata = template.setdefault("metadata", {})
        metadata.get("labels", {}).pop(HASH_LABEL, None)
        for key in ("labels", "annotations"):
            if not metadata.get(key):
                metadata.pop(key, None)
        return template

    return normal(left) == normal(right)
