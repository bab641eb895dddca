"""An in-memory runtime for unit tests: no engine, no containers, same contract.

It keeps nodes and networks in dictionaries, allocates subnets like the
Docker runtime (subnets.claim), and models the node agent just enough: a
node starts running, logs the agent's ready line, and fails the way a real
node does when a service may not bind its port (a port below 1024 for a
user other than root). Commands are answered by the test: `answer()`
registers replies; anything unanswered exits 0 with no output. Files are
kept per node (`put_file`); each node has /etc/hostname, as a real one has.
"""

from __future__ import annotations

import ipaddress
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from labctl.errors import FileTooBig, ImageMissing, NetworkInUse, NodeFailed, RuntimeFailure
from labctl.runtime import subnets
from labctl.runtime.agent_protocol import FAILED, READY
from labctl.runtime.base import (
    READ_LIMIT,
    RUN_DEADLINE,
    RUN_LIMIT,
    ExecResult,
    NetworkInfo,
    NodeInfo,
    Progress,
)

if TYPE_CHECKING:
    from labctl.lab.plan import NetworkPlan, NodePlan

NODE_IMAGE = "labctl/node:latest"
Answer = Callable[[str, list[str]], ExecResult | None]  # (node, argv) -> reply or None


@dataclass
class FakeNode:
    info: NodeInfo
    spec: dict
    log: bytearray = field(default_factory=bytearray)
    files: dict[str, bytes] = field(default_factory=dict)
    background: list[list[str]] = field(default_factory=list)  # commands started


