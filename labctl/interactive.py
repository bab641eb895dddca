"""An interactive shell in a node through the runtime (no docker CLI needed)."""

from __future__ import annotations

import os
import select
import shutil
import signal
import sys
import termios
import tty

from labctl.runtime import Runtime, Session


def shell(runtime: Runtime, container: str) -> int:
    return run_session(runtime.open_session(container, ["/bin/bash", "-i"], tty=True))


def run_session(session: Session) -> int:
    """Connect the terminal to the session until it ends; its exit code."""
    stdin_fd = sys.stdin.fileno()
    interactive = os.isatty(stdin_fd)
    saved = termios.tcgetattr(stdin_fd) if interactive else None
    previous = None
    if interactive:
        def resized(_signum=None, _frame=None) -> None:
            size = shutil.get_terminal_size()
            session.resize(size.lines, size.columns)

        resized()
        previous = signal.signal(signal.SIGWINCH, resized)  # the window's size follows
        tty.setraw(stdin_fd)
    stdin_open = True
    try:
        while True:
            readers = [session, stdin_fd] if stdin_open else [session]
            try:
                ready, _, _ = select.select(readers, [], [])
            except InterruptedError:
                continue
            if session in ready:
                data = session.recv(65536)
                if not data:
                    break
                os.write(sys.stdout.fileno(), data)
            if stdin_fd in ready:
                data = os.read(stdin_fd, 65536)
                if data:
                    session.send(data)
                else:
                    stdin_open = False  # piped input ended; let the shell finish
                    session.send(b"\x04")
    finally:
        if previous is not None:
            signal.signal(signal.SIGWINCH, previous)
        if saved is not None:
            termios.tcsetattr(stdin_fd, termios.TCSADRAIN, saved)
        session.close()
    return session.exit_code
