"""One exception tree for labctl, each branch mapped to a documented exit code."""

from __future__ import annotations

import contextvars

# Exit codes (documented in README.md).
EXIT_OK = 0
EXIT_FAILED = 1  # a check or a command in the lab failed
EXIT_INVALID = 2  # bad input: invalid lab file, unknown lab or node, bad option
EXIT_RUNTIME = 3  # the container engine failed or is unreachable
EXIT_DAMAGED = 4  # trace: a capture was damaged or cut short; what was sound was shown
EXIT_INTERRUPTED = 130


# Set by the classroom server for a student's request (and what it runs in threads):
# errors then read as their `redacted` message, which names nobody else on the host.
for_a_student: contextvars.ContextVar[bool] = contextvars.ContextVar("for_a_student",
                                                                    default=False)


class LabctlError(Exception):
    """Root of every error labctl reports to a user."""

    exit_code = EXIT_RUNTIME
    # The message for a caller who may not learn who else uses the host (a student of
    # the classroom server); None: the message names nobody else.
    redacted: str | None = None

    def __str__(self) -> str:
        if self.redacted is not None and for_a_student.get():
            return self.redacted
        return super().__str__()


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


class LabBusy(InvalidInput):
    """`test` (verify, pytest) was asked to use an instance of a lab that is already up:
    it would take down a lab it did not bring up."""

    def __init__(self, lab: str, instance: str):
        super().__init__(
            f"{lab} is already up as instance '{instance}': labctl test brings up its own copy "
            f"and takes it down after, so it leaves yours alone. Check the running lab with "
            f"`labctl check {lab} --instance {instance}`, or test a fresh copy with "
            f"`labctl test {lab} --instance <another name>`.")


class RuntimeFailure(LabctlError):
    exit_code = EXIT_RUNTIME


class FileRefused(RuntimeFailure):
    """A node's file labctl will not read: not a regular file (a FIFO would never end)
    or over the size it reads."""

    exit_code = EXIT_INVALID


class FileTooBig(FileRefused):
    """A node's file over the size labctl reads."""


class EngineUnavailable(RuntimeFailure):
    pass


class NetworkInUse(RuntimeFailure):
    """A network still has nodes on it (one attached after its lab's nodes were listed)."""


class EngineError(RuntimeFailure):
    """The container engine refused a call: its HTTP status and its own explanation."""

    def __init__(self, status: int, explanation: str, call: str = ""):
        self.status, self.explanation, self.call = status, explanation, call
        super().__init__(explanation or f"{status} {call}".strip())


class EngineNotFound(EngineError):
    """The engine has no such container, network, image or exec (HTTP 404)."""


class EngineConflict(EngineError):
    """The engine cannot do it in the object's state (HTTP 409: not running, a removal
    already under way, a name taken)."""


class SubnetTaken(RuntimeFailure):
    """A subnet a lab network asked for overlaps one the host already holds."""

    def __init__(self, subnet: str, held: str, holder: str):
        self.subnet, self.held, self.holder = subnet, held, holder
        super().__init__(f"{subnet} overlaps {held} held by {holder}")
        # The holder's name says whose lab it is (labctl.<instance>.<lab>.<network>).
        self.redacted = f"{subnet} overlaps {held}, which is already taken on this host"


class ImageMissing(InvalidInput):
    """A lab names an image the host does not have (there is no registry to pull from)."""


class ImageBuildFailed(RuntimeFailure):
    pass


class NodeFailed(RuntimeFailure):
    """A node did not become ready: its service exited or never listened."""


def repair_hint(lab: str, instance: str) -> str:
    return f"`labctl up {lab} -i {instance}` repairs it"


class NodeStopped(NotRunning, RuntimeFailure):
    """A node stopped or was removed while a command used it (`during`: which command).

    Not bad input (exit 3): the lab was there, and the runtime lost part of it.
    """

    exit_code = EXIT_RUNTIME

    def __init__(self, lab: str, instance: str, node: str, during: str = ""):
        self.lab, self.instance, self.node, self.during = lab, instance, node, during
        super().__init__(lab, instance, node)

    def __str__(self) -> str:
        during = f" during {self.during}" if self.during else ""
        return (f"node {self.node} of {self.lab} (instance {self.instance}) stopped{during}: "
                f"{repair_hint(self.lab, self.instance)}")


class LabRemoved(RuntimeFailure):
    """A concurrent `down` removed the lab an `up` was bringing up."""

    def __init__(self, lab: str, instance: str):
        self.lab, self.instance = lab, instance
        super().__init__(f"{lab} (instance {instance}) was removed by a concurrent down")


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
