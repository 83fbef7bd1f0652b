"""What stops the agent from doing harm: kill switch, budgets, cooldowns, risk and modes, circuit breakers."""
