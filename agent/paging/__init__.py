"""Where the people are: what the agent hands them goes back through Alertmanager, so their routes,
receivers, silences and inhibitions apply to it as to any page.

- `alerts`: what the agent's own alerts say (`SREAgentEscalated`, `SREAgentApprovalNeeded`): labels
  people route on, annotations they read, links that open.
- `delivery`: posting them, again while they hold, resolving them when they stop; never in the way of
  the workflow.
- `silences`: the silence the agent may hold on an incident's alerts while it verifies a fix.
"""
