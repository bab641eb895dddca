"""The Docker runtime: labctl's Runtime on one Docker engine, through an EngineClient
(engine_api.py: labctl's own Engine API client on the local socket; engine_sdk.py: the
docker SDK, for engines over TCP and TLS).

What runs is recorded only in Docker labels (naming.py), so `status` and
`down` need no lab file. The clients raise labctl's errors; this module says what
they mean for a lab (a node stopped, a subnet taken, an image missing), and no raw
record, exec id or socket leaves it.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import io
import ipaddress
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from labctl.errors import (
    EngineConflict,
    EngineError,
    EngineNotFound,
    EngineUnavailable,
    FileRefused,
    FileTooBig,
    ImageBuildFailed,
    ImageMissing,
    LabctlError,
    NetworkInUse,
    NodeFailed,
    NodeStopped,
    RuntimeFailure,
    SubnetTaken,
)
from labctl.interrupts import shielded
from labctl.lab import naming
from labctl.runtime import host_guard as isolation
from labctl.runtime import images, subnets
from labctl.runtime import link_loss as linkloss
from labctl.runtime.agent_protocol import FAILED, READY
from labctl.runtime.base import (
    READ_LIMIT,
    RUN_DEADLINE,
    RUN_LIMIT,
    ExecResult,
    NetworkInfo,
    NodeInfo,
    Progress,
    follow_by_tail,
)
from labctl.runtime.base import quiet as _quiet
from labctl.runtime.engine_api import (
    Attached,
    EngineAPI,
    EngineClient,
    endpoint_config,
    frames,
    host_config,
    unix_socket,
)

if TYPE_CHECKING:
    from labctl.lab.plan import NetworkPlan, NodePlan

T = TypeVar("T")
READY_DEADLINE = 120.0  # seconds a node has to report ready (its services listening)
READ_DEADLINE = 20.0  # seconds to read a file of a node
_END_DEADLINE = 10.0  # seconds to end a stopped command's processes


# What an engine client raises when the engine refuses or cannot be reached.
ENGINE_ERRORS = (EngineError, EngineUnavailable)


def wrapped_as(engine: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """A decorator turning any engine error into RuntimeFailure ("ENGINE: ..."), exit
    code 3 (the Docker runtime's, the swarm's)."""
    def wrap(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def call(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except EngineError as exc:
                raise RuntimeFailure(f"{engine}: {exc.explanation}") from None
        return call
    return wrap


_wrapped = wrapped_as("Docker engine")


def _wrapped_stream(chunks: Iterator[T]) -> Iterator[T]:
    try:
        yield from chunks
    except GeneratorExit:  # closed (at exit, too, when no import can run any more)
        raise
    except EngineError as exc:
        raise RuntimeFailure(f"Docker engine: {exc.explanation}") from None


def connect() -> DockerRuntime:
    """The engine DOCKER_HOST names (the local socket when unset), as the docker CLI."""
    path = unix_socket(os.environ.get("DOCKER_HOST"))
    if path is not None and not os.environ.get("DOCKER_TLS_VERIFY"):
        return DockerRuntime(EngineAPI(path))
    from labctl.runtime.engine_sdk import SdkEngine  # noqa: PLC0415 - lazy: the docker SDK, for remote engines
    return DockerRuntime(SdkEngine.from_env())


class DockerRuntime:
    """labctl's Runtime (runtime/base.py) on one Docker engine.

    `network_name` names a lab network on the engine (lab, instance, network): the
    swarm runtime runs nodes on its engines through this class, on overlays it names.
    """

    def __init__(self, api: EngineClient,
                 network_name: Callable[[str, str, str], str] = naming.network_name):
        self._api = api
        self._network_name = network_name

    # -- what runs ---------------------------------------------------------------
    @_wrapped
    def nodes(self, lab: str | None = None, instance: str | None = None) -> list[NodeInfo]:
        found = self._api.containers(all=True,
                                     filters={"label": naming.label_filters(lab, instance)})
        return [_node_info(summary, self._network_name) for summary in found]

    @_wrapped
    def networks(self, lab: str | None = None, instance: str | None = None
                 ) -> list[NetworkInfo]:
        found = self._api.networks(filters={"label": naming.label_filters(lab, instance)})
        return [network_info(net) for net in found]

    # -- bring up ----------------------------------------------------------------
    @_wrapped
    def create_network(self, net: NetworkPlan) -> NetworkInfo:
        name = naming.network_name(net.lab, net.instance, net.name)
        subnet = subnets.claim(net.subnet, net.pool_key, self._used_subnets(),
                               lambda cidr: self._create_bridge(net, name, cidr))
        return NetworkInfo(net.lab, net.instance, net.name, subnet, name)

    def _used_subnets(self) -> dict[ipaddress.IPv4Network, str]:
        """Every IPv4 subnet Docker networks hold, with who holds it."""
        used = {}
        for net in self._api.networks():
            for cfg in (net.get("IPAM") or {}).get("Config") or []:
                try:
                    subnet = ipaddress.IPv4Network(cfg.get("Subnet", ""), strict=False)
                except ValueError:
                    continue  # IPv6 or empty
                used[subnet] = f"Docker network '{net['Name']}'"
        return used

    def _create_bridge(self, net: NetworkPlan, name: str, subnet: str) -> None:
        """A bridge named `lc-*`, so the host guard (isolation.py) seals it off."""
        # The engine's IPAM shape (what docker.types.IPAMConfig builds), as plain data.
        ipam = {"Driver": "default", "Config": [{"Subnet": subnet, "Gateway": net.gateway(subnet)}],
                "Options": {}}
        # No host address on the bridge (inhibit_ipv4): the host has no route into
        # a lab. Internal or not, the host guard drops what a node sends the host.
        options = {isolation.BRIDGE_OPTION: isolation.bridge_name(name),
                   "com.docker.network.bridge.enable_icc": "true",
                   "com.docker.network.bridge.inhibit_ipv4": "true",
                   "com.docker.network.bridge.enable_ip_masquerade": "false"}
        labels = {**naming.lab_labels(net.lab, net.instance), naming.NETWORK: net.name,
                  naming.LAB_NODES: ",".join(net.nodes)}
        try:
            # Shielded: an interrupt mid-request could leave a network we never saw.
            with shielded():
                self._api.create_network(name, driver="bridge", internal=not net.routed,
                                         ipam=ipam, labels=labels, options=options)
        except EngineError as exc:
            if "overlap" in exc.explanation.lower():  # taken since we looked
                raise SubnetTaken(subnet, "?", "another network") from None
            raise RuntimeFailure(f"cannot create network {name}: {exc.explanation}") from None

    def ensure_isolation(self, progress: Progress | None = None) -> None:
        """The host guard: no packet from an `lc-*` bridge reaches the host or leaves."""
        isolation.install(self, lambda: self.ensure_image(None), None, progress or _quiet)

    @_wrapped
    def place_link_loss(self, node: NodeInfo, network: str, percent: float) -> bool:
        """As root next to the engine: drop on the host's bridge port to the node
        (labctl/runtime/link_loss.py) instead of in the node. The port is found from the
        engine's side (the container's sandbox, the lab network's bridge), never from
        what the node says about itself."""
        if not node.addresses.get(network) or not linkloss.available():
            return False
        settings = self._api.inspect_container(node.container).get("NetworkSettings") or {}
        bridge = isolation.bridge_name(naming.network_name(node.lab, node.instance, network))
        found = linkloss.node_port(settings.get("SandboxKey") or "", bridge)
        if found is None:
            return False
        veth, iface = found
        # the agent's drop (labctl/node/agent.py, apply_links), taken out, or put back
        in_node = ["INPUT", "-i", iface, "-m", "statistic", "--mode", "random",
                   "--probability", f"{percent / 100:.6f}", "-j", "DROP"]
        if self.run(node.container, ["iptables", "-D", *in_node])[0] != 0:
            return False
        if linkloss.apply(veth, percent,
                          f"labctl {node.instance}/{node.lab}/{node.node} {network}"):
            return True
        self.run(node.container, ["iptables", "-A", *in_node])
        return False

    @_wrapped
    def run_host_helper(self, image: str, argv: list[str]) -> tuple[int, str]:
        """Run argv in a throwaway container in the engine host's network namespace.

        Only NET_ADMIN (to load the host guard's nftables rules), read-only,
        no new privileges; removed afterwards. Returns (exit code, output).
        """
        config = host_config(
            network_mode="host", cap_drop=["ALL"], cap_add=["NET_ADMIN"], read_only=True,
            security_opt=["no-new-privileges"], mem_limit=64 * 1024 * 1024, pids_limit=16)
        created = self._api.create_container(image, entrypoint=argv[:1], command=argv[1:],
                                             labels={"labctl.helper": "host-guard"},
                                             host_config=config)
        try:
            self._api.start(created["Id"])
            code = self._api.wait(created["Id"], timeout=60).get("StatusCode", 1)
            output = self._api.read_logs(created["Id"])
            return code, output.decode("utf-8", "replace")
        finally:
            with contextlib.suppress(EngineError):
                self._api.remove_container(created["Id"], force=True)

    @_wrapped
    def start_node(self, node: NodePlan) -> str:
        first, *others = node.endpoints
        network = functools.partial(self._network_name, node.lab, node.instance)
        config = host_config(
            network_mode=network(first.network),
            sysctls=node.sysctls,
            cap_drop=["ALL"],
            cap_add=list(node.capabilities),
            security_opt=list(node.security_opt),
            read_only=node.read_only,
            tmpfs=node.tmpfs,
            shm_size=node.shm_bytes,
            extra_hosts=node.extra_hosts,
            mem_limit=node.memory_bytes,
            memswap_limit=node.memory_bytes,
            pids_limit=node.pids,
            nano_cpus=node.nano_cpus,
            init=False,  # the agent is PID 1 and reaps
            log_config={"type": "json-file", "config": {"max-size": "1m", "max-file": "1"}},
        )
        networking = {"EndpointsConfig": {
            network(first.network): endpoint_config([node.name], first.ip)}}
        labels = {**naming.lab_labels(node.lab, node.instance), naming.NODE: node.name,
                  naming.SERVICES: node.services, naming.NETWORKS: ",".join(node.networks)}
        if node.capture:
            labels[naming.CAPTURE] = node.capture
        created = self._api.create_container(
            node.image, name=node.container, hostname=node.name, labels=labels,
            working_dir=node.workdir,
            environment={"LABCTL_SPEC": node.spec_json}, host_config=config,
            networking_config=networking)
        for endpoint in others:  # eth1, eth2, ... in the order the lab lists networks
            self._api.connect_container_to_network(created["Id"], network(endpoint.network),
                                                   ipv4_address=endpoint.ip,
                                                   aliases=[node.name])
        self._api.start(created["Id"])
        return node.container

    @_wrapped
    def wait_ready(self, container: str, node: str, deadline: float = READY_DEADLINE) -> None:
        """Block until the node's agent logs that every service listens (NodeFailed
        after `deadline` seconds without it)."""
        lines = _LogLines()
        stream = self._api.logs(container, follow=True)
        late = threading.Event()

        def give_up() -> None:
            late.set()
            stream.close()  # ends the wait for the next line

        timer = threading.Timer(deadline, give_up)
        timer.daemon = True
        timer.start()
        try:
            for raw in stream:
                if any(_ready(line, node, lines) for line in lines.feed(raw)):
                    return
            if any(_ready(line, node, lines) for line in lines.feed(b"", final=True)):
                return
        except ENGINE_ERRORS:
            if not late.is_set():
                raise
        finally:
            timer.cancel()
        if late.is_set():
            raise NodeFailed(f"node '{node}' was not ready within {deadline:g} s:\n"
                             + lines.tail())
        # The stream ended: the container stopped (or was removed) before ready.
        raise NodeFailed(f"node '{node}' stopped before it was ready:\n" + lines.tail())

    @_wrapped
    def remove_node(self, info: NodeInfo) -> None:
        """Immediate: SIGKILL and remove, no stop timeout. A capturing node is not
        stopped gracefully first: its pcap lives in the container and goes with it
        (`labctl capture` copies it out before), so waiting would only slow `down`."""
        try:
            self._api.remove_container(info.container, force=True, v=True)
        except EngineNotFound:
            pass
        except EngineConflict as exc:
            if "already in progress" not in exc.explanation:  # another `down` removes it
                raise

    @_wrapped
    def remove_network(self, net: NetworkInfo) -> None:
        handle = net.handle or naming.network_name(net.lab, net.instance, net.name)
        try:
            self._api.remove_network(handle)
        except EngineNotFound:
            pass
        except EngineError as exc:
            if "active endpoints" in exc.explanation:  # a node joined it since we listed
                raise NetworkInUse(f"network {handle} still has nodes on it") from None
            raise

    @_wrapped
    def ensure_image(self, ref: str | None = None, progress: Progress | None = None,
                     method: str = "auto", force: bool = False, alias: bool = False) -> str:
        if ref is None:
            return images.ensure_images(_DockerImages(self._api), progress or _quiet,
                                        method=method, force=force, alias=alias)
        try:
            self._api.inspect_image(ref)
        except EngineNotFound:
            raise ImageMissing(f"image '{ref}' is not on this host (no registry to pull "
                               "from): build it first") from None
        return ref

    # -- inside a node -------------------------------------------------------------
    @_wrapped
    def run(self, container: str, argv: list[str], user: str = "", *,
            limit: int = RUN_LIMIT, deadline: float = RUN_DEADLINE) -> ExecResult:
        """The command to its end, read as it runs: at most `limit` bytes of each stream
        are kept, and a command that prints more, or runs past `deadline` seconds, is
        stopped there (what it printed until then is returned; past the deadline,
        RuntimeFailure)."""
        mark = uuid.uuid4().hex
        exec_id = self._exec_create(container, argv, stdout=True, stderr=True, user=user,
                                    environment={SESSION_MARK: mark})
        output = _Output(limit)
        with self._node_lost_on_error(container):
            attached = self._attach(exec_id, tty=False)
            try:
                ended = output.collect(attached, deadline)
            finally:
                attached.close()
        if not ended:  # cut, or out of time: what it started goes too
            self._end_marked(container, mark)
            if not output.cut:
                raise RuntimeFailure(f"a command in {container} did not end within "
                                     f"{deadline:g} s: stopped ({' '.join(argv)[:60]})")
        out, err = bytes(output.out), bytes(output.err)
        refused = _runc_refused(out)
        if refused:
            raise _cannot_start(container, refused)
        code = self._exit_code(container, exec_id, wait=not ended)
        if not ended:  # stopped by us: killed, whatever the engine says of it
            return ExecResult(_EXEC_KILLED if code in (None, 0, _EXEC_FAILED) else code,
                              out, err)
        self._check_exit(container, code)
        return ExecResult(code if code is not None else _EXEC_FAILED, out, err)

    def _exit_code(self, container: str, exec_id: str, wait: bool) -> int | None:
        """The exec's exit code; `wait`: it was just stopped, give it a moment to end."""
        for _ in range(20 if wait else 1):
            with self._node_lost_on_error(container):
                found = self._api.exec_inspect(exec_id)
            if not found.get("Running"):
                return found.get("ExitCode")
            time.sleep(0.1)
        return None

    def _attach(self, exec_id: str, tty: bool, buffered: bool = True) -> Attached:
        """The started command's connection (`buffered`: see EngineClient.exec_attach)."""
        return self._api.exec_attach(exec_id, tty, buffered)

    def _end_marked(self, container: str, mark: str) -> None:
        """End every process of the node that carries the mark (a session's, or a
        command's that was stopped); bounded, and quiet if the node is gone."""
        with contextlib.suppress(LabctlError):
            self.run(container, ["sh", "-c", _END_SESSION, mark], deadline=_END_DEADLINE,
                     limit=4096)

    @_wrapped
    def exec_stream(self, container: str, argv: list[str]) -> _DockerExecStream:
        mark = uuid.uuid4().hex
        exec_id = self._exec_create(container, argv, stdout=True, stderr=True,
                                    environment={SESSION_MARK: mark})
        with self._node_lost_on_error(container):
            attached = self._attach(exec_id, tty=False)
        return _DockerExecStream(self, container, exec_id, mark, attached)

    @_wrapped
    def start_background(self, container: str, argv: list[str]) -> None:
        exec_id = self._exec_create(container, argv, stdout=False, stderr=False)
        self._api.exec_detach(exec_id)

    @_wrapped
    def open_session(self, container: str, argv: list[str], tty: bool = True
                     ) -> _DockerSession:
        # A mark in the environment: what the session started can be found and ended.
        mark = uuid.uuid4().hex
        exec_id = self._exec_create(container, argv, stdin=True, tty=tty, stdout=True,
                                    stderr=True, environment={SESSION_MARK: mark})
        with self._node_lost_on_error(container):
            attached = self._attach(exec_id, tty=tty, buffered=False)
        return _DockerSession(self, container, mark, exec_id, attached)

    @_wrapped
    def logs(self, container: str, follow: bool = False, tail: int | str = "all"
             ) -> Iterator[bytes]:
        return _ClosableStream(self._api.logs(container, follow=follow, tail=tail))

    @_wrapped
    def read_file(self, container: str, path: str, limit: int = READ_LIMIT) -> bytes:
        """A regular file's bytes, read through the node (the engine's archive API
        cannot see tmpfs mounts, and captures live on one); FileRefused for anything
        else (a FIFO would never end) or beyond `limit` bytes; bounded in time."""
        code, out, err = self.run(container, ["sh", "-c", _READ_REGULAR, path, str(limit + 1)],
                                  limit=limit + 1, deadline=READ_DEADLINE)
        if code == _NOT_REGULAR:
            raise FileRefused(f"cannot read {path} in {container}: not a regular file "
                              "(labctl reads only regular files)")
        if code != 0:
            reason = err.decode("utf-8", "replace").strip() or f"exited with {code}"
            raise RuntimeFailure(f"cannot read {path} in {container}: {reason}")
        if len(out) > limit:
            raise FileTooBig(f"cannot read {path} in {container}: over {limit} bytes "
                              f"(labctl reads at most {limit // (1024 * 1024)} MiB of a "
                              "node's file)")
        return out

    def follow_file(self, container: str, path: str) -> Iterator[bytes]:
        return follow_by_tail(self, container, path)

    def _exec_create(self, container: str, argv: list[str], **options) -> str:
        with self._node_lost_on_error(container):
            try:
                return self._api.exec_create(container, argv, **options)
            except EngineError as exc:
                reason = exc.explanation.strip()
                if "is not running" in reason or isinstance(exc, EngineNotFound):
                    raise  # _node_lost_on_error says which node stopped
                raise _cannot_start(container, reason) from None

    @contextlib.contextmanager
    def _node_lost_on_error(self, container: str) -> Iterator[None]:
        """An engine error while using a node that has stopped or gone is NodeStopped
        ("No such exec instance", "409 Conflict ... is not running" mean that)."""
        try:
            yield
        except ENGINE_ERRORS:
            self._check_running(container)
            raise

    def _check_exit(self, container: str, code: int | None) -> None:
        """An exec that could not start (126), was killed (137) or has no exit code may
        mean the node went under it: NodeStopped then. A killed exec can end a moment
        before the engine marks its node stopped, so that case is asked a few times."""
        if code is None or code == _EXEC_FAILED:
            self._check_running(container)
        elif code == _EXEC_KILLED:
            for _ in range(10):
                self._check_running(container)
                time.sleep(0.05)

    def _check_running(self, container: str) -> None:
        """NodeStopped unless the node's container exists and runs."""
        try:
            running = self._api.inspect_container(container)["State"].get("Running", False)
        except EngineNotFound:
            running = False
        except ENGINE_ERRORS:
            return  # cannot tell: the caller reports its own error
        if not running:
            raise NodeStopped(*naming.parse_container_name(container))


