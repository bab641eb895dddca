"""Bring labs up and down. Usable as a library: progress goes to a callback.

The engine speaks only to a Runtime (runtime/base.py). What runs is recorded
by the runtime (Docker labels), so `status` and `down` need no YAML, and
anything an interrupted `up` created can be found and removed.

`up` plans once: the networks (pure), then their subnets (allocated by the
runtime as it creates them), then the nodes (pure, with those subnets).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from labctl.errors import (
    InvalidInput,
    LabctlError,
    LabRemoved,
    NetworkInUse,
    NodeStopped,
    NotRunning,
    SubnetTaken,
)
from labctl.interrupts import shielded
from labctl.lab.blueprint import Blueprint, of
from labctl.runtime.base import NetworkInfo, NodeInfo, Progress, Runtime
from labctl.runtime.base import quiet as _quiet
from labctl.runtime.images import node_ref
from labctl.service.locks import being_removed, claimed, removing

if TYPE_CHECKING:
    from labctl.lab import model
    from labctl.lab.blueprint import Blueprint
    from labctl.lab.plan import NodePlan

__all__ = ["Engine", "shielded"]

# Times `down` removes the nodes a concurrent `up` put on a network after the listing
# (one per node that `up` was starting at the time is plenty).
DOWN_ROUNDS = 5





@dataclass
class _Made:
    """What one `up` created so far (names), to tell its own failure from a `down`'s."""

    lab: str
    instance: str
    networks: set[str] = field(default_factory=set)
    containers: set[str] = field(default_factory=set)


