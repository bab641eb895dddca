"""The audit log: one JSON line per action, allowed or refused."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path


class AuditLog:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Only the server (and whoever may read its state) reads who did what.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._handle = os.fdopen(fd, "a", encoding="utf-8", buffering=1)

    def record(self, *, user: str | None, action: str, lab: str | None,
               instance: str | None, result: str, **extra) -> None:
        entry = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "user": user,
                 "action": action, "lab": lab, "instance": instance, "result": result, **extra}
        line = json.dumps(entry, ensure_ascii=False)
        with self._lock:
            self._handle.write(line + "\n")

    def close(self) -> None:
        self._handle.close()
