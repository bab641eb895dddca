"""Per-user bearer tokens for remote access. Only hashes are stored (sha256 of a
256-bit random token is enough: no password to guess), in a 0600 JSON file that
the server reads on every request, so a revocation takes effect at once."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from labctl.errors import InvalidInput

PREFIX = "lct_"
_USER = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._ @-]{0,63}$")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def check_user(user: str) -> str:
    if not _USER.match(user):
        raise InvalidInput(f"invalid user name '{user}': up to 64 letters, digits, "
                           "'.', '_', '-', '@' or spaces")
    return user


class TokenStore:
    def __init__(self, path: Path):
        self.path = path

    # -- what the instructor's commands do ---------------------------------
    def add(self, user: str) -> str:
        """A new token for user (replacing any earlier one); returned once, stored hashed."""
        check_user(user)
        token = PREFIX + secrets.token_urlsafe(32)
        with self._locked():
            entries = self._read()
            entries[user] = {"sha256": _digest(token),
                             "created": datetime.now(UTC).isoformat(timespec="seconds")}
            self._write(entries)
        return token

    def revoke(self, user: str) -> bool:
        with self._locked():
            entries = self._read()
            if user not in entries:
                return False
            del entries[user]
            self._write(entries)
        return True

    def users(self) -> dict[str, str]:
        """user -> when their token was made."""
        return {user: e.get("created", "") for user, e in sorted(self._read().items())}

    # -- what the server does ------------------------------------------------
    def user_for(self, token: str) -> str | None:
        if not token.startswith(PREFIX) or len(token) > 200:
            return None
        digest = _digest(token)
        found = None
        # Read on every request (a small file): a revocation counts from the next one.
        for user, entry in self._read().items():
            if hmac.compare_digest(entry.get("sha256", ""), digest):
                found = user
        return found

    @contextlib.contextmanager
    def _locked(self):
        """Two instructors adding tokens at once: neither change is lost."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.path.parent / ".tokens.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"{self.path}: unreadable token file: {exc}") from None
        return data.get("users", {}) if isinstance(data, dict) else {}

    def _write(self, entries: dict) -> None:
        """Atomically, and never readable by anyone but the owner."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens.")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"users": entries}, handle, indent=1)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
