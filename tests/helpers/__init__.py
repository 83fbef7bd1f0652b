"""Helpers shared by more than one test area: stand-ins, the Prometheus/Alertmanager pipeline, the
dashboards' queries. What one area alone uses lives beside its tests (`tests/agent/agent_testkit.py`...)."""