class Engine:
    def __init__(self, runtime: Runtime, progress: Progress = _quiet):
        self.runtime = runtime
        self.progress = progress
        # (lab, instance) brought up by this engine, recorded before `up` returns, so a
        # caller interrupted after that can still remove exactly what it made.
        self.created: list[tuple[str, str]] = []
        self._guard: Future | None = None  # lab networks sealed off, once per engine
        self._guard_lock = threading.Lock()

    # -- up ---------------------------------------------------------------
    def up(self, lab: model.Lab | Blueprint, instance: str) -> list[NodeInfo]:
        """Start the lab and return once every service listens; idempotent.

        One `up` per lab instance at a time (claims.py): a second one waits
        for the first, then finds the lab up. A half-made lab is rebuilt.
        """
        blueprint = lab if isinstance(lab, Blueprint) else of(lab)
        with claimed(blueprint.name, instance, self.progress):
            return self._up(blueprint, instance)

    def _up(self, lab: Blueprint, instance: str) -> list[NodeInfo]:
        guard = self._ensure_guard()
        # Three questions to the engine at once: each is a round trip of its own. The
        # image is needed only once the networks exist.
        pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="labctl-ask")
        try:
            found_nodes = pool.submit(self.status, lab.name, instance)
            found_networks = pool.submit(self.runtime.networks, lab.name, instance)
            found_image = pool.submit(self._image_for, lab)
        finally:
            pool.shutdown(wait=False)
        running = found_nodes.result()
        if running and len(running) == len(lab.nodes) and all(n.running for n in running):
            self.progress(f"{lab.name} ({instance}) is already up")
            guard.result()  # back in place if the host's ruleset was flushed
            return running
        if running or found_networks.result():
            self.progress("repairing a half-made lab: removing what an earlier run left")
            self.down(lab.name, instance)
        made = _Made(lab.name, instance)
        try:
            nodes = self._plan(lab, instance, found_image.result, made)
            guard.result()  # before any node starts: no node, no packet
            self._start_nodes(nodes, made)
            self.created.append((lab.name, instance))
            running = self.status(lab.name, instance)
            self._place_link_loss(lab, running)
            return running
        except BaseException:
            with shielded():
                self.progress("rolling back")
                self.down(lab.name, instance)
            raise

    def _place_link_loss(self, lab: Blueprint, running: list[NodeInfo]) -> None:
        """Lossy links lose packets between the captures where the runtime can do it."""
        by_name = {info.node: info for info in running}
        for node in lab.nodes:
            for network, link in node.links.items():
                loss = link["loss_percent"]
                if loss and node.name in by_name:
                    where = ("on the way to the node: its capture never shows a lost packet"
                             if self.runtime.place_link_loss(by_name[node.name], network, loss)
                             else "inside the node, after its capture")
                    self.progress(f"{node.name}: {loss:g}% loss on {network}, {where}")

    def _ensure_guard(self) -> Future:
        """Seal lab networks off (runtime.ensure_isolation) while they are being made."""
        with self._guard_lock:
            failed = self._guard is not None and self._guard.done() and self._guard.exception()
            if self._guard is None or failed:
                self._guard = Future()
                threading.Thread(target=self._isolate, args=(self._guard,),
                                 name="labctl-guard", daemon=True).start()
            return self._guard

    def _isolate(self, future: Future) -> None:
        try:
            future.set_result(self.runtime.ensure_isolation(self.progress))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
            future.set_exception(exc)

    def _image_for(self, lab: Blueprint) -> str:
        for ref in sorted({n.image for n in lab.nodes if n.image}):
            self.runtime.ensure_image(ref)  # ImageMissing: there is no registry to pull from
        if any(not n.image for n in lab.nodes):
            return self.runtime.ensure_image(None, self.progress)
        return node_ref()  # every node names its own image: this one is unused

    def _plan(self, lab: Blueprint, instance: str, image: Callable[[], str], made: _Made
              ) -> tuple[NodePlan, ...]:
        """Networks first (their subnets come from the runtime), then the nodes on them."""
        from labctl.lab.plan import plan_networks, plan_nodes  # noqa: PLC0415 - lazy: up plans, down does not
        subnets: dict[str, str] = {}
        # Fixed subnets first: a clash is the lab author's to fix, before anything else.
        for net in sorted(plan_networks(lab, instance), key=lambda n: n.subnet is None):
            try:
                subnets[net.name] = self.runtime.create_network(net).subnet
            except SubnetTaken as taken:
                if net.subnet is None:
                    raise
                clash = InvalidInput(f"{lab.name}: network '{net.name}' wants {net.subnet}, "
                                     f"which overlaps {taken.held} held by {taken.holder}")
                clash.redacted = (f"{lab.name}: network '{net.name}' wants {net.subnet}, "
                                  f"which overlaps {taken.held}, already taken on this host")
                raise clash from None
            made.networks.add(net.name)
            self.progress(f"network {net.name} {subnets[net.name]}")
        return plan_nodes(lab, instance, subnets, image())

    def _start_nodes(self, nodes: tuple[NodePlan, ...], made: _Made) -> None:
        cancel = threading.Event()
        pool = ThreadPoolExecutor(max_workers=min(8, len(nodes)), thread_name_prefix="labctl-up")
        try:
            with shielded():  # a Ctrl-C inside submit() would leave a worker nobody waits for
                futures = [pool.submit(self._start_node, node, cancel, made) for node in nodes]
            for future in as_completed(futures):
                future.result()
        except BaseException as exc:
            cancel.set()
            # Asked before our own clean-up removes anything: did someone else?
            removed = isinstance(exc, LabctlError) and self._taken_away(made)
            # Removing the nodes ends the readiness streams the workers block on.
            with shielded():
                self._remove_nodes(self.runtime.nodes(nodes[0].lab, nodes[0].instance))
                pool.shutdown(wait=True, cancel_futures=True)
            if removed:
                raise LabRemoved(made.lab, made.instance) from None
            raise
        pool.shutdown()

    def _start_node(self, node: NodePlan, cancel: threading.Event, made: _Made) -> None:
        if cancel.is_set():
            return
        container = self.runtime.start_node(node)
        made.containers.add(container)
        if cancel.is_set():
            return
        if node.agent:  # a custom image has no agent to report readiness: running is all
            self.runtime.wait_ready(container, node.name)
        self.progress(f"{node.name} ready")

    def _taken_away(self, made: _Made) -> bool:
        """A concurrent `down` is removing the lab, or removed a node or network this
        `up` made (a node that fails on its own stays, stopped, until we remove it)."""
        if being_removed(made.lab, made.instance):
            return True
        try:
            nodes = {n.container for n in self.runtime.nodes(made.lab, made.instance)}
            networks = {n.name for n in self.runtime.networks(made.lab, made.instance)}
        except LabctlError:
            return False
        return bool(made.containers - nodes or made.networks - networks)

    # -- down and status ---------------------------------------------------
    def down(self, lab: str | None, instance: str | None) -> tuple[int, int]:
        """Remove every node and network of lab/instance (None: all of them)."""
        if lab is None or instance is None:  # a concurrent `up` sees its nodes vanish
            return self._down(lab, instance)
        with removing(lab, instance):
            return self._down(lab, instance)

    def _down(self, lab: str | None, instance: str | None) -> tuple[int, int]:
        nodes = self.runtime.nodes(lab, instance)
        with ThreadPoolExecutor(max_workers=1) as pool:  # asked while the nodes go
            listed = pool.submit(self.runtime.networks, lab, instance)
            self._remove_nodes(nodes)
            networks = listed.result()
        late = 0
        for net in networks:
            late += self._remove_network(net)
        return len(nodes) + late, len(networks)

    def _remove_network(self, net: NetworkInfo) -> int:
        """Remove a lab network, and the nodes a concurrent `up` put on it after they were
        listed (that `up` then says its lab was removed). Returns how many such nodes."""
        late = 0
        for _ in range(DOWN_ROUNDS):
            try:
                self.runtime.remove_network(net)
                return late
            except NetworkInUse:
                joined = self.runtime.nodes(net.lab, net.instance)
                self._remove_nodes(joined)
                late += len(joined)
        self.runtime.remove_network(net)  # still in use: its error says so
        return late

    def _remove_nodes(self, nodes: list[NodeInfo]) -> None:
        if nodes:
            with ThreadPoolExecutor(max_workers=min(8, len(nodes))) as pool:
                list(pool.map(self.runtime.remove_node, nodes))

    def gc(self, instance: str | None) -> tuple[int, int]:
        """What a crash left: our nodes that are not running, our networks none uses."""
        nodes = self.runtime.nodes(None, instance)
        dead = [n for n in nodes if not n.running]
        for node in dead:
            self.runtime.remove_node(node)
        used = {(n.lab, n.instance, net) for n in nodes if n.running for net in n.addresses}
        empty = [net for net in self.runtime.networks(None, instance)
                 if (net.lab, net.instance, net.name) not in used]
        for net in empty:
            self.runtime.remove_network(net)
        return len(dead), len(empty)

    def status(self, lab: str | None = None, instance: str | None = None) -> list[NodeInfo]:
        return sorted(self.runtime.nodes(lab, instance),
                      key=lambda n: (n.lab, n.instance, n.node))

    # -- finding what runs ---------------------------------------------------
    def running_nodes(self, lab: str, wanted: Iterable[str], instance: str,
                      infos: list[NodeInfo] | None = None) -> dict[str, NodeInfo]:
        """The lab's nodes by name, every one of `wanted` running, or NotRunning.

        `infos`: a listing already in hand (saves one call to the runtime).
        """
        if infos is None:
            infos = self.status(lab, instance)
        nodes = {n.node: n for n in infos}
        missing = [name for name in wanted if name not in nodes or not nodes[name].running]
        if missing and not infos:
            raise NotRunning(not_running(lab, instance, missing))
        if missing:  # the lab was there: part of it stopped or was removed
            raise NodeStopped(lab, instance, missing[0])
        return nodes

    def find_node(self, lab: str, instance: str, node: str) -> NodeInfo:
        nodes = self.status(lab, instance)
        if not nodes:
            raise NotRunning(not_running(lab, instance))
        for info in nodes:
            if info.node == node:
                if not info.running:
                    raise NodeStopped(lab, instance, node)
                return info
        names = ", ".join(n.node for n in nodes)
        raise InvalidInput(f"{lab} has no node '{node}' (nodes: {names})")


def not_running(lab: str, instance: str, missing: list[str] | None = None) -> str:
    """The one message for "the lab is not (fully) running", with the command to fix it
    (always with its `-i`: the suggestion must work from any shell)."""
    state = (f"not running (instance '{instance}')" if not missing else
             f"not fully running (instance '{instance}'; missing: {', '.join(missing)})")
    return f"{lab} is {state}: run `labctl up {lab} -i {instance}` first"
