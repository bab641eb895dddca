"""Bring labs up and down. Usable as a library: progress goes to a callback.

What runs is recorded only in Docker labels, so `status` and `down` need no
YAML, and anything an interrupted `up` created can be found and removed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING

import docker.errors

from labctl import images, naming, subnets
from labctl.errors import InvalidInput, NotRunning, RuntimeFailure
from labctl.runtime import DockerRuntime, NodeInfo

if TYPE_CHECKING:  # the model (pydantic) is only needed to bring a lab up
    from labctl import model
    from labctl.plan import LabPlan, NetworkPlan, NodePlan

Progress = Callable[[str], None]
SUBNET_ATTEMPTS = 8


def _quiet(_: str) -> None:
    pass


class Engine:
    def __init__(self, runtime: DockerRuntime, progress: Progress = _quiet):
        self.runtime = runtime
        self.progress = progress
        # (lab, instance) brought up by this engine, recorded before `up` returns, so a
        # caller interrupted after that can still remove exactly what it made.
        self.created: list[tuple[str, str]] = []

    # -- up ---------------------------------------------------------------
    def up(self, lab: model.Lab, instance: str) -> list[NodeInfo]:
        """Start the lab and return once every service listens; idempotent."""
        running = self.status(lab.name, instance)
        if running and len(running) == len(lab.nodes) and all(
                n.status == "running" for n in running):
            self.progress(f"{lab.name} ({instance}) is already up")
            return running
        if running or self.runtime.networks(naming.label_filters(lab.name, instance)):
            self.progress("removing leftovers of an earlier, unfinished run")
            self.down(lab.name, instance)
        image = self._image_for(lab)
        try:
            plan = self._create_networks(lab, instance, image)
            self._start_nodes(plan)
            self.created.append((lab.name, instance))
            return self.status(lab.name, instance)
        except BaseException:
            with shielded():
                self.progress("rolling back")
                self.down(lab.name, instance)
            raise

    def _image_for(self, lab: model.Lab) -> str:
        custom = {n.image for n in lab.nodes.values() if n.image}
        for ref in custom:
            if not self.runtime.has_image(ref):
                raise InvalidInput(f"image '{ref}' is not on this host (no registry to pull "
                                   "from): build it first")
        if any(not n.image for n in lab.nodes.values()):
            return images.ensure_images(self.runtime.api, self.progress)
        return images.NODE_IMAGE

    def _create_networks(self, lab: model.Lab, instance: str, image: str) -> LabPlan:
        """One internal bridge per lab network, on a subnet no other network holds."""
        from labctl.plan import network_plan, plan_lab, routed_networks
        routed = routed_networks(lab)
        used = self.runtime.used_subnets()
        fixed = {name: net.subnet for name, net in lab.networks.items() if net.subnet}
        for name, subnet in fixed.items():  # all checked before anything is created
            for held, holder in used.items():
                if ipaddress.IPv4Network(subnet).overlaps(held):
                    raise InvalidInput(f"{lab.name}: network '{name}' wants {subnet}, which "
                                       f"overlaps {held} held by Docker network '{holder}'")
        chosen: dict[str, str] = {}
        for name in lab.networks:
            if name in fixed:
                self._create_one(network_plan(lab.name, instance, name, fixed[name],
                                              name in routed))
                chosen[name] = fixed[name]
            else:
                chosen[name] = self._create_pooled(lab.name, instance, name, used,
                                                   name in routed)
            used[ipaddress.IPv4Network(chosen[name])] = name
            self.progress(f"network {name} {chosen[name]}")
        return plan_lab(lab, instance, chosen, image)

    def _create_pooled(self, lab: str, instance: str, name: str, used: dict, routed: bool
                       ) -> str:
        from labctl.plan import network_plan
        for attempt, subnet in enumerate(subnets.candidates(f"{lab}/{instance}/{name}",
                                                            list(used))):
            net = network_plan(lab, instance, name, str(subnet), routed)
            try:
                self._create_one(net)
            except docker.errors.APIError as exc:
                # Another `up` may have taken this subnet since we looked: try the next.
                if "overlap" in str(exc).lower() and attempt < SUBNET_ATTEMPTS:
                    continue
                raise RuntimeFailure(f"cannot create network {net.docker_name}: "
                                     f"{exc.explanation or exc}") from None
            return str(subnet)
        raise RuntimeFailure("no free subnet found")  # pragma: no cover

    def _create_one(self, net: NetworkPlan) -> None:
        # Shielded: an interrupt mid-request could leave a network we never saw.
        with shielded():
            self.runtime.create_network(net)

    def _start_nodes(self, plan: LabPlan) -> None:
        cancel = threading.Event()
        pool = ThreadPoolExecutor(max_workers=min(8, len(plan.nodes)),
                                  thread_name_prefix="labctl-up")
        try:
            futures = [pool.submit(self._start_node, plan, node, cancel) for node in plan.nodes]
            for future in as_completed(futures):
                future.result()
        except BaseException:
            cancel.set()
            # Removing the containers ends the readiness streams the workers block on.
            with shielded():
                self._remove(plan.lab, plan.instance)
                pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()

    def _start_node(self, plan: LabPlan, node: NodePlan, cancel: threading.Event) -> None:
        if cancel.is_set():
            return
        ident = self.runtime.create_node(node)
        if cancel.is_set():
            return
        self.runtime.start(ident)
        if node.agent:  # a custom image has no agent to report readiness: running is all
            self.runtime.wait_ready(ident, node.name)
        self.progress(f"{node.name} ready")

    # -- down and status ---------------------------------------------------
    def down(self, lab: str | None, instance: str | None) -> tuple[int, int]:
        """Remove every container and network carrying our labels for lab/instance."""
        return self._remove(lab, instance)

    def _remove(self, lab: str | None, instance: str | None) -> tuple[int, int]:
        filters = naming.label_filters(lab, instance)
        containers = self.runtime.containers(filters)
        if containers:
            def remove(summary: dict) -> None:
                capturing = naming.CAPTURE in (summary.get("Labels") or {})
                running = summary.get("State") == "running"
                self.runtime.remove_container(summary["Id"], graceful=capturing and running)
            with ThreadPoolExecutor(max_workers=min(8, len(containers))) as pool:
                list(pool.map(remove, containers))
        networks = self.runtime.networks(filters)
        for net in networks:
            self.runtime.remove_network(net["Id"])
        return len(containers), len(networks)

    def gc(self, instance: str | None) -> tuple[int, int]:
        """What a crash left: our containers that are not running, our empty networks."""
        filters = naming.label_filters(None, instance)
        dead = [c for c in self.runtime.containers(filters) if c.get("State") != "running"]
        for container in dead:
            self.runtime.remove_container(container["Id"])
        empty = [n for n in self.runtime.networks(filters)
                 if not self.runtime.network_in_use(n["Id"])]
        for net in empty:
            self.runtime.remove_network(net["Id"])
        return len(dead), len(empty)

    def status(self, lab: str | None = None, instance: str | None = None) -> list[NodeInfo]:
        infos = [self.runtime.node_info(c)
                 for c in self.runtime.containers(naming.label_filters(lab, instance))]
        return sorted(infos, key=lambda n: (n.lab, n.instance, n.node))

    def find_node(self, lab: str, instance: str, node: str) -> NodeInfo:
        nodes = self.status(lab, instance)
        if not nodes:
            raise NotRunning(f"{lab} is not running (instance '{instance}'): "
                             f"run `labctl up {lab}` first")
        for info in nodes:
            if info.node == node:
                if info.status != "running":
                    raise NotRunning(f"node '{node}' of {lab} is {info.status}")
                return info
        names = ", ".join(n.node for n in nodes)
        raise InvalidInput(f"{lab} has no node '{node}' (nodes: {names})")


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Hold off SIGINT/SIGTERM while cleaning up, so a second Ctrl-C cannot leak."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
