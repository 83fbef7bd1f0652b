"""The agent's own telemetry: `sre_agent_*` metrics and incident-scoped logging."""
