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
    # SIGWINCH only wakes the loop: the interpreter writes a byte into a pipe the moment
    # the signal arrives, and the loop sends the resize between two sends, never from
    # inside one (a connection in the middle of a send is not reentrant).
    woken, wake = os.pipe()
    os.set_blocking(wake, False)
    previous_wakeup = None

    def resize() -> None:
        size = shutil.get_terminal_size()
        session.resize(size.lines, size.columns)

    if interactive:
        resize()
        previous = signal.signal(signal.SIGWINCH, lambda *_: None)
        previous_wakeup = signal.set_wakeup_fd(wake, warn_on_full_buffer=False)
        tty.setraw(stdin_fd)
    stdin_open = True
    try:
        while True:
            readers = [woken, session, stdin_fd] if stdin_open else [woken, session]
            try:
                ready, _, _ = select.select(readers, [], [])
            except InterruptedError:
                continue
            if woken in ready:  # before the keys typed after it
                os.read(woken, 4096)
                resize()
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
            signal.set_wakeup_fd(previous_wakeup)
            signal.signal(signal.SIGWINCH, previous)
        if saved is not None:
            termios.tcsetattr(stdin_fd, termios.TCSADRAIN, saved)
        os.close(woken)
        os.close(wake)
        session.close()
    return session.exit_code

