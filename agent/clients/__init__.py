"""Async HTTP clients for what the agent reads and calls: target, Prometheus, action server."""
