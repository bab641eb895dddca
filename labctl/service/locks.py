"""One `up` of a lab instance at a time, across processes and users of this host.

An `up` holds an exclusive flock(2) on a file named after the lab instance
in a shared, sticky directory. The kernel releases it when the holder exits,
however it exits (SIGKILL included), so a dead `up` never blocks the next.
A second `up` of the same instance waits, then finds the lab already up.

A `down` does not wait for an `up`: it holds a shared lock on a second file
while it removes, so an `up` that fails meanwhile can tell the user why.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

# /run/lock is world-writable and sticky on Debian and most Linux systems: every
# user's labctl finds the same files there. LABCTL_LOCK_DIR overrides it.
SHARED_LOCK_ROOT = Path("/run/lock")


def lock_dir() -> Path:
    explicit = os.environ.get("LABCTL_LOCK_DIR")
    if explicit:
        return Path(explicit)
    root = SHARED_LOCK_ROOT if os.access(SHARED_LOCK_ROOT, os.W_OK) else Path(
        tempfile.gettempdir())
    return root / "labctl"


def _open(path: Path) -> int | None:
    """The lock file's descriptor, shared with other users (None: nowhere to lock)."""
    try:
        path.parent.mkdir(mode=0o1777, exist_ok=True)
        with contextlib.suppress(OSError):  # only its creator may (umask took bits away)
            if path.parent.stat().st_uid == os.getuid():
                path.parent.chmod(0o1777)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:
        try:  # another user's file: a read-only descriptor locks just as well
            return os.open(path, os.O_RDONLY)
        except OSError:
            return None
    except OSError:
        return None
    with contextlib.suppress(OSError):
        if os.fstat(fd).st_uid == os.getuid():
            os.fchmod(fd, 0o666)
    return fd


@contextlib.contextmanager
def _locked(path: Path, how: int) -> Iterator[bool]:
    """Lock `path` (flock `how`); yields whether it was locked (False: it was held)."""
    fd = _open(path)
    if fd is None:
        yield True
        return
    try:
        try:
            fcntl.flock(fd, how)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


@contextlib.contextmanager
def removing(lab: str, instance: str) -> Iterator[None]:
    """Held by a `down` of the lab instance while it removes."""
    with _locked(lock_dir() / f"{instance}.{lab}.down", fcntl.LOCK_SH):
        yield


def being_removed(lab: str, instance: str) -> bool:
    """Whether a `down` of the lab instance is removing it right now."""
    with _locked(lock_dir() / f"{instance}.{lab}.down", fcntl.LOCK_EX | fcntl.LOCK_NB) as free:
        return not free


@contextlib.contextmanager
def claimed(lab: str, instance: str, waiting: Callable[[str], None]) -> Iterator[None]:
    """Hold the lab instance's claim; `waiting` hears once if another holds it first."""
    fd = _open(lock_dir() / f"{instance}.{lab}.lock")
    if fd is None:  # no shared directory to lock in: go on unguarded, as before
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting(f"{lab} (instance {instance}) is being brought up by another labctl: "
                    "waiting for it")
            fcntl.flock(fd, fcntl.LOCK_EX)  # Ctrl-C still interrupts (PEP 475)
        yield
    finally:
        os.close(fd)
