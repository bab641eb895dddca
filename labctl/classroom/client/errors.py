"""What the classroom server answered, as a labctl error (exit code from its status)."""

from __future__ import annotations

from labctl.errors import EXIT_INVALID, EXIT_RUNTIME, LabctlError


class ServerError(LabctlError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.exit_code = EXIT_RUNTIME if status >= 500 else EXIT_INVALID


def unreachable(url: str, exc: Exception) -> str:
    """Why a command failed, and the way round a server that is gone (a socket left behind
    by a killed server answers nobody): whoever may use Docker here can go direct."""
    return (f"cannot reach the labctl server at {url}: {exc} (with access to Docker on this "
            "host, go direct: --server local or LABCTL_SERVER=local)")
