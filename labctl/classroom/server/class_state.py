"""What the instructor's view knows beyond Docker labels: who the students are (token
holders, the audit log, running instances), when each was last active, and the latest
check result of every lab instance, with a change counter that live pages wait on.

The latest results live in memory only: a restarted server shows them again after the
next check (the labs themselves, from labels, are never lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from labctl.classroom.server import identity, instances

AUDIT_TAIL_BYTES = 8 * 1024 * 1024  # enough for a term of a class; older lines are skipped


@dataclass
class Activity:
    last: dict[str, str] = field(default_factory=dict)  # user -> time of their last request
    ups: dict[tuple[str, str], str] = field(default_factory=dict)  # (lab, instance) -> time


def read_activity(audit_file: Path) -> Activity:
    """Each user's last request, and when each lab instance last came up, from the log."""
    found = Activity()
    try:
        with open(audit_file, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - AUDIT_TAIL_BYTES))
            data = handle.read()
    except FileNotFoundError:
        return found
    for line in data.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # the first, cut line of the tail
        user, when = entry.get("user"), entry.get("time", "")
        if user:
            found.last[user] = when
        if (entry.get("action") in ("up", "class_up", "web_up") and entry.get("lab")
                and entry.get("instance") and str(entry.get("result", "")).startswith("ok")):
            found.ups[(entry["lab"], entry["instance"])] = when
    return found


def students(known_users: set[str], running_instances: set[str],
             instructors_group: str) -> dict[str, str]:
    """student -> base instance: every non-instructor the server knows of, plus the owner
    of every running instance (named after the instance when no user is known)."""
    roster = {}
    for user in known_users:
        if identity.role_of(user, _uid(user), instructors_group) == identity.STUDENT:
            roster[user] = instances.base_instance(user)
    owned = {base for base in roster.values()}
    for instance in running_instances:
        base = instances.owner_base(instance)
        if base not in owned:
            roster[base] = base
            owned.add(base)
    return roster


def _uid(user: str) -> int | None:
    import pwd
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


class Board:
    """The latest check results per (lab, instance); `changed` wakes live pages."""

    def __init__(self) -> None:
        self.results: dict[tuple[str, str], dict] = {}
        self.version = 0
        self._changed: asyncio.Event | None = None

    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def record(self, lab: str, instance: str, report: dict | None) -> None:
        """A check report (None: the lab went down, its results no longer stand)."""
        if report is None:
            self.results.pop((lab, instance), None)
        else:
            self.results[(lab, instance)] = report
        self.touch()

    def touch(self) -> None:
        self.version += 1
        event, self._changed = self._event(), asyncio.Event()
        event.set()

    async def wait(self, seen: int, timeout: float) -> int:
        """Return once the version differs from `seen`, or after timeout."""
        if self.version == seen:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event().wait(), timeout)
        return self.version
