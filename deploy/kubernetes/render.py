"""Writes the Kubernetes manifests that come from the repo's own files, so the cluster runs what the lab
tests: the agent's alerts (alerting/rules/sre-agent.rules.yml.j2, production profile) as a PrometheusRule,
its Grafana dashboard (grafana/dashboards/agent.json) as a ConfigMap for Grafana's dashboard sidecar, and
the AlertmanagerConfig that routes a workload namespace's alerts to the agent (the production profile's
timings, the lab receiver's settings).

Run `python deploy/kubernetes/render.py` after changing one of those; `--check` exits 1 when the committed
files are stale (a test runs it). Kustomize cannot read files outside its folder, hence these copies.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout

from deploy.generated_files import write_or_check  # noqa: E402
from lab.runner.monitoring import AGENT_RULES, load_profile, render_rules  # noqa: E402

PROFILE = "production"
NAME = "sre-agent"
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": NAME}
DASHBOARDS = ("agent.json",)  # the lab's own dashboards (target, worker) are about the lab's services
WEBHOOK_URL = "http://sre-agent.sre-agent.svc:9001/webhooks/alertmanager"
BEARER = {"type": "Bearer", "credentials": {"name": "sre-agent-webhook", "key": "token"}}
NOTE = "# Written by deploy/kubernetes/render.py from {source}; do not edit by hand.\n"


def prometheus_rule() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        (path,) = render_rules(load_profile(PROFILE), Path(tmp), services=())
        assert path.stem.startswith(AGENT_RULES)
        rules = yaml.safe_load(path.read_text())
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": NAME, "labels": LABELS},
        "spec": {"groups": rules["groups"]},
    }


def dashboards() -> list[dict[str, Any]]:
    maps = []
    for name in DASHBOARDS:
        text = (ROOT / "grafana" / "dashboards" / name).read_text()
        json.loads(text)  # a broken file fails here, not in Grafana
        maps.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": f"{NAME}-dashboard-{Path(name).stem}",
                    "labels": {**LABELS, "grafana_dashboard": "1"},
                    "annotations": {"grafana_folder": "SRE agent"},
                },
                "data": {name: text},
            }
        )
    return maps


def alertmanager_config() -> dict[str, Any]:
    timing = load_profile(PROFILE).alertmanager
    return {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": {"name": NAME, "labels": LABELS},
        "spec": {
            # The operator adds `namespace="<this namespace>"` to the route: this namespace's alerts only.
            "route": {
                "receiver": NAME,
                "groupBy": ["service"],
                "groupWait": timing.group_wait,
                "groupInterval": timing.group_interval,
                "repeatInterval": timing.repeat_interval,
            },
            "receivers": [
                {
                    "name": NAME,
                    "webhookConfigs": [
                        {
                            "url": WEBHOOK_URL,
                            "sendResolved": True,
                            "maxAlerts": 0,
                            "httpConfig": {"authorization": BEARER},
                        }
                    ],
                }
            ],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (a dashboard's JSON) as literal blocks, readable in a diff."""


_Dumper.add_representer(
    str,
    lambda dumper, text: dumper.represent_scalar(
        "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None
    ),
)


def render() -> dict[str, str]:
    def dump(objects: list[dict[str, Any]], source: str) -> str:
        body = "---\n".join(yaml.dump(o, Dumper=_Dumper, sort_keys=False, width=110) for o in objects)
        return NOTE.format(source=source) + body

    return {
        "base/generated/prometheusrule.yaml": dump(
            [prometheus_rule()], f"alerting/rules/{AGENT_RULES}.rules.yml.j2 ({PROFILE} profile)"
        ),
        "base/generated/grafana-dashboards.yaml": dump(dashboards(), "grafana/dashboards"),
        "workload/generated/alertmanagerconfig.yaml": dump(
            [alertmanager_config()], f"alerting/profiles/{PROFILE}.yml"
        ),
    }


def main(argv: list[str] | None = None) -> int:
    return write_or_check(__file__, (__doc__ or "").splitlines()[0], render, argv)


if __name__ == "__main__":
    sys.exit(main())
