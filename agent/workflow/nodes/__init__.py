"""One module per workflow node; each `async def node(state, config, *, deps) -> dict` of what changed."""
