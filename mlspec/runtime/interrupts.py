"""SIGTERM handled as Ctrl-C, for the commands that start children and write secrets to disk.

``kill``, systemd, CI cancellation and ``docker stop`` send SIGTERM, whose default action ends the
process at once: no ``finally``, no ``atexit``, so a scoring server would keep running and its
secret files would stay in the temporary folder. Raising ``KeyboardInterrupt`` instead runs the
same clean-up as Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``KeyboardInterrupt`` in the main thread (elsewhere: no change)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    interrupted = False

    def interrupt(signum: int, frame: Any) -> None:
        # Once only: a second SIGTERM (``timeout`` and ``pkill`` together, a supervisor that sends
        # it twice) must not break off the clean-up the first one started.
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
