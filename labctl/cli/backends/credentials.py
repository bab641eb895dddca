"""`labctl login`: a user's server URL and token, in ~/.config/labctl/credentials (0600)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Credentials:
    url: str
    token: str | None = None
    ca: str | None = None  # a CA file for a class server's own certificate


def path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "labctl" / "credentials"


def load() -> Credentials | None:
    try:
        data = json.loads(path().read_text(encoding="utf-8"))
        return Credentials(str(data["url"]), data.get("token"), data.get("ca"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(creds: Credentials) -> Path:
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Created 0600 from the start: the token is never readable by others, not even briefly.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(asdict(creds), out)
    os.chmod(target, 0o600)
    return target
