"""Child processes of the lab that cannot outlive the process that started them."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """`preexec_fn` for lab children: the kernel sends SIGTERM when the parent dies, even by SIGKILL.

    Without it a killed runner leaves the whole lab holding its ports. Linux only; a no-op elsewhere.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def exit_soon(code: int, delay_seconds: float = 0.2) -> None:
    """Ends this process with `code` after `delay_seconds`, no cleanup, as a crash would.

    The delay lets an HTTP answer already handed to the server reach its client first.
    """
    threading.Timer(delay_seconds, os._exit, [code]).start()