# Docker's exit code when an exec could not start (126) or its process was killed
# (137): the node may be stopping.
_EXEC_FAILED = 126
_EXEC_KILLED = 128 + 9
# A regular file ($0), its first $1 bytes; exit 3 for anything else. A file swapped for
# a FIFO between the test and the read blocks `head`: the read's deadline ends it.
_NOT_REGULAR = 3
_READ_REGULAR = 'test -f "$0" || { test -e "$0" && exit 3; }; exec head -c "$1" -- "$0"'


class _Output:
    """Both streams of a command, kept up to `limit` bytes each."""

    def __init__(self, limit: int):
        self.limit = limit
        self.out, self.err = bytearray(), bytearray()
        self.cut = False

    def collect(self, attached: Attached, deadline: float) -> bool:
        """Read until the command's end (True), a stream over the limit (False, cut)
        or the deadline (False)."""
        ends = time.monotonic() + deadline
        try:
            for stream, payload in frames(attached, ends):
                kept = self.err if stream == 2 else self.out
                room = self.limit - len(kept)
                kept += payload[:max(room, 0)]
                if len(payload) > room:
                    self.cut = True
                    return False
        except TimeoutError:
            return False
        return True


class _ClosableStream:
    """A log stream whose close() may come from any thread; engine errors as labctl's."""

    def __init__(self, stream):
        self._stream, self._chunks = stream, _wrapped_stream(stream)

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                close()




