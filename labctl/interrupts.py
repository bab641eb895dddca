"""Clean-up that a second Ctrl-C cannot interrupt."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Hold off SIGINT/SIGTERM while cleaning up, so a second Ctrl-C cannot leak; a
    signal that came meanwhile is acted on when the block ends.

    The handlers are swapped, not the signal mask: blocking a signal in the main thread
    only sends it to another thread, and Python still raises KeyboardInterrupt in the
    main one at its next instruction (a thread pool's submit() interrupted half-way
    leaves a worker that nobody waits for).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: came.append(signum))
                for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if came:
            _deliver(came[0], previous[came[0]])


def _deliver(signum: int, handler) -> None:
    """What the signal would have done had it come after the block."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signum)
