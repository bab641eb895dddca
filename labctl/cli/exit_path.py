"""One exit path for every command: errors become one line and an exit code, never a
traceback; Ctrl-C and SIGTERM take the same clean-up path; a late signal cannot turn a
finished command into a kill. `state` is what this run learnt of itself."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Callable

from labctl.errors import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_RUNTIME,
    LabctlError,
    LabInvalid,
    NodeStopped,
)
from labctl.terminal_text import printable

# What this run learnt of itself: --debug / LABCTL_DEBUG, the command (for "node ...
# stopped during check"), the classroom server to go through (--server / LABCTL_SERVER).
state: dict = {"debug": False, "command": "", "server": None}


def run(call: Callable[[], int | None], command: str = "") -> None:
    """Run a command and exit with its code; errors become one line, never a traceback."""
    # SIGTERM takes the same clean-up path as Ctrl-C.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    state.update(debug=bool(os.environ.get("LABCTL_DEBUG")), command=command,
                 server=os.environ.get("LABCTL_SERVER") or None)
    try:
        code = call()
    except (KeyboardInterrupt, EOFError):
        sys.stderr.write("labctl: interrupted\n")
        code = EXIT_INTERRUPTED
    except BrokenPipeError:  # `labctl up LAB | head -1`: the reader left; say nothing more
        quiet_broken_pipe()
        code = 1
    except LabctlError as exc:
        if isinstance(exc, NodeStopped) and not exc.during:
            exc.during = state["command"]
        if state["debug"]:
            traceback.print_exc()
        sys.stderr.write(printable(f"labctl: error: {exc}\n" if not isinstance(exc, LabInvalid)
                                   else f"{exc}\n"))
        code = exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the user gets one line, never a traceback
        if state["debug"]:
            raise
        code = _unexpected(exc)
    # The work is done (or undone): a signal now must not turn the outcome into a kill.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def quiet_broken_pipe() -> None:
    """The reader went away (`labctl trace | head -1`): stop writing, print nothing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):  # no file behind stdout (an embedding)
        os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _raise_interrupt(signum, _frame):
    raise KeyboardInterrupt


def _unexpected(exc: Exception) -> int:
    # Runtimes turn their engine's errors into labctl errors: anything else is a bug,
    # but a file the user named and may not read (or write) is the user's to fix.
    if isinstance(exc, OSError) and exc.filename is not None and not isinstance(
            exc, ConnectionError):
        sys.stderr.write(printable(f"labctl: error: cannot open {exc.filename}: "
                                   f"{exc.strerror or exc}") + "\n")
        return EXIT_INVALID
    sys.stderr.write(f"labctl: internal error: {type(exc).__name__}: {exc} "
                     "(run with --debug for a traceback)\n")
    return EXIT_RUNTIME
