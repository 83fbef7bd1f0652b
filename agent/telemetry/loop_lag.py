"""How late the event loop runs what is due: the one number that says whether anything (a blocking call,
a long CPU-bound step, a full garbage collection) holds up the webhook, the API and every workflow.

A task sleeps a fixed interval and records how much later than asked it woke: on an idle loop well
under a millisecond, on a blocked loop as long as the block. It samples, so a block shorter than the
interval may fall between two looks; every block longer than the interval is seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def watch_event_loop_lag(observe: Callable[[float], None], interval: float) -> None:
    """Observe each wake-up's lateness, in seconds, until cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time() + interval
        await asyncio.sleep(interval)
        observe(max(0.0, loop.time() - asked))  # the loop may wake a hair early (its clock's resolution)
