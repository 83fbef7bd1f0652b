"""Async HTTP clients for what the agent reads and calls: Prometheus, Alertmanager, HTTP services."""
