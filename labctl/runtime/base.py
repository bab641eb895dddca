"""The runtime seam: what labctl needs from a container engine, in labctl's words.

The engine, the checks, the steps and the CLI talk only to this protocol.
Implementations (Docker here, Kubernetes later; an in-memory fake for unit
tests) keep their own records (Docker labels, Kubernetes labels), their own
handles and their own errors to themselves: they return the dataclasses
below and raise only labctl's errors (labctl.errors). docs/runtimes.md
describes each method and how Docker and Kubernetes implement it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, Protocol

from labctl.errors import RuntimeFailure

if TYPE_CHECKING:
    from labctl.lab.plan import NetworkPlan, NodePlan

Progress = Callable[[str], None]  # one line of progress, for whoever shows it

# A command run to its end (Runtime.run) is bounded: what it prints is kept up to
# RUN_LIMIT bytes a stream (it is stopped beyond), and it is stopped after RUN_DEADLINE
# seconds unless the caller gives its own. A node's file is read up to READ_LIMIT bytes.
RUN_LIMIT = 16 * 1024 * 1024
RUN_DEADLINE = 300.0
READ_LIMIT = 64 * 1024 * 1024  # a capture fills at most a quarter of a 256 MiB node


def quiet(_: str) -> None:
    """Progress nobody shows."""


# The status of a node whose host is down or does not answer (a runtime of several hosts).
HOST_DOWN = "host down"


@dataclass(frozen=True)
class NodeInfo:
    """A node as the runtime reports it; needs no lab file."""

    lab: str
    instance: str
    node: str
    container: str  # the runtime's handle for the node (a container or pod name)
    status: str  # "running", "exited", "created", ...
    ip: str  # on the node's first lab network
    mac: str
    services: str  # "http/tcp/80,echo/tcp/50007"
    capture: str = ""  # pcap path inside the node, if it captures
    addresses: dict[str, str] = field(default_factory=dict)  # lab network -> IP
    macs: dict[str, str] = field(default_factory=dict)  # lab network -> MAC
    host: str = ""  # the host it runs on, where the runtime has several (a swarm's)

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass(frozen=True)
class NetworkInfo:
    """A lab network as the runtime reports it."""

    lab: str
    instance: str
    name: str  # as the lab calls it
    subnet: str  # IPv4 CIDR, "" if the runtime does not know it
    handle: str = ""  # the runtime's own identifier: pass the NetworkInfo back, not this
    nodes: tuple[str, ...] = ()  # every node of the lab (recorded: status finds missing ones)


class ExecResult(NamedTuple):
    """A finished command; unpacks as (exit_code, stdout, stderr)."""

    exit_code: int
    stdout: bytes
    stderr: bytes


class ExecStream(Protocol):
    """A running command's output, chunk by chunk; its exit code once it ends."""

    def __iter__(self) -> Iterator[tuple[bytes | None, bytes | None]]:
        """(stdout chunk, stderr chunk) pairs; one of them None."""

    @property
    def exit_code(self) -> int:
        """Valid once iteration has ended."""


class Session(Protocol):
    """An interactive command (a shell): a bidirectional byte stream with a terminal."""

    def fileno(self) -> int: ...  # for select()

    def recv(self, size: int) -> bytes: ...  # b"" once the command ended

    def send(self, data: bytes) -> None: ...

    def resize(self, rows: int, cols: int) -> None: ...

    def close(self) -> None: ...

    @property
    def exit_code(self) -> int: ...


