"""What one student may do on the server: how many requests at once, how often, how
many streams open, and which labs (docs/classroom.md, "What one student can and cannot
do"). Instructors are not limited. Every refusal is a 429 or a 422 that names the limit,
its value and the `labctl serve` option that sets it.

Requests: a student's requests hold one of `max_requests` slots while their route runs
(anyio's CapacityLimiter, first come first served); a request that finds none free waits
up to QUEUE_SECONDS, then is refused. A request holds no thread while it waits, and the
engine calls under a slot each have a deadline (labctl.runtime), so one student's
requests can hold at most `max_requests` of the server's worker threads, for a bounded
time. Streams (a shell, a live capture, `logs -f`) give their request slot back and hold
one of `max_streams` instead, for as long as they last.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio

from labctl.classroom.server.access import Refused
from labctl.classroom.server.config import ServerConfig
from labctl.classroom.server.identity import Identity
from labctl.lab import model
from labctl.runtime import subnets

QUEUE_SECONDS = 10  # how long a request waits for one of its student's slots


@dataclass
class _Bucket:
    """A token bucket: `size` requests at once, refilled at `rate` a second."""

    size: float
    rate: float
    tokens: float = math.inf
    at: float = field(default_factory=time.monotonic)

    def take(self) -> float:
        """0 when a request may go now, else the seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.size, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class Slot:
    """One of a student's request slots; release() may come early (a stream) or twice."""

    def __init__(self, limiter: anyio.CapacityLimiter | None):
        self._limiter = limiter

    def release(self) -> None:
        limiter, self._limiter = self._limiter, None
        if limiter is not None:
            limiter.release_on_behalf_of(self)


class StreamSlot:
    """One of a student's open streams; release() from any thread, at most once counted."""

    def __init__(self, limits: Limits | None, user: str):
        self._limits, self._user = limits, user

    def release(self) -> None:
        limits, self._limits = self._limits, None
        if limits is not None:
            limits._stream_ended(self._user)


class Limits:
    def __init__(self, config: ServerConfig):
        self.config = config
        self._slots: dict[str, anyio.CapacityLimiter] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._streams: dict[str, int] = {}
        self._streams_lock = threading.Lock()

    # -- requests ------------------------------------------------------------------
    def admit(self, who: Identity) -> None:
        """The request rate: Refused (429, with Retry-After) beyond max_rate a minute."""
        if who.instructor:
            return
        rate = self.config.max_rate
        bucket = self._buckets.setdefault(who.user, _Bucket(rate, rate / 60))
        wait = bucket.take()
        if wait:
            raise Refused(429, f"too many requests (limit {rate} a minute per student: "
                               f"labctl serve --max-rate); try again in {math.ceil(wait)} s",
                          {"Retry-After": str(math.ceil(wait))})

    @contextlib.asynccontextmanager
    async def request(self, who: Identity) -> AsyncIterator[Slot]:
        """A request slot for the length of the block (none needed by an instructor)."""
        if who.instructor:
            yield Slot(None)
            return
        limit = self.config.max_requests
        limiter = self._slots.setdefault(who.user, anyio.CapacityLimiter(limit))
        slot = Slot(limiter)
        with anyio.move_on_after(QUEUE_SECONDS):
            await limiter.acquire_on_behalf_of(slot)
        if slot not in limiter.statistics().borrowers:
            raise Refused(429, f"you have {limit} requests under way (limit {limit} at once "
                               "per student: labctl serve --max-requests); this one waited "
                               f"{QUEUE_SECONDS} s for one of them to end")
        try:
            yield slot
        finally:
            slot.release()

    # -- streams -------------------------------------------------------------------
    def stream(self, who: Identity) -> StreamSlot:
        """A stream slot (a shell, a live capture, `logs -f`), or Refused (429)."""
        if who.instructor:
            return StreamSlot(None, who.user)
        limit = self.config.max_streams
        with self._streams_lock:
            open_now = self._streams.get(who.user, 0)
            if open_now >= limit:
                raise Refused(429, f"you have {open_now} shells, live captures or log "
                                   f"follows open (limit {limit} per student: labctl serve "
                                   "--max-streams); close one first")
            self._streams[who.user] = open_now + 1
        return StreamSlot(self, who.user)

    def _stream_ended(self, user: str) -> None:
        with self._streams_lock:
            self._streams[user] = max(0, self._streams.get(user, 0) - 1)

    # -- labs ----------------------------------------------------------------------
    def check_lab(self, who: Identity, lab: model.Lab) -> None:
        """Nodes, networks and fixed subnets of a lab a student runs or sends (422)."""
        if who.instructor:
            return
        nodes, networks = self.config.nodes_per_lab, self.config.max_networks
        if len(lab.nodes) > nodes:
            raise Refused(422, f"lab '{lab.name}' has {len(lab.nodes)} nodes; students may "
                               f"run labs of up to {nodes} (limit {nodes}: labctl serve "
                               "--nodes-per-lab)")
        used = lab_networks(lab)
        if len(used) > networks:
            raise Refused(422, f"lab '{lab.name}' has {len(used)} networks; students may "
                               f"run labs of up to {networks} (limit {networks}: labctl "
                               "serve --max-networks)")
        pool, prefix = subnet_pool()
        for name, net in lab.networks.items():
            if net.subnet is None:
                continue
            subnet = ipaddress.IPv4Network(net.subnet)
            if not subnet.subnet_of(pool) or subnet.prefixlen < prefix:
                raise Refused(422, f"lab '{lab.name}': network '{name}' fixes subnet "
                                   f"{net.subnet}; a student's fixed subnets must each be "
                                   f"a /{prefix} or smaller inside the server's pool {pool} "
                                   "(or leave `subnet` out: one is chosen for you)")


def lab_networks(lab: model.Lab) -> set[str]:
    """The networks a lab's `up` creates: the ones it declares and the ones its nodes join."""
    return set(lab.networks) | {net for node in lab.nodes.values()
                                for net in node.network_names}


def subnet_pool() -> tuple[ipaddress.IPv4Network, int]:
    return subnets.pool()
