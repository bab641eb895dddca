"""The `labctl` command: one exit path for every command, and a short way in for the two
a class runs most.

Typer builds a pydantic validator for each option of the command it runs (and imports
pydantic for it): a tenth of a second on every `labctl down`, as long as the engine takes
to remove a lab. So `labctl up LAB` and `labctl down LAB`, with at most `-i NAME`, go
straight to the same code the full command line calls (labctl.lifecycle); any other
form — another option, --help, a completion request — goes through Typer (labctl.cli).
tests/unit/test_launch.py holds both ways to the same calls.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable

from labctl.errors import EXIT_INTERRUPTED, EXIT_OK, LabctlError, LabInvalid, NodeStopped

# What this run learnt of itself: --debug / LABCTL_DEBUG, the command (for "node ...
# stopped during check"), the classroom server to go through (--server / LABCTL_SERVER).
state: dict = {"debug": False, "command": "", "server": None}


def quick(argv: list[str]) -> tuple[str, str, str | None] | None:
    """(command, lab, instance) when argv is `up|down LAB [-i NAME]`; None otherwise."""
    if len(argv) not in (2, 3, 4) or argv[0] not in ("up", "down"):
        return None
    if any(key.endswith("_COMPLETE") for key in os.environ):  # shell completion at work
        return None
    command, lab, rest = argv[0], argv[1], argv[2:]
    instance = None
    if len(rest) == 1 and rest[0].startswith("--instance="):
        instance = rest[0].removeprefix("--instance=")
    elif len(rest) == 2 and rest[0] in ("-i", "--instance"):
        instance = rest[1]
    elif rest:
        return None
    if lab.startswith("-") or (instance is not None and instance.startswith("-")):
        return None
    if instance is None:  # as Typer reads an option's environment variable
        instance = os.environ.get("LABCTL_INSTANCE") or None
    return command, lab, instance


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
            import traceback
            traceback.print_exc()
        from labctl.console import printable  # a message may quote what a node printed
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
    from labctl.errors import EXIT_INVALID, EXIT_RUNTIME
    if isinstance(exc, OSError) and exc.filename is not None and not isinstance(
            exc, ConnectionError):
        from labctl.console import printable
        sys.stderr.write(printable(f"labctl: error: cannot open {exc.filename}: "
                                   f"{exc.strerror or exc}") + "\n")
        return EXIT_INVALID
    sys.stderr.write(f"labctl: internal error: {type(exc).__name__}: {exc} "
                     "(run with --debug for a traceback)\n")
    return EXIT_RUNTIME


def main() -> None:
    argv = sys.argv[1:]
    short = quick(argv)
    if short is None:
        from labctl import cli
        cli.main()
        return
    command, lab, instance = short

    def call() -> None:
        from labctl import lifecycle
        if command == "up":
            lifecycle.up(lab, instance)
        else:
            lifecycle.down(lab, instance)
    run(call, command)


if __name__ == "__main__":  # python -m labctl.launch: the module's state, not __main__'s
    from labctl import launch
    launch.main()
