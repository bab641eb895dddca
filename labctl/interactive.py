"""An interactive shell in a node through the engine API (no docker CLI needed)."""

from __future__ import annotations

import os
import select
import shutil
import sys
import termios
import tty

from labctl.runtime import DockerRuntime


def _raw_socket(sock):
    # docker returns a SocketIO wrapper on unix sockets; select needs the socket.
    return getattr(sock, "_sock", sock)


def shell(runtime: DockerRuntime, container: str) -> int:
    exec_id, wrapped = runtime.exec_socket(
        container, ["/bin/bash", "-i"], tty=True)
    sock = _raw_socket(wrapped)
    stdin_fd = sys.stdin.fileno()
    interactive = os.isatty(stdin_fd)
    saved = termios.tcgetattr(stdin_fd) if interactive else None
    if interactive:
        size = shutil.get_terminal_size()
        runtime.resize_exec(exec_id, size.lines, size.columns)
        tty.setraw(stdin_fd)
    stdin_open = True
    try:
        while True:
            readers = [sock, stdin_fd] if stdin_open else [sock]
            ready, _, _ = select.select(readers, [], [])
            if sock in ready:
                data = sock.recv(65536)
                if not data:
                    break
                os.write(sys.stdout.fileno(), data)
            if stdin_fd in ready:
                data = os.read(stdin_fd, 65536)
                if data:
                    sock.sendall(data)
                else:
                    stdin_open = False  # piped input ended; let the shell finish
                    sock.sendall(b"\x04")
    finally:
        if saved is not None:
            termios.tcsetattr(stdin_fd, termios.TCSADRAIN, saved)
        wrapped.close()
    return runtime.exec_exit_code(exec_id)
