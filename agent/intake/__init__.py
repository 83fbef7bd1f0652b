"""How incidents start: the Alertmanager webhook, a manual trigger, or the agent's own monitor loop."""
