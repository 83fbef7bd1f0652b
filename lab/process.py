"""Child processes of the lab that cannot outlive the process that started them."""

from __future__ import annotations

import ctypes
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """`preexec_fn` for lab children: the kernel sends SIGTERM when the parent dies, even by SIGKILL.

    Without it a killed runner leaves the whole lab holding its ports. Linux only; a no-op elsewhere.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
