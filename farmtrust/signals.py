"""Clean shutdown on Ctrl-C (SIGINT) and SIGTERM for long-running commands."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable


def shutdown_event() -> threading.Event:
    """Return an event that is set on SIGINT or SIGTERM (handlers installed in the main thread)."""
    event = threading.Event()

    def _handler(signum: int, frame: object) -> None:
        event.set()

    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    return event


def wait_for_shutdown(
    event: threading.Event | None = None, *, tick: Callable[[], None] | None = None, interval_s: float = 1.0
) -> None:
    """Block until SIGINT or SIGTERM (or ``event``), calling ``tick`` every ``interval_s`` seconds if given.

    Create ``event`` with :func:`shutdown_event` before announcing readiness, so that a signal sent
    right after the announcement is not lost.
    """
    event = event or shutdown_event()
    while not event.wait(interval_s):
        if tick is not None:
            tick()
