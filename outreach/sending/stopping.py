"""Stopping gracefully: the first SIGTERM/SIGINT asks the sending loop to stop claiming;
the batch in flight is finished and recorded, so a deploy restart leaves nothing ``unknown``.
A second signal exits at once (those rows then follow the crash path: lease, ``unknown``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)

_requested = threading.Event()


def requested() -> bool:
    """True once a stop was asked for: claim nothing more."""
    return _requested.is_set()


def request() -> None:
    """Ask every sending lane of this process to stop after its batch."""
    _requested.set()


def clear() -> None:
    """Forget an earlier stop request (a new run starts)."""
    _requested.clear()


def wait(timeout: float | None = None) -> bool:
    """Block until a stop is requested (or ``timeout``); True when it was."""
    return _requested.wait(timeout)


@contextlib.contextmanager
def on_signals(announce: Callable[[str], Any] | None = None) -> Iterator[None]:
    """While inside: the first SIGTERM/SIGINT requests a stop, a second one exits at once.

    Only the main thread may install signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    clear()

    def handle(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if requested():
            log.warning("%s again: exiting now; rows in flight follow the crash path", name)
            os._exit(128 + signum)
        request()
        message = f"{name}: finishing the batch in flight, then stopping (again to exit now)"
        log.warning(message)
        if announce:
            announce(message)

    previous = {sig: signal.signal(sig, handle) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        clear()
