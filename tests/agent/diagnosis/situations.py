"""Moved to `lab/bench/situations.py`, which the knowledge bench runs too; kept so `from situations import`
in tests written before the move still works."""

from lab.bench.situations import *  # noqa: F403