class FakeRuntime:
    """labctl's Runtime (runtime/base.py), in memory."""

    def __init__(self, images: tuple[str, ...] = (NODE_IMAGE,),
                 held: dict[str, str] | None = None):
        self.images = set(images)
        # Subnets other networks on the "host" hold: CIDR -> who holds it.
        self.held = {ipaddress.IPv4Network(k): v for k, v in (held or {}).items()}
        self._nodes: dict[str, FakeNode] = {}  # by container name
        self._networks: dict[tuple[str, str, str], NetworkInfo] = {}
        self._answers: list[Answer] = []
        self._lock = threading.Lock()
        self._macs = itertools.count(2)
        self.calls: list[tuple[str, str]] = []  # (method, subject): what the engine asked
        self.fail_on: dict[str, BaseException] = {}  # method -> error to raise once

    # -- test helpers --------------------------------------------------------------
    def answer(self, reply: Answer | ExecResult, node: str | None = None,
               contains: str | None = None) -> None:
        """Reply to commands: a function (node, argv) -> ExecResult or None, or a fixed
        ExecResult for commands on `node` whose text contains `contains`."""
        if isinstance(reply, ExecResult):
            fixed = reply

            def reply(on: str, argv: list[str]) -> ExecResult | None:
                text = " ".join(argv)
                if (node is None or on == node) and (contains is None or contains in text):
                    return fixed
                return None
        self._answers.insert(0, reply)  # the latest registered wins

    def put_file(self, container: str, path: str, data: bytes) -> None:
        self._node(container).files[path] = data

    def append_log(self, container: str, text: str) -> None:
        self._node(container).log += text.encode()

    def stop(self, container: str) -> None:
        """The node's main process exits (a crash, an OOM kill)."""
        record = self._node(container)
        record.info = replace(record.info, status="exited")

    def background_commands(self, container: str) -> list[list[str]]:
        return list(self._node(container).background)

    def _record(self, method: str, subject: str) -> None:
        with self._lock:
            self.calls.append((method, subject))
            error = self.fail_on.pop(method, None)
        if error is not None:
            raise error

    def _node(self, container: str, running: bool = False) -> FakeNode:
        record = self._nodes.get(container)
        if record is None:
            raise RuntimeFailure(f"node {container} is gone")
        if running and not record.info.running:
            raise RuntimeFailure(f"node {container} is {record.info.status}")
        return record

    # -- what runs ---------------------------------------------------------------
    def nodes(self, lab: str | None = None, instance: str | None = None) -> list[NodeInfo]:
        self._record("nodes", f"{lab}/{instance}")
        with self._lock:
            return [r.info for r in self._nodes.values()
                    if lab in (None, r.info.lab) and instance in (None, r.info.instance)]

    def networks(self, lab: str | None = None, instance: str | None = None
                 ) -> list[NetworkInfo]:
        self._record("networks", f"{lab}/{instance}")
        with self._lock:
            return [n for n in self._networks.values()
                    if lab in (None, n.lab) and instance in (None, n.instance)]

    # -- bring up ----------------------------------------------------------------
    def create_network(self, net: NetworkPlan) -> NetworkInfo:
        self._record("create_network", net.name)
        key = (net.lab, net.instance, net.name)
        with self._lock:
            if key in self._networks:
                raise RuntimeFailure(f"network {net.name} of {net.lab} already exists")
            used = dict(self.held)
            for other in self._networks.values():
                used[ipaddress.IPv4Network(other.subnet)] = (
                    f"network '{other.name}' of {other.lab} ({other.instance})")

            def create(subnet: str) -> None:
                self._networks[key] = NetworkInfo(net.lab, net.instance, net.name, subnet,
                                                  f"{net.lab}/{net.instance}/{net.name}",
                                                  net.nodes)

            subnets.claim(net.subnet, net.pool_key, used, create)
            return self._networks[key]

    def start_node(self, node: NodePlan) -> str:
        self._record("start_node", node.name)
        with self._lock:
            if node.container in self._nodes:
                raise RuntimeFailure(f"a node named {node.container} already exists")
            if node.image not in self.images:
                raise RuntimeFailure(f"no image {node.image}")
            for endpoint in node.endpoints:
                if (node.lab, node.instance, endpoint.network) not in self._networks:
                    raise RuntimeFailure(f"no network {endpoint.network} for {node.name}")
            macs = {e.network: f"02:42:0a:00:00:{next(self._macs) % 256:02x}"
                    for e in node.endpoints}
            info = NodeInfo(lab=node.lab, instance=node.instance, node=node.name,
                            container=node.container, status="running", ip=node.ip,
                            mac=macs[node.endpoints[0].network], services=node.services,
                            capture=node.capture,
                            addresses={e.network: e.ip for e in node.endpoints}, macs=macs)
            record = FakeNode(info, node.spec, files={"/etc/hostname": f"{node.name}\n".encode()})
            self._nodes[node.container] = record
        if node.agent:
            failing = [s for s in node.spec.get("services", [])
                       if s["port"] < 1024 and s.get("user") not in (None, "root")]
            if failing:  # the real node: PermissionError binding a privileged port
                record.log += (f"PermissionError: [Errno 13] Permission denied\n"
                               f"{FAILED} {failing[0]['name']} exited with code 1\n").encode()
                record.info = replace(info, status="exited")
            else:
                record.log += f"{READY}\n".encode()
        return node.container

    def wait_ready(self, container: str, node: str) -> None:
        self._record("wait_ready", node)
        record = self._nodes.get(container)
        lines = record.log.decode().splitlines() if record else []
        for line in lines:
            if READY in line:
                return
            if FAILED in line:
                raise NodeFailed(f"node '{node}' failed to start: "
                                 f"{line.split(FAILED, 1)[1].strip()}\n"
                                 + "\n".join(lines[-10:]))
        raise NodeFailed(f"node '{node}' stopped before it was ready:\n" + "\n".join(lines))

    def remove_node(self, info: NodeInfo) -> None:
        self._record("remove_node", info.node)
        with self._lock:
            self._nodes.pop(info.container, None)

    def remove_network(self, net: NetworkInfo) -> None:
        self._record("remove_network", net.name)
        with self._lock:
            key = (net.lab, net.instance, net.name)
            if any(r.info.lab == net.lab and r.info.instance == net.instance
                   and net.name in r.info.addresses for r in self._nodes.values()):
                raise NetworkInUse(f"network {net.name} has active endpoints")
            self._networks.pop(key, None)

    def ensure_image(self, ref: str | None = None, progress: Progress | None = None,
                     method: str = "auto", force: bool = False, alias: bool = False) -> str:
        self._record("ensure_image", ref or NODE_IMAGE)
        wanted = ref or NODE_IMAGE
        if ref is None:
            self.images.add(NODE_IMAGE)  # "built"
        if wanted not in self.images:
            raise ImageMissing(f"image '{ref}' is not on this host (no registry to pull "
                               "from): build it first")
        return wanted

    # -- inside a node -------------------------------------------------------------
    def ensure_isolation(self, progress: Progress | None = None) -> None:
        self._record("ensure_isolation", "host")

    def place_link_loss(self, node: NodeInfo, network: str, percent: float) -> bool:
        self._record("place_link_loss", f"{node.container} {network} {percent:g}")
        return False  # the in-node drop stays

    def run(self, container: str, argv: list[str], user: str = "", *,
            limit: int = RUN_LIMIT, deadline: float = RUN_DEADLINE) -> ExecResult:
        self._record("run", " ".join(argv))
        record = self._node(container, running=True)
        for reply in list(self._answers):
            result = reply(record.info.node, argv)
            if result is not None:
                return ExecResult(result.exit_code, result.stdout[:limit],
                                  result.stderr[:limit])
        return ExecResult(0, b"", b"")

    def exec_stream(self, container: str, argv: list[str]) -> _FakeStream:
        return _FakeStream(self.run(container, argv))

    def start_background(self, container: str, argv: list[str]) -> None:
        self._record("start_background", " ".join(argv))
        self._node(container, running=True).background.append(list(argv))

    def open_session(self, container: str, argv: list[str], tty: bool = True):
        raise RuntimeFailure("the fake runtime has no interactive sessions")

    def logs(self, container: str, follow: bool = False, tail: int | str = "all"
             ) -> Iterator[bytes]:
        self._record("logs", container)
        data = bytes(self._node(container).log)
        if tail != "all":
            data = b"".join(data.splitlines(keepends=True)[-int(tail):])
        return iter([data] if data else [])

    def read_file(self, container: str, path: str, limit: int = READ_LIMIT) -> bytes:
        self._record("read_file", path)
        record = self._node(container)
        if path not in record.files:
            raise RuntimeFailure(f"no file {path} in {container}")
        if len(record.files[path]) > limit:
            raise FileTooBig(f"cannot read {path} in {container}: over {limit} bytes")
        return record.files[path]

    def follow_file(self, container: str, path: str) -> Iterator[bytes]:
        return iter([self.read_file(container, path)])


class _FakeStream:
    def __init__(self, result: ExecResult):
        self._result = result

    def __iter__(self) -> Iterator[tuple[bytes | None, bytes | None]]:
        if self._result.stdout:
            yield self._result.stdout, None
        if self._result.stderr:
            yield None, self._result.stderr

    @property
    def exit_code(self) -> int:
        return self._result.exit_code