# runc reports a command it could not start as the command's output, exit code 126;
# these words in it mean it could not create the process (the node's pids are used up).
_RUNC_FAILED = b"OCI runtime exec failed"
_AT_PIDS_LIMIT = ("resource temporarily unavailable", "init-p")
PIDS_HINT = ("; the node is probably at its process limit (resources.pids): its agent "
             "stops runaway processes within seconds, then try again")


def _at_pids_limit(reason: str) -> bool:
    return any(sign in reason.lower() for sign in _AT_PIDS_LIMIT)


def _cannot_start(container: str, reason: str) -> RuntimeFailure:
    hint = PIDS_HINT if _at_pids_limit(reason) else ""
    return RuntimeFailure(f"cannot start a command in {container}: {reason}{hint}")


def _runc_refused(out: bytes | None) -> str | None:
    """runc's own words when it could not create the process, else None (a missing
    command, say, stays the command's result: exit code 126 or 127 and runc's text)."""
    if out and out.startswith(_RUNC_FAILED):
        text = out.decode("utf-8", "replace").strip()
        if _at_pids_limit(text):
            return text
    return None


def _checked_start(container: str, stream: Iterator) -> Iterator:
    """Pass a command's output on, unless its first words are runc's failure to start it."""
    first = next(stream, None)
    if first is not None:
        refused = _runc_refused(first[0] if isinstance(first, tuple) else first)
        if refused:
            raise _cannot_start(container, refused)
        yield first
    yield from stream


