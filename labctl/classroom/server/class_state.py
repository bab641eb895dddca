"""What the instructor's view knows beyond Docker labels: who the students are (token
holders, the roster, running instances), when each was last active, and the latest
check result of every lab instance, with a change counter that live pages wait on.

The roster (roster.json in the server's state) is data the audit log keeps as it
writes: however many lines a student makes, nobody drops out of it.

The latest results live in memory only: a restarted server shows them again after the
next check (the labs themselves, from labels, are never lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from labctl.classroom.server import identity, instances

AUDIT_TAIL_BYTES = 8 * 1024 * 1024  # the roster's first fill, once: older lines are skipped
ROSTER_SAVE_EVERY = 5.0  # seconds between writes of roster.json for activity alone


@dataclass
class Activity:
    last: dict[str, str] = field(default_factory=dict)  # user -> time of their last request
    ups: dict[tuple[str, str], str] = field(default_factory=dict)  # (lab, instance) -> time
    members: list[str] = field(default_factory=list)  # the class list the instructor gave
    left: dict[str, str] = field(default_factory=dict)  # user -> when taken off the class

    def in_class(self, known: set[str]) -> set[str]:
        """The class: the members, and everyone else the server knows (token holders,
        users who made a request) unless taken off the list and not back since."""
        others = {u for u in known | set(self.last)
                  if u not in self.left or self.last.get(u, "") > self.left[u]}
        return set(self.members) | others


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _is_up(entry: dict) -> bool:
    return bool(entry.get("action") in ("up", "class_up", "web_up") and entry.get("lab")
                and entry.get("instance") and str(entry.get("result", "")).startswith("ok"))


class Roster:
    """Each user's last request and each lab instance's last `up`, as data: fed with
    every audit entry (AuditLog.record), kept in a small JSON file, written when a user
    or an up is new and otherwise at most every ROSTER_SAVE_EVERY seconds."""

    def __init__(self, path: Path, log: Path | None = None):
        self.path = path
        self._lock = threading.Lock()
        self._saved_at = 0.0
        self._activity = self._load()
        if self._activity is None:  # the first start with a roster: the log's tail, once
            self._activity = read_activity(log) if log is not None else Activity()
            self.save()

    def _load(self) -> Activity | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return Activity(last=dict(data["last"]),
                            ups={(lab, inst): when for lab, inst, when in data["ups"]},
                            members=[str(m) for m in data.get("members", [])],
                            left=dict(data.get("left", {})))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            return None  # damaged: filled again from the log

    def note(self, entry: dict) -> None:
        user, when = entry.get("user"), entry.get("time", "")
        with self._lock:
            new = bool(user) and user not in self._activity.last
            if user:
                self._activity.last[user] = when
            if _is_up(entry):
                self._activity.ups[(entry["lab"], entry["instance"])] = when
                new = True
            due = new or time.monotonic() - self._saved_at >= ROSTER_SAVE_EVERY
        if due:
            self.save()

    def activity(self) -> Activity:
        with self._lock:
            return Activity(dict(self._activity.last), dict(self._activity.ups),
                            list(self._activity.members), dict(self._activity.left))

    def add_members(self, names: list[str], replace: bool = False) -> None:
        """The instructor's class list (roster.parse_students): added, or in place of the
        old list (whoever is dropped is taken off the class)."""
        with self._lock:
            found = self._activity
            if replace:
                for gone in set(found.members) - set(names):
                    found.left[gone] = _now()
                found.members = []
            for name in names:
                found.left.pop(name, None)
                if name not in found.members:
                    found.members.append(name)
        self.save()

    def remove_member(self, name: str) -> None:
        """Off the class, until they use the server again (a student who logs in joins)."""
        with self._lock:
            if name in self._activity.members:
                self._activity.members.remove(name)
            self._activity.left[name] = _now()
        self.save()

    def save(self) -> None:
        with self._lock:
            data = {"last": self._activity.last,
                    "ups": [[lab, inst, when] for (lab, inst), when in
                            sorted(self._activity.ups.items())],
                    "members": self._activity.members, "left": self._activity.left}
            self._saved_at = time.monotonic()
            text = json.dumps(data, ensure_ascii=False)
            spare = self.path.with_name(self.path.name + ".new")
            fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(spare, self.path)


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
    for line in data.split(b"\n"):
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # the first, cut line of the tail
        user, when = entry.get("user"), entry.get("time", "")
        if user:
            found.last[user] = when
        if _is_up(entry):
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
        """A check report (None: the lab went down, its results no longer stand); kept
        with the time it came in (`at`, ISO 8601 UTC)."""
        if report is None:
            self.results.pop((lab, instance), None)
        else:
            self.results[(lab, instance)] = {**report, "at": _now()}
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
