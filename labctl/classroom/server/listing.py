"""`status` for a whole class: the nodes labctl runs, listed by the engine at most
MAX_AGE seconds ago. However many ask, and however slow the engine is under load (a
student's execs keep it busy), it is asked once a second at most, by one thread; the
others wait for that answer. An `up` or `down` through this server makes the next
caller list again, so a student sees their own change at once; a change made on the
host, outside the server, shows within MAX_AGE."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from labctl.runtime.base import NodeInfo

MAX_AGE = 1.0


class Listing:
    def __init__(self, list_nodes: Callable[[], list[NodeInfo]]):
        self._list = list_nodes
        self._nodes: list[NodeInfo] = []
        self._at = -MAX_AGE  # monotonic time of the listing kept
        self._changes = 0  # ups and downs so far: a listing asked before one is stale
        self._kept_changes = -1  # what _changes was when the kept listing was asked
        self._pending: asyncio.Task | None = None
        self._pending_changes = -1

    def changed(self) -> None:
        """A lab came up or went: the next caller lists again."""
        self._changes += 1

    async def nodes(self) -> list[NodeInfo]:
        if self._kept_changes == self._changes and time.monotonic() - self._at < MAX_AGE:
            return self._nodes
        pending = self._pending
        if pending is None or pending.done() or self._pending_changes != self._changes:
            self._pending = asyncio.get_running_loop().create_task(self._refresh())
            self._pending_changes = self._changes
        return await asyncio.shield(self._pending)

    async def _refresh(self) -> list[NodeInfo]:
        changes, began = self._changes, time.monotonic()
        nodes = await asyncio.to_thread(self._list)
        if changes == self._changes:
            self._nodes, self._at, self._kept_changes = nodes, began, changes
        return nodes