class _LogLines:
    """Whole lines from log chunks. A chunk may end mid-line, and a service's
    output without a newline may run into the agent's line: markers are
    searched anywhere in a line, never only at its start."""

    def __init__(self):
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._partial = ""
        self.seen: list[str] = []

    def feed(self, raw: bytes, final: bool = False) -> list[str]:
        text = self._partial + self._decoder.decode(raw, final)
        *complete, self._partial = text.split("\n")
        if final and self._partial:
            complete, self._partial = [*complete, self._partial], ""
        self.seen = (self.seen + complete)[-10:]
        return complete

    def tail(self) -> str:
        return "\n".join(self.seen)


def _ready(line: str, node: str, lines: _LogLines) -> bool:
    """True once the agent said ready; NodeFailed when it said failed."""
    if READY in line:
        return True
    if FAILED in line:
        reason = line.split(FAILED, 1)[1].strip()
        raise NodeFailed(f"node '{node}' failed to start: {reason}\n" + lines.tail())
    return False


def _node_info(summary: dict, network_name: Callable[[str, str, str], str]) -> NodeInfo:
    """A container listing entry, read back through labctl's labels."""
    labels = summary.get("Labels") or {}
    nets = (summary.get("NetworkSettings") or {}).get("Networks") or {}
    lab, instance = labels.get(naming.LAB, "?"), labels.get(naming.INSTANCE, "?")
    addresses = {}
    for logical in filter(None, labels.get(naming.NETWORKS, "").split(",")):
        endpoint = nets.get(network_name(lab, instance, logical)) or {}
        addresses[logical] = (endpoint.get("IPAddress", ""), endpoint.get("MacAddress", ""))
    primary = next(iter(addresses.values()), None)
    if primary is None:  # no network label: whatever Docker lists first
        endpoint = next(iter(nets.values()), {}) if nets else {}
        primary = (endpoint.get("IPAddress", ""), endpoint.get("MacAddress", ""))
    return NodeInfo(
        lab=lab, instance=instance,
        node=labels.get(naming.NODE, "?"), container=summary["Names"][0].lstrip("/"),
        status=summary.get("State", "?"), ip=primary[0], mac=primary[1],
        services=labels.get(naming.SERVICES, ""), capture=labels.get(naming.CAPTURE, ""),
        addresses={k: v[0] for k, v in addresses.items()},
        macs={k: v[1] for k, v in addresses.items()})


