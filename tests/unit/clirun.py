"""Run the command line in this process, as `labctl ARGS...` would from a shell: faster
than a new interpreter per call, with the same exit code, stdout and stderr."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from labctl.cli import entry as cli


@contextlib.contextmanager
def handlers_kept() -> Iterator[None]:
    """A run ignores Ctrl-C once its work is done: the next test gets the handlers back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def labctl(capsys, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `labctl ARGS...`; signal handlers put back after."""
    argv, sys.argv = sys.argv, ["labctl", *args]
    try:
        with handlers_kept(), pytest.raises(SystemExit) as done:
            cli.main()
    finally:
        sys.argv = argv
    out, err = capsys.readouterr()
    return done.value.code, out, err


def as_process(capsys, *args: str) -> SimpleNamespace:
    """`labctl ARGS...` in this process, answered like subprocess.run's result."""
    code, out, err = labctl(capsys, *args)
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)
