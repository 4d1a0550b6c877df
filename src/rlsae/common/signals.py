"""Ctrl-C and `kill` as a flag a long loop checks between steps."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class StopFlag:
    """Set by SIGINT/SIGTERM inside :func:`stop_requested`, instead of raising mid-computation."""

    def __init__(self) -> None:
        self.set = False


@contextlib.contextmanager
def stop_requested() -> Iterator[StopFlag]:
    """Turn Ctrl-C and `kill` into a flag the loop checks between steps, so the state it saves is whole.

    Outside the main thread (where handlers cannot be installed) it yields a flag that is never set.
    """
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(_signum: int, _frame: object) -> None:
        flag.set = True

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