class Runtime(Protocol):
    """What labctl asks of a container engine. Every method raises only labctl errors."""

    # -- what runs ---------------------------------------------------------------
    def nodes(self, lab: str | None = None, instance: str | None = None) -> list[NodeInfo]:
        """labctl's nodes, in every state, narrowed to a lab and/or instance."""

    def networks(self, lab: str | None = None, instance: str | None = None
                 ) -> list[NetworkInfo]:
        """labctl's networks, narrowed to a lab and/or instance."""

    # -- bring up ----------------------------------------------------------------
    def create_network(self, net: NetworkPlan) -> NetworkInfo:
        """Create an isolated lab network (no way out, no host address).

        With `net.subnet` set, use it or raise SubnetTaken naming who holds it;
        without, allocate a free subnet of labctl's pool (subnets.py), retrying
        if a concurrent `up` takes one first. Return what was created.
        """

    def start_node(self, node: NodePlan) -> str:
        """Create the node on its networks (addresses as planned) and start it.

        Return its handle (NodeInfo.container). Least privilege as planned.
        """

    def wait_ready(self, container: str, node: str) -> None:
        """Block until the node's agent reports ready; NodeFailed if it fails or stops."""

    def remove_node(self, info: NodeInfo) -> None:
        """Remove the node now (stopped gracefully first if its pcap outlives it, so
        the pcap ends cleanly). Removing what is already gone is not an error."""

    def remove_network(self, net: NetworkInfo) -> None:
        """Remove the network; removing what is already gone is not an error.
        NetworkInUse while a node is still on it."""

    def ensure_image(self, ref: str | None = None, progress: Progress | None = None,
                     method: str = "auto", force: bool = False, alias: bool = False) -> str:
        """Return an image reference nodes can start from.

        alias: also give labctl's node image its convenience name (labctl/node:latest).

        ref None: labctl's node image, built if missing or stale (images.py).
        Otherwise the named image must already be present: ImageMissing if not.
        """

    def ensure_isolation(self, progress: Progress | None = None) -> None:
        """Make sure no packet from a lab network can reach the host or leave the lab.

        Called by every `up` before any node starts; raises if it cannot be made sure.
        """

    def place_link_loss(self, node: NodeInfo, network: str, percent: float) -> bool:
        """Make a lossy link lose packets between the two captures, as a real one does.

        The node's agent drops `percent` of what arrives on that network inside
        the node, after its capture saw it. A runtime that can drop them on the
        way to the node instead (Docker as root: the host's bridge port) does so,
        removes the in-node drop and returns True; False leaves the in-node drop.
        """

    # -- inside a node -------------------------------------------------------------
    def run(self, container: str, argv: list[str], user: str = "", *,
            limit: int = RUN_LIMIT, deadline: float = RUN_DEADLINE) -> ExecResult:
        """Run a command to completion, reading its output as it comes: each stream is
        kept up to `limit` bytes, and a command that prints more is stopped there (the
        output cut at `limit`); one still running after `deadline` seconds is stopped
        (RuntimeFailure). Nothing it started keeps running in the node after either."""

    def exec_stream(self, container: str, argv: list[str]) -> ExecStream:
        """Run a command, streaming its output (labctl exec); closing the stream (from
        any thread) stops the command."""

    def start_background(self, container: str, argv: list[str]) -> None:
        """Start a command and return at once; its output is discarded."""

    def open_session(self, container: str, argv: list[str], tty: bool = True) -> Session:
        """Start an interactive command with stdin attached (labctl shell)."""

    def logs(self, container: str, follow: bool = False, tail: int | str = "all"
             ) -> Iterator[bytes]:
        """What the node's main process printed; with follow, until it stops."""

    def read_file(self, container: str, path: str, limit: int = READ_LIMIT) -> bytes:
        """A regular file's bytes (a pcap while tcpdump writes it); RuntimeFailure if
        missing, FileRefused if it is not a regular file (a FIFO would never end) or
        holds more than `limit` bytes. Bounded in time."""

    def follow_file(self, container: str, path: str) -> Iterator[bytes]:
        """A file's bytes from its start, then whatever is appended, until the caller
        closes the iterator (live capture); nothing keeps running in the node after."""


# The follower in the node: says its PID on stderr, so closing can stop it.
FOLLOW_ARGV = ["sh", "-c", 'echo "$$" >&2; exec tail -c +1 -f "$0"']


def follow_by_tail(runtime: Runtime, container: str, path: str) -> Follower:
    """follow_file through exec_stream and `tail -f`: any runtime with exec can use it."""
    return Follower(runtime, container, runtime.exec_stream(container, [*FOLLOW_ARGV, path]))


class Follower:
    """A followed file's chunks. close() may come from any thread, even while another
    waits for the next chunk: it stops the follower in the node, which ends the wait."""

    def __init__(self, runtime: Runtime, container: str, stream: ExecStream):
        self._runtime, self._container, self._stream = runtime, container, stream
        self._chunks = self._read(stream)
        self._pid = b""
        self._stopped = False

    def _read(self, stream: ExecStream) -> Iterator[bytes]:
        for out, err in stream:
            if err:
                self._pid += err
            if self._stopped:
                return
            if out:
                yield out

    def __iter__(self) -> Follower:
        return self

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        number = self._pid.split(b"\n")[0].strip()
        if number.isdigit():
            # A node that is gone took its follower with it.
            with contextlib.suppress(RuntimeFailure):
                self._runtime.run(self._container, ["kill", number.decode()], deadline=10)
        close = getattr(self._stream, "close", None)
        if close is not None:  # a read waiting in another thread ends now
            close()
