"""One exception tree for labctl, each branch mapped to a documented exit code."""

from __future__ import annotations

# Exit codes (documented in README.md).
EXIT_OK = 0
EXIT_FAILED = 1  # a check or a command in the lab failed
EXIT_INVALID = 2  # bad input: invalid lab file, unknown lab or node, bad option
EXIT_RUNTIME = 3  # the container engine failed or is unreachable
EXIT_INTERRUPTED = 130


class LabctlError(Exception):
    """Root of every error labctl reports to a user."""

    exit_code = EXIT_RUNTIME


class InvalidInput(LabctlError):
    exit_code = EXIT_INVALID


class LabNotFound(InvalidInput):
    pass


class LabInvalid(InvalidInput):
    """A lab file failed validation; carries every problem found, located."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class NotRunning(InvalidInput):
    pass


class RuntimeFailure(LabctlError):
    exit_code = EXIT_RUNTIME


class EngineUnavailable(RuntimeFailure):
    pass


class ImageBuildFailed(RuntimeFailure):
    pass


class NodeFailed(RuntimeFailure):
    """A node did not become ready: its service exited or never listened."""


class Problem:
    """One located problem in a lab file: `file:line: path.to.key: message`."""

    __slots__ = ("file", "line", "path", "message")

    def __init__(self, file: str, line: int, path: str, message: str):
        self.file, self.line, self.path, self.message = file, line, path, message

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def __repr__(self) -> str:
        return f"Problem({str(self)!r})"
