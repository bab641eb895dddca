"""Where the CLI's commands go: the Docker engine on this host (local) or a classroom
server (remote). Commands call one Backend and never ask which it is.

    LABCTL_SERVER / --server   unix:///PATH or https://HOST:PORT: that server;
                               `local`: the Docker engine here, whatever else exists (a
                               server's socket left behind by a killed server, a login)
    neither                    the URL `labctl login` stored, else the local server's
                               socket (/run/labctl/labctl.sock) when it exists, else Docker
"""

from __future__ import annotations

import os

from labctl.classroom.server import config as server_config
from labctl.cli.backends import credentials
from labctl.cli.backends.base import Backend, Progress
from labctl.cli.exit_path import state

__all__ = ["LOCAL", "Backend", "Progress", "chosen", "select"]

LOCAL = "local"  # --server local / LABCTL_SERVER=local: straight to the engine here


def chosen() -> Backend:
    """Where this run's commands go (--server, else as select() finds it)."""
    return select(state["server"])


def select(server: str | None = None) -> Backend:
    url = server or os.environ.get("LABCTL_SERVER") or None
    stored = credentials.load()
    if url is None and stored is not None:
        url = stored.url
    if url is None and server_config.DEFAULT_SOCKET.is_socket():
        url = f"unix://{server_config.DEFAULT_SOCKET}"
    if url is None or url.strip().lower() == LOCAL:
        from labctl.cli.backends.local import LocalBackend  # noqa: PLC0415 - lazy: one backend per command
        return LocalBackend()
    from labctl.cli.backends.remote import RemoteBackend  # noqa: PLC0415 - lazy: one backend per command (HTTP client)
    token = os.environ.get("LABCTL_TOKEN") or None
    verify: bool | str = True
    if stored is not None and stored.url == url:
        token = token or stored.token
        verify = stored.ca or True
    return RemoteBackend(url, token, verify)
