"""`up` under load: at most N run at once (the rest wait their turn, in order), and two
requests for the same lab and instance share one `up` instead of racing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from labctl.classroom.server.journal import UpJournal


class UpQueue:
    def __init__(self, concurrent: int, journal: UpJournal | None = None):
        self.journal = journal or UpJournal(None)
        self._slots = asyncio.Semaphore(max(1, concurrent))
        self._running: dict[tuple[str, str], asyncio.Task] = {}
        self._queue: list[tuple[str, str]] = []  # waiting for a slot, first come first

    def pending(self) -> set[tuple[str, str]]:
        """(lab, instance) of every up queued or running."""
        return set(self._running)

    async def up(self, key: tuple[str, str], work: Callable[[], dict]) -> dict:
        """Run work (blocking) in a thread, or join the same key's work already under way.

        The work is shielded: a client that goes away mid-`up` does not cut it in half
        (the lab then is complete, and `down` removes it); only the caller stops waiting.
        """
        return await asyncio.shield(self.start(key, work))

    def start(self, key: tuple[str, str], work: Callable[[], dict]) -> asyncio.Task:
        """up() without the wait: the key is pending (pending()) when this returns."""
        task = self._running.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._run(key, work))
            self._running[key] = task
            task.add_done_callback(lambda _t: self._running.pop(key, None))
        return task

    def journaled(self, key: tuple[str, str], work: Callable[[], dict]) -> dict:
        """Run work (blocking) as a running `up` of key is recorded: a server killed
        meanwhile removes the lab when it starts again (a test's steps and checks)."""
        return self._journaled(key, work)

    def place(self, key: tuple[str, str]) -> int | None:
        """1, 2, ... while queued; 0 once starting; None if no `up` of key is under way."""
        if key in self._queue:
            return self._queue.index(key) + 1
        return 0 if key in self._running else None

    @property
    def waiting(self) -> int:
        return len(self._queue)

    async def _run(self, key: tuple[str, str], work: Callable[[], dict]) -> dict:
        self._queue.append(key)
        try:
            await self._slots.acquire()
        finally:
            self._queue.remove(key)
        try:
            return await asyncio.to_thread(self._journaled, key, work)
        finally:
            self._slots.release()

    def _journaled(self, key: tuple[str, str], work: Callable[[], dict]) -> dict:
        with self.journal.running(*key):
            return work()

    def sweep(self, down: Callable[[str, str], object]) -> list[tuple[str, str]]:
        """Remove the labs a killed server was still bringing up (at start, blocking)."""
        swept = self.journal.interrupted()
        for lab, instance in swept:
            down(lab, instance)
            self.journal.forget(lab, instance)
        return swept

    async def settle(self, key: tuple[str, str]) -> None:
        """Wait for an `up` of key under way, whatever its outcome (before a `down`)."""
        task = self._running.get(key)
        if task is not None:
            await asyncio.wait([task])

    async def drain(self) -> None:
        """Let every `up` under way finish (the server is stopping): no half-made lab."""
        if self._running:
            await asyncio.wait(list(self._running.values()))
