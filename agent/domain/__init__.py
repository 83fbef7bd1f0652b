"""The agent's domain: alerts, signals and symptoms, diagnoses, matchers. Imports nothing above it.

Everything the agent knows about a particular service is data (the service catalog, signal packs,
runbooks); these types are the shapes that data fills in.
"""
