"""The audit log: one JSON line per action, allowed or refused.

Bounded, whatever a student sends: every string field is cut to FIELD_CHARS (and a
list, such as an exec's command, to LIST_ITEMS items of ITEM_CHARS), with the
original length noted; the file rotates by size (audit.jsonl.1 ... .KEEP). The class
roster (who acted, when; which lab came up when) is kept beside it as data
(class_state.Roster), so no flood of lines can push a student out of `class status`.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from labctl.classroom.server.class_state import Roster

FIELD_CHARS = 1000  # a string field beyond this is cut
LIST_ITEMS, ITEM_CHARS = 20, 200  # a list field: this many items, each cut at ITEM_CHARS
MAX_BYTES = 32 * 1024 * 1024  # the live file rotates beyond this size
KEEP = 4  # rotated files kept: audit.jsonl.1 (newest) ... audit.jsonl.4


def cut(value: str, limit: int) -> str:
    """value, or its first `limit` characters and how long it was."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}… [cut: {len(value)} characters]"


def bounded(value):
    """A field as the log keeps it: strings and lists cut, other values as they are."""
    if isinstance(value, str):
        return cut(value, FIELD_CHARS)
    if isinstance(value, list | tuple):
        items = [cut(str(v), ITEM_CHARS) if isinstance(v, str) else bounded(v)
                 for v in value[:LIST_ITEMS]]
        if len(value) > LIST_ITEMS:
            items.append(f"… [cut: {len(value)} items]")
        return items
    if isinstance(value, dict):
        return cut(json.dumps(value, ensure_ascii=False, default=str), FIELD_CHARS)
    return value


class AuditLog:
    def __init__(self, path: Path, roster_file: Path | None = None,
                 max_bytes: int = MAX_BYTES, keep: int = KEEP):
        self.path, self.max_bytes, self.keep = path, max_bytes, keep
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._handle = self._open()
        self.roster = None
        if roster_file is not None:
            self.roster = Roster(roster_file, log=path)

    def _open(self):
        # Only the server (and whoever may read its state) reads who did what.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._size = os.fstat(fd).st_size
        return os.fdopen(fd, "a", encoding="utf-8", buffering=1)

    def record(self, *, user: str | None, action: str, lab: str | None,
               instance: str | None, result: str, **extra) -> None:
        when = datetime.now(UTC).isoformat(timespec="milliseconds")
        entry = {"time": when, "user": user, "action": action, "lab": lab,
                 "instance": instance, "result": result, **extra}
        # ASCII: a node's text (U+2028, U+0085) never splits a line for a reader
        line = json.dumps({k: bounded(v) for k, v in entry.items()}, ensure_ascii=True) + "\n"
        size = len(line.encode("utf-8"))
        with self._lock:
            if self._size and self._size + size > self.max_bytes:
                self._rotate()
            self._handle.write(line)
            self._size += size
        if self.roster is not None:
            self.roster.note(entry)

    def _rotate(self) -> None:
        """audit.jsonl -> .1 -> .2 ... ; the oldest beyond `keep` goes."""
        self._handle.close()
        for n in range(self.keep, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if n == self.keep:
                older.unlink(missing_ok=True)
            else:
                newer = self.path.with_name(f"{self.path.name}.{n + 1}")
                if older.exists():
                    older.rename(newer)
        if self.keep > 0:
            self.path.rename(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._handle = self._open()

    def close(self) -> None:
        self._handle.close()
        if self.roster is not None:
            self.roster.save()