def network_info(net: dict) -> NetworkInfo:
    """A lab network from the engine's record of it (its labels), on any engine."""
    labels = net.get("Labels") or {}
    configs = (net.get("IPAM") or {}).get("Config") or []
    return NetworkInfo(lab=labels.get(naming.LAB, "?"), instance=labels.get(naming.INSTANCE, "?"),
                       name=labels.get(naming.NETWORK, net.get("Name", "?")),
                       subnet=configs[0].get("Subnet", "") if configs else "",
                       handle=net["Id"],
                       nodes=tuple(filter(None, labels.get(naming.LAB_NODES, "").split(","))))


class _DockerExecStream:
    """A running command's output as it comes; close() (from any thread) ends the read
    and the command."""

    def __init__(self, runtime: DockerRuntime, container: str, exec_id: str, mark: str,
                 attached: Attached):
        self._runtime, self._container, self._id = runtime, container, exec_id
        self._mark, self._attached = mark, attached

    def __iter__(self) -> Iterator[tuple[bytes | None, bytes | None]]:
        return _wrapped_stream(_checked_start(self._container, self._checked()))

    def _checked(self) -> Iterator[tuple[bytes | None, bytes | None]]:
        with self._runtime._node_lost_on_error(self._container):
            try:
                for stream, payload in frames(self._attached):
                    yield (None, payload) if stream == 2 else (payload, None)
            finally:
                self._attached.close()

    def close(self) -> None:
        if not self._attached._closed.is_set():
            self._attached.close()
            self._runtime._end_marked(self._container, self._mark)

    @property
    @_wrapped
    def exit_code(self) -> int:
        code = self._runtime._exit_code(self._container, self._id, wait=True)
        self._runtime._check_exit(self._container, code)
        return code if code is not None else _EXEC_FAILED


