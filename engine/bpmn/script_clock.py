"""The CPU time a script has spent: its thread's CPU time less the garbage collector's.

A collection runs in whichever thread allocates when a threshold is crossed and sweeps every object
of the process: with a large heap (a long instance, a busy server) it can take longer than a
script's whole time limit, and counting it would stop a trivial script for work it did not do.
"""

from __future__ import annotations

import gc
import threading
import time

_STATE = threading.local()


def _collected(phase: str, _info: dict) -> None:
    if phase == "start":
        _STATE.started = time.thread_time()
        return
    started = getattr(_STATE, "started", None)
    if started is not None:
        _STATE.collecting = getattr(_STATE, "collecting", 0.0) + time.thread_time() - started
        _STATE.started = None


def watch_collections() -> None:
    """Start counting the collector's time (once per process; called when a script engine is made)."""
    if _collected not in gc.callbacks:
        gc.callbacks.append(_collected)


def script_cpu() -> float:
    """This thread's CPU seconds, less those the garbage collector spent in it."""
    return time.thread_time() - getattr(_STATE, "collecting", 0.0)
