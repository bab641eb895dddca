"""The swarm runtime: labs on a Docker Swarm, behind the same seam (runtime/base.py).

- **Networks** are internal, attachable overlays made on the manager: swarm-wide,
  no gateway, no interface on any host. Their labels are the record, as on Docker,
  plus the host the lab instance was placed on (swarm_labs.py).
- **Nodes** are containers made on one engine of the swarm and attached to those
  overlays with their planned addresses. Not swarm services: a service's task
  cannot be given an address (moby/moby#24170, open since 2016), and a lab's
  routes, NAT, links and /etc/hosts are planned by address (lab/plan.py). Each
  engine runs its nodes with the Docker runtime's own code (runtime/docker.py),
  so least privilege, limits and the agent's readiness are exactly Docker's.
- **Placement** is labctl's: every node of a lab instance goes to one host (its
  traffic never crosses hosts), the ready host holding the fewest lab nodes.
  `LABCTL_SWARM_PLACEMENT=spread` puts each node on the host with the fewest
  instead (a lab's traffic then crosses hosts through VXLAN).
- **A host that goes down** (or whose engine stops answering) leaves its labs'
  nodes listed as "host down" on that host: the lab shows broken, and `up` makes
  it again on a ready host (the next generation of its networks, swarm_labs.py).
- **Every engine is reached over mutual TLS** (swarm_engines.py; one client
  certificate): the manager at its URL, each other host at its swarm address on
  the same port. exec, shells, files, live captures and logs go to the engine
  that runs the node.

docs/runtimes.md lists what this runtime does not do (the host guard's nftables,
link loss on the host side).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from labctl.errors import (
    EngineError,
    EngineNotFound,
    EngineUnavailable,
    ImageMissing,
    InvalidInput,
    LabctlError,
    NetworkInUse,
    NodeStopped,
    RuntimeFailure,
    SubnetTaken,
)
from labctl.interrupts import shielded
from labctl.lab import naming
from labctl.runtime import images, subnets
from labctl.runtime import swarm_labs as records
from labctl.runtime.base import (
    HOST_DOWN,
    READ_LIMIT,
    RUN_DEADLINE,
    RUN_LIMIT,
    ExecResult,
    ExecStream,
    NetworkInfo,
    NodeInfo,
    Progress,
    Session,
    follow_by_tail,
)
from labctl.runtime.base import quiet as _quiet
from labctl.runtime.docker import ENGINE_ERRORS, DockerRuntime, network_info, wrapped_as
from labctl.runtime.engine_sdk import SdkEngine
from labctl.runtime.swarm_engines import DEFAULT_PORT, engine_client

if TYPE_CHECKING:
    from labctl.lab.plan import NetworkPlan, NodePlan

T = TypeVar("T")

PLACEMENTS = ("lab", "spread")
# A node's interface gets Ethernet's MTU of 1500, as on one Docker host (the course's
# MSS 1460). The overlay driver's option is the MTU of the hosts' own network, which
# carries a frame plus 50 bytes of VXLAN between hosts (the test swarm's network has
# 1550; on a network of 1500 a spread lab's largest frames are fragmented between hosts).
OVERLAY_MTU = "1550"
REMOVE_WAIT = 20.0  # seconds a network's removal waits for its endpoints to go
LIST_TIMEOUT = 5.0  # seconds a host may take to list its nodes before it counts as down


@dataclass(frozen=True)
class SwarmConfig:
    """Where the manager is and the client certificate for every engine."""

    manager: str  # tcp://HOST:PORT
    certs: Path  # ca.pem, cert.pem, key.pem (as DOCKER_CERT_PATH)
    placement: str = "lab"

    @classmethod
    def from_env(cls) -> SwarmConfig:
        manager = os.environ.get("LABCTL_SWARM_MANAGER", "")
        certs = os.environ.get("LABCTL_SWARM_CERTS", "")
        if not manager or not certs:
            raise InvalidInput("the swarm runtime needs LABCTL_SWARM_MANAGER "
                               "(tcp://HOST:2376) and LABCTL_SWARM_CERTS (a directory with "
                               "ca.pem, cert.pem and key.pem)")
        return cls(manager, Path(certs), os.environ.get("LABCTL_SWARM_PLACEMENT", "lab"))

    def check(self) -> None:
        if not self.manager.startswith("tcp://"):
            raise InvalidInput(f"swarm manager {self.manager!r}: give tcp://HOST:PORT")
        missing = [n for n in ("ca.pem", "cert.pem", "key.pem")
                   if not (self.certs / n).is_file()]
        if missing:
            raise InvalidInput(f"swarm certificates: {self.certs} lacks {', '.join(missing)}")
        if self.placement not in PLACEMENTS:
            raise InvalidInput(f"swarm placement {self.placement!r}: one of "
                               f"{', '.join(PLACEMENTS)}")

    @property
    def port(self) -> int:
        return urllib.parse.urlsplit(self.manager).port or DEFAULT_PORT


def connect() -> SwarmRuntime:
    config = SwarmConfig.from_env()
    config.check()
    return SwarmRuntime(config)


@dataclass(frozen=True)
class Host:
    """A host of the swarm, as the manager lists it."""

    name: str  # its hostname
    addr: str  # its address in the swarm
    ready: bool  # up, and taking work (availability active)


_wrapped = wrapped_as("Docker swarm")  # engine errors: RuntimeFailure, exit code 3


class SwarmRuntime:
    """labctl's Runtime (runtime/base.py) on a Docker Swarm."""

    def __init__(self, config: SwarmConfig,
                 client: Callable[[str, float], SdkEngine] | None = None):
        self.config = config
        self._client = client or (lambda url, timeout: engine_client(url, config.certs,
                                                                      timeout))
        self._manager = self._client(config.manager, 60)
        self._engines: dict[tuple[str, float], DockerRuntime] = {}  # (address, timeout)
        self._where: dict[str, Host] = {}  # container -> the host it was last seen on
        self._names: dict[tuple[str, str, str], str] = {}  # lab network -> overlay name
        self._lock = threading.Lock()
        self._placing = threading.Lock()  # one lab's first network at a time
        self._starting: dict[str, int] = {}  # spread: nodes being started, per host

    # -- the swarm's hosts ---------------------------------------------------------
    @_wrapped
    def hosts(self) -> list[Host]:
        found = []
        for node in self._manager.nodes():
            status, spec = node.get("Status") or {}, node.get("Spec") or {}
            addr = status.get("Addr", "")
            if addr in ("", "0.0.0.0"):  # a manager may list itself so
                addr = (node.get("ManagerStatus") or {}).get("Addr", "").rpartition(":")[0]
            found.append(Host((node.get("Description") or {}).get("Hostname", addr), addr,
                              status.get("State") == "ready"
                              and spec.get("Availability", "active") == "active"))
        return sorted(found, key=lambda h: h.name)

    def _ready_hosts(self) -> list[Host]:
        ready = [h for h in self.hosts() if h.ready]
        if not ready:
            raise EngineUnavailable("no host of the swarm is ready")
        return ready

    def engine(self, host: Host, timeout: float = 60) -> DockerRuntime:
        """The Docker runtime on one host's engine (made once per host and timeout)."""
        with self._lock:
            runtime = self._engines.get((host.addr, timeout))
            if runtime is None:
                url = f"tcp://{host.addr}:{self.config.port}"
                runtime = DockerRuntime(self._client(url, timeout),
                                        network_name=self._overlay)
                self._engines[(host.addr, timeout)] = runtime
            return runtime

    def _each(self, hosts: list[Host], call: Callable[[Host], T]) -> list[T]:
        """`call` on every host at once (a round trip each)."""
        if len(hosts) <= 1:
            return [call(h) for h in hosts]
        with ThreadPoolExecutor(max_workers=min(8, len(hosts)),
                                thread_name_prefix="labctl-swarm") as pool:
            return list(pool.map(call, hosts))

    # -- the record: the lab networks' labels (swarm_labs.py) -------------------------
    def _labs(self, lab: str | None = None, instance: str | None = None
              ) -> dict[tuple[str, str], records.LabNetworks]:
        found = records.by_lab(self._manager.networks(
            filters={"label": naming.label_filters(lab, instance)}))
        with self._lock:
            for record in found.values():
                for network, name in record.names().items():
                    self._names[(record.lab, record.instance, network)] = name
        return found

    def _overlay(self, lab: str, instance: str, network: str) -> str:
        """The overlay a lab network is now (its generation's name)."""
        return self._names.get((lab, instance, network)) or records.overlay_name(
            lab, instance, network)

    # -- what runs ---------------------------------------------------------------
    @_wrapped
    def nodes(self, lab: str | None = None, instance: str | None = None) -> list[NodeInfo]:
        hosts = self.hosts()
        labs = self._labs(lab, instance)
        placed = labs.get((lab, instance)) if lab and instance else None
        if placed is not None and placed.host:
            # One lab placed on one host: only that host is asked, so a host that hangs
            # slows only its own labs. Listings of more (status of an instance, the
            # class) ask every host, and clear what a host that was down left behind.
            hosts = [h for h in hosts if h.name == placed.host]

        def listed(host: Host) -> list[NodeInfo] | None:
            try:
                return self.engine(host, LIST_TIMEOUT).nodes(lab, instance)
            except RuntimeFailure:
                return None  # not answering: counted as down

        answers = dict(zip((h.name for h in hosts), self._each(
            hosts, lambda h: listed(h) if h.ready else None), strict=True))
        up = {name for name, found in answers.items() if found is not None}
        by_name = {h.name: h for h in hosts}
        found = []
        for name, infos in answers.items():
            for info in infos or []:
                record = labs.get((info.lab, info.instance))
                if record and record.host in up and record.host != name:
                    self._orphan(by_name[name], info)  # made again elsewhere meanwhile
                    continue
                self._where[info.container] = by_name[name]
                found.append(dataclasses.replace(info, host=name))
        for record in labs.values():  # labs on a host that is down: every node, marked
            if record.host and record.host not in up:
                found += [NodeInfo(record.lab, record.instance, node,
                                   naming.container_name(record.lab, record.instance, node),
                                   HOST_DOWN, "", "", "", host=record.host)
                          for node in record.nodes]
        return found

    def _orphan(self, host: Host, info: NodeInfo) -> None:
        """A node left on a host that was down while its lab was made again elsewhere."""
        with contextlib.suppress(LabctlError):
            self.engine(host, LIST_TIMEOUT).remove_node(info)

    @_wrapped
    def networks(self, lab: str | None = None, instance: str | None = None
                 ) -> list[NetworkInfo]:
        found = []
        for record in self._labs(lab, instance).values():
            found += [network_info(net) for net in record.live]
            for net in record.retired:  # its host is back, or it goes next time
                with contextlib.suppress(*ENGINE_ERRORS):
                    self._manager.remove_network(net["Id"])
        return found

    # -- bring up ----------------------------------------------------------------
    @_wrapped
    def create_network(self, net: NetworkPlan) -> NetworkInfo:
        with self._placing:  # two labs placed at once would both pick the emptiest host
            hosts = self._ready_hosts()
            ready = {h.name for h in hosts}
            record = self._labs(net.lab, net.instance).get((net.lab, net.instance))
            if record is not None and (record.host in ready or not record.host):
                generation, host = record.generation, record.host  # this `up`'s networks
            else:  # a new lab, or one whose host is down: the next generation
                generation = record.generation + 1 if record is not None else 0
                host = "" if self.config.placement == "spread" else records.emptiest(
                    sorted(ready), records.nodes_per_host(self._labs()))
            name = records.overlay_name(net.lab, net.instance, net.name, generation)
            subnet = subnets.claim(net.subnet, net.pool_key, self._used_subnets(),
                                   lambda cidr: self._create_overlay(net, name, cidr, host,
                                                                     generation))
        with self._lock:
            self._names[(net.lab, net.instance, net.name)] = name
        return NetworkInfo(net.lab, net.instance, net.name, subnet, name, net.nodes)

    def _create_overlay(self, net: NetworkPlan, name: str, subnet: str, host: str,
                        generation: int) -> None:
        ipam = {"Driver": "default", "Options": {},
                "Config": [{"Subnet": subnet, "Gateway": net.gateway(subnet),
                            "IPRange": records.swarm_range(subnet)}]}
        labels = {**naming.lab_labels(net.lab, net.instance), naming.NETWORK: net.name,
                  naming.LAB_NODES: ",".join(net.nodes), records.HOST: host,
                  records.GENERATION: str(generation)}
        try:
            with shielded():  # an interrupt mid-request could leave a network we never saw
                # Internal even when routed: an overlay has no interface on any host, so
                # packets for another subnet still reach only the lab's own router.
                self._manager.create_network(
                    name, driver="overlay", internal=True, attachable=True, ipam=ipam,
                    labels=labels, options={"com.docker.network.driver.mtu": OVERLAY_MTU})
        except EngineError as exc:
            reason = exc.explanation
            if "overlap" in reason.lower():
                raise SubnetTaken(subnet, "?", "another network") from None
            raise RuntimeFailure(f"cannot create network {name}: {reason}") from None

    def _used_subnets(self) -> dict:
        used = {}
        for net in self._manager.networks():
            labels = net.get("Labels") or {}
            holder = (f"network '{labels[naming.NETWORK]}' of {labels.get(naming.LAB, '?')} "
                      f"({labels.get(naming.INSTANCE, '?')})" if naming.NETWORK in labels
                      else f"swarm network '{net.get('Name', '?')}'")
            for cfg in (net.get("IPAM") or {}).get("Config") or []:
                try:
                    used[ipaddress.IPv4Network(cfg.get("Subnet", ""), strict=False)] = holder
                except ValueError:
                    continue  # IPv6 or empty
        return used

    def _node_host(self, node: NodePlan) -> Host:
        hosts = self._ready_hosts()
        if self.config.placement == "spread":
            self._labs(node.lab, node.instance)  # the overlays' names
            counts = dict(zip((h.name for h in hosts),
                              self._each(hosts, lambda h: len(self.engine(h).nodes())),
                              strict=True))
            with self._lock:  # nodes started at once count each other
                for host, starting in self._starting.items():
                    counts[host] = counts.get(host, 0) + starting
                name = records.emptiest([h.name for h in hosts], counts)
                self._starting[name] = self._starting.get(name, 0) + 1
        else:
            record = self._labs(node.lab, node.instance).get((node.lab, node.instance))
            if record is None or not record.host:
                raise RuntimeFailure(f"{node.lab} ({node.instance}) has no networks on the "
                                     "swarm: its nodes have nowhere to go")
            name = record.host
        chosen = next((h for h in hosts if h.name == name), None)
        if chosen is None:
            raise EngineUnavailable(f"host {name} of the swarm, where {node.lab} "
                                    f"({node.instance}) runs, is not ready")
        return chosen

    @_wrapped
    def start_node(self, node: NodePlan) -> str:
        host = self._node_host(node)
        try:
            handle = self.engine(host).start_node(node)
        finally:
            if self.config.placement == "spread":
                with self._lock:
                    self._starting[host.name] -= 1
        self._where[handle] = host
        return handle

    def wait_ready(self, container: str, node: str) -> None:
        self._on(container, lambda rt: rt.wait_ready(container, node))

    def remove_node(self, info: NodeInfo) -> None:
        if info.status == HOST_DOWN:
            return  # out of reach; removed when its host is back (nodes(): orphans)
        self._on(info.container, lambda rt: rt.remove_node(info))
        self._where.pop(info.container, None)

    @_wrapped
    def remove_network(self, net: NetworkInfo) -> None:
        handle = net.handle or self._overlay(net.lab, net.instance, net.name)
        deadline = time.monotonic() + REMOVE_WAIT
        while True:
            try:
                self._manager.remove_network(handle)
                self._gone(handle, deadline)
                return
            except EngineNotFound:
                return
            except EngineError as exc:
                if "not found" in exc.explanation:  # a manager says so with a 500 at times
                    return
                # A host lets go of a removed node's endpoint a moment after: wait for it.
                busy = ("active endpoints" in exc.explanation
                        or "in use by task" in exc.explanation)
                if busy and self._held_by_a_host_down(handle):
                    return  # retired: the next generation replaces it (swarm_labs.py)
                if not busy:
                    raise
                if time.monotonic() > deadline:
                    raise NetworkInUse(f"network {handle} still has nodes on it") from None
                time.sleep(0.2)

    def _held_by_a_host_down(self, handle: str) -> bool:
        labels = self._manager.inspect_network(handle).get("Labels") or {}
        host = labels.get(records.HOST, "")
        return bool(host) and host not in {h.name for h in self.hosts() if h.ready}

    def _gone(self, handle: str, deadline: float) -> None:
        """The manager lists a removed network a moment longer: an `up` right after a
        `down` would find its name taken. Wait until it is gone from the list."""
        while self._manager.networks(filters={"id": [handle]}) and time.monotonic() < deadline:
            time.sleep(0.1)

    @_wrapped
    def ensure_image(self, ref: str | None = None, progress: Progress | None = None,
                     method: str = "auto", force: bool = False, alias: bool = False) -> str:
        progress = progress or _quiet
        hosts = self._ready_hosts()
        if ref is not None:
            missing = [h.name for h, ok in zip(hosts, self._each(
                hosts, lambda h: self._image_label(h, ref, "") is not None), strict=True)
                if not ok]
            if missing:
                raise ImageMissing(f"image '{ref}' is not on {', '.join(missing)} of the swarm "
                                   "(no registry to pull from): load it there first")
            return ref
        want = images.node_hash()
        ref = images.node_ref(want)
        stale = [h for h, label in zip(hosts, self._each(
            hosts, lambda h: self._image_label(h, ref, images.HASH_LABEL)), strict=True)
            if force or label != want]
        if stale:
            local = SdkEngine.from_env()  # built here (mmdebstrap), copied to each host
            DockerRuntime(local).ensure_image(None, progress, method=method, force=force)
            for host in stale:
                progress(f"loading {ref} into {host.name}")
            self._each(stale, lambda h: local.copy_image_to(self.engine(h)._api, ref))
        if alias:
            self._each(hosts, lambda h: self.engine(h)._api.tag(ref, images.NODE_REPO,
                                                                  "latest"))
        return ref

    def _image_label(self, host: Host, ref: str, key: str) -> str | None:
        """The image's label `key` on a host ("" for an image without it); None if the
        host has no such image."""
        try:
            config = self.engine(host)._api.inspect_image(ref)["Config"]
        except EngineNotFound:
            return None
        return (config.get("Labels") or {}).get(key, "")

    def ensure_isolation(self, progress: Progress | None = None) -> None:
        """Nothing to install: a lab overlay is internal (no gateway) and has no
        interface on any host, so no packet of a lab reaches a host or leaves the lab.
        The host guard's nftables (host_guard.py) are not put on the swarm's hosts."""

    def place_link_loss(self, node: NodeInfo, network: str, percent: float) -> bool:
        return False  # the agent's drop inside the node stays (after its capture)

    # -- inside a node -------------------------------------------------------------
    def run(self, container: str, argv: list[str], user: str = "", *,
            limit: int = RUN_LIMIT, deadline: float = RUN_DEADLINE) -> ExecResult:
        return self._on(container, lambda rt: rt.run(container, argv, user, limit=limit,
                                                     deadline=deadline))

    def exec_stream(self, container: str, argv: list[str]) -> ExecStream:
        return self._on(container, lambda rt: rt.exec_stream(container, argv))

    def start_background(self, container: str, argv: list[str]) -> None:
        self._on(container, lambda rt: rt.start_background(container, argv))

    def open_session(self, container: str, argv: list[str], tty: bool = True) -> Session:
        return self._on(container, lambda rt: rt.open_session(container, argv, tty))

    def logs(self, container: str, follow: bool = False, tail: int | str = "all"
             ) -> Iterator[bytes]:
        return self._on(container, lambda rt: rt.logs(container, follow, tail))

    def read_file(self, container: str, path: str, limit: int = READ_LIMIT) -> bytes:
        return self._on(container, lambda rt: rt.read_file(container, path, limit))

    def follow_file(self, container: str, path: str) -> Iterator[bytes]:
        return follow_by_tail(self, container, path)

    # -- which host runs a node ----------------------------------------------------
    def _on(self, container: str, call: Callable[[DockerRuntime], T]) -> T:
        """`call` on the engine running `container`. A node last seen on a host where it
        is gone now may have been made again elsewhere: looked for afresh, once."""
        cached = self._where.get(container)
        host = cached or self._locate(container)
        try:
            return _wrapped(call)(self.engine(host))
        except (NodeStopped, RuntimeFailure):
            if cached is None:
                raise
            self._where.pop(container, None)
            found = self._locate(container)
            if found == cached:
                raise
            return _wrapped(call)(self.engine(found))

    @_wrapped
    def _locate(self, container: str) -> Host:
        """The host whose engine has the container; a ready host if none has (its engine
        then says the node is gone, as Docker's would)."""
        hosts = self._ready_hosts()
        lab, instance, _ = naming.parse_container_name(container)
        record = self._labs(lab, instance).get((lab, instance)) if lab != "?" else None
        placed = record.host if record else ""
        first = [h for h in hosts if h.name == placed]
        for host in first + [h for h in hosts if h.name != placed]:
            with contextlib.suppress(LabctlError):
                if self.engine(host, LIST_TIMEOUT)._api.containers(
                        all=True, filters={"name": f"^/{container}$"}):
                    self._where[container] = host
                    return host
        return first[0] if first else hosts[0]