SESSION_MARK = "LABCTL_SESSION"
# Kills every process of the node whose environment carries the session's mark ($0).
_END_SESSION = ('for p in /proc/[0-9]*; do grep -qzx "LABCTL_SESSION=$0" "$p/environ" '
                '2>/dev/null && kill -KILL "${p#/proc/}" 2>/dev/null; done; true')


class _DockerSession:
    def __init__(self, runtime: DockerRuntime, container: str, mark: str, exec_id: str,
                 attached: Attached):
        self._runtime, self._container, self._mark = runtime, container, mark
        self._api, self._id, self._attached = runtime._api, exec_id, attached

    def fileno(self) -> int:
        return self._attached.fileno()

    def recv(self, size: int) -> bytes:
        return self._attached.read(size)

    def send(self, data: bytes) -> None:
        self._attached.send(data)

    def resize(self, rows: int, cols: int) -> None:
        with contextlib.suppress(*ENGINE_ERRORS):
            self._api.exec_resize(self._id, height=rows, width=cols)

    def close(self) -> None:
        """Shut the connection down (the engine stops writing to it: a reader that
        never read cannot hold the node), then end what the session started: Docker
        leaves an exec running when its client goes. Bounded in time."""
        self._attached.close()
        with contextlib.suppress(LabctlError):
            if self._api.exec_inspect(self._id).get("Running"):
                self._runtime._end_marked(self._container, self._mark)

    @property
    @_wrapped
    def exit_code(self) -> int:
        return self._api.exec_inspect(self._id)["ExitCode"]


class _DockerImages:
    """images.ImageStore on the Docker engine."""

    def __init__(self, api: EngineClient):
        self._api = api

    def label(self, ref: str, key: str) -> str | None:
        try:
            return (self._api.inspect_image(ref)["Config"].get("Labels") or {}).get(key)
        except EngineNotFound:
            return None

    def tag(self, ref: str, alias: str) -> None:
        repo, tag = alias.rsplit(":", 1)
        self._api.tag(ref, repo, tag)

    def import_rootfs(self, tarball: Path, ref: str, changes: list[str]) -> None:
        repo, tag = ref.split(":")
        self._api.import_image(tarball, repo, tag, changes)

    def build(self, context: io.BytesIO, tag: str, labels: dict[str, str],
              buildargs: dict[str, str]) -> Iterator[str]:
        try:
            for chunk in self._api.build(context, tag, labels, buildargs):
                if "error" in chunk:
                    raise ImageBuildFailed(f"building {tag} failed: {chunk['error'].strip()}")
                text = chunk.get("stream", "").strip()
                if text:
                    yield text
        except EngineError as exc:
            raise ImageBuildFailed(f"building {tag} failed: {exc.explanation}") from None

