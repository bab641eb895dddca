"""What the classroom server answered, as a labctl error (exit code from its status)."""

from __future__ import annotations

from labctl.errors import EXIT_INVALID, EXIT_RUNTIME, LabctlError


class ServerError(LabctlError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.exit_code = EXIT_RUNTIME if status >= 500 else EXIT_INVALID
