"""Steady mixed traffic against the target, with a small control API (port 8002)."""
