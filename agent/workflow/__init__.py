"""The LangGraph incident workflow: gather, diagnose, investigate, plan, [approve], execute, verify, learn."""
