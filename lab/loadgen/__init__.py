"""Steady traffic: orders for the target, jobs for the queue worker; a small control API (port 8002)."""
