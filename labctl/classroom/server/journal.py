"""Which `up`s are under way, on disk: a server killed during an `up` leaves a marker,
and the next server start removes that half-made lab (and only labs it was making:
labs of other labctl users on the host are none of its business)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path


class UpJournal:
    def __init__(self, directory: Path | None):
        self.directory = directory

    def _marker(self, lab: str, instance: str) -> Path | None:
        # Lab and instance names allow no '.' or '/', so the name splits back exactly.
        return None if self.directory is None else self.directory / f"{lab}.{instance}"

    @contextlib.contextmanager
    def running(self, lab: str, instance: str) -> Iterator[None]:
        marker = self._marker(lab, instance)
        if marker is not None:
            marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            marker.touch()
        try:
            yield
        finally:
            if marker is not None:
                marker.unlink(missing_ok=True)

    def interrupted(self) -> list[tuple[str, str]]:
        """(lab, instance) of every `up` a previous server did not finish."""
        if self.directory is None or not self.directory.is_dir():
            return []
        found = []
        for marker in sorted(self.directory.iterdir()):
            lab, dot, instance = marker.name.partition(".")
            if dot:
                found.append((lab, instance))
        return found

    def forget(self, lab: str, instance: str) -> None:
        marker = self._marker(lab, instance)
        if marker is not None:
            marker.unlink(missing_ok=True)
