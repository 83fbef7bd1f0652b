"""The agent's HTTP API: thin routers over the runtime the app factory builds."""
