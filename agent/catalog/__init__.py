"""The service catalog and signal packs: everything the agent knows about a service, as data.

`services/*.yml` says which alerts are a service's own, the PromQL selector of its signals, the signal
packs and probes that read them, its action backend and what it may run, its guardrails. Signal packs
(`packs/*.yml` built in, more from SIGNAL_PACKS_PATH) name PromQL signals with units. Code under `agent/`
knows kinds of things, never a particular service.
"""
