"""Pass two of validation: what the model cannot see alone (references between nodes,
networks and ports; overlapping subnets).

It runs even when pass one failed, over the items that did validate, so a
structure error in one node hides no reference error elsewhere. Names given
for items that failed still count as known, so they cause no second error.
Every check is linear (or n log n) in the size of the lab.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from labctl.errors import Problem
from labctl.lab import facts, model
from labctl.lab.suggestions import Suggester
from labctl.lab.yaml_reader import Document, dotted

AGENT_KEYS = ("services", "capture", "links", "routes", "masquerade")
NODE_FIELDS = ("node", "on", "from_", "to", "client", "server", "seen_on")


@dataclass
class Parts:
    """The lab's items that passed pass one, under their original names and indices."""

    node_names: list[str]
    network_names: list[str]
    nodes: dict[str, model.Node] = field(default_factory=dict)
    networks: dict[str, model.Network] = field(default_factory=dict)
    steps: list[tuple[int, model.Step]] = field(default_factory=list)
    checks: list[tuple[int, model.Check]] = field(default_factory=list)
    complete: bool = True  # every item validated

    @classmethod
    def of_lab(cls, lab: model.Lab) -> Parts:
        return cls(list(lab.nodes), list(lab.networks), dict(lab.nodes), dict(lab.networks),
                   list(enumerate(lab.steps)), list(enumerate(lab.checks)))

    @classmethod
    def of_data(cls, data: dict) -> Parts:
        """Validate each item on its own; keep those that pass."""
        nodes = _mapping(data.get("nodes"))
        default = {model.DEFAULT_NETWORK: {}}
        networks = _mapping(data.get("networks", default))
        parts = cls([str(k) for k in nodes], [str(k) for k in networks], complete=False)
        parts.nodes = _valid_items(model.Node, nodes)
        parts.networks = _valid_items(model.Network, networks)
        parts.steps = list(_valid_items(model.Step, _listed(data.get("steps"))).items())
        parts.checks = list(_valid_items(model.Check, _listed(data.get("checks"))).items())
        return parts


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _listed(value: object) -> dict:
    return dict(enumerate(value)) if isinstance(value, list) else {}


def _valid_items(cls, items: dict) -> dict:
    valid = {}
    for key, value in items.items():
        with contextlib.suppress(ValidationError):  # pass one reported it
            valid[key] = cls.model_validate(value)
    return valid


def _span(subnet: str) -> tuple[int, int]:
    """First and last address of a validated `a.b.c.d/p`, as integers (ipaddress is slow)."""
    address, prefix = subnet.split("/")
    start = int.from_bytes(socket.inet_aton(address), "big")
    return start, start + (1 << (32 - int(prefix))) - 1


def problems(parts: Parts, doc: Document) -> list[Problem]:
    found: list[Problem] = []

    def add(loc: tuple, message: str) -> None:
        found.append(Problem(doc.file, doc.line_of(loc), dotted(loc), message))

    _References(parts, add).run()
    return found


class _References:
    def __init__(self, parts: Parts, add: Callable[[tuple, str], None]):
        self.parts = parts
        self.add = add
        self.suggest = Suggester()
        self.node_set = set(parts.node_names)
        self.network_set = set(parts.network_names)
        # for facts: each node's networks (None: the node failed pass one)
        self.node_networks = {name: (parts.nodes[name].network_names if name in parts.nodes
                                     else None) for name in parts.node_names}

    def unknown_node(self, loc: tuple, name: str) -> None:
        self.add(loc, self.suggest.unknown(name, self.parts.node_names, "node"))

    def unknown_network(self, loc: tuple, name: str) -> None:
        self.add(loc, self.suggest.unknown(name, self.parts.network_names, "network"))

    def run(self) -> None:
        self.subnets()
        for name, node in self.parts.nodes.items():
            self.node(name, node)
        if self.parts.complete:
            joined = {net for node in self.parts.nodes.values() for net in node.network_names}
            for net in self.parts.network_names:
                if net not in joined:
                    self.add(("networks", net), f"no node joins network '{net}'")
        for i, step in self.parts.steps:
            if step.on not in self.node_set:
                self.unknown_node(("steps", i, "on"), step.on)
            self.facts(("steps", i), step)
            self.regex(("steps", i, "stdout_matches"), step.stdout_matches)
        self.checks()

    def regex(self, loc: tuple, pattern: str | None) -> None:
        if pattern is None:
            return
        try:
            re.compile(pattern)
        except re.error as exc:
            self.add(loc, f"not a regular expression: {exc}")

    def facts(self, loc: tuple, item) -> None:
        """Every `{{ ... }}` in the item's text names a fact of this lab."""
        for key, text in facts.texts(item):
            for name in facts.names_in(text):
                why = facts.problem(name, self.node_networks, self.suggest.unknown)
                if why:
                    self.add((*loc, *key), why)

    def subnets(self) -> None:
        """Overlaps found by sorting: each subnet meets at most the widest one before it."""
        order = {name: i for i, name in enumerate(self.parts.networks)}
        spans = sorted((*_span(net.subnet), name) for name, net in self.parts.networks.items()
                       if net.subnet)
        widest: tuple[int, int, str] | None = None
        reported: set[str] = set()
        for start, end, name in spans:
            if widest and start <= widest[1]:
                # said once per network, at the one written later, naming the other
                first, later = sorted((widest[2], name), key=order.__getitem__)
                if later not in reported:
                    reported.add(later)
                    subnet = self.parts.networks[later].subnet
                    self.add(("networks", later, "subnet"), f"{subnet} overlaps network "
                             f"'{first}' ({self.parts.networks[first].subnet})")
            if widest is None or end > widest[1]:
                widest = (start, end, name)

    def node(self, name: str, node: model.Node) -> None:
        where = ("nodes", name)
        if node.image is not None:
            for key in AGENT_KEYS:
                if getattr(node, key):
                    self.add((*where, key), f"{key} needs labctl's node image (its agent sets "
                             f"them up); drop `image: {node.image}` or this key")
        seen: dict[tuple[str, int], int] = {}
        for i, service in enumerate(node.services):
            key = (service.proto, service.port)
            if key in seen:
                self.add((*where, "services", i),
                         f"{service.proto} port {service.port} is already used by "
                         f"services[{seen[key]}]")
            seen[key] = i
        for i, net in enumerate(node.networks or []):
            if net not in self.network_set:
                self.unknown_network((*where, "networks", i), net)
        if node.networks is not None and len(set(node.networks)) != len(node.networks):
            self.add((*where, "networks"), "a network is listed twice")
        mine = node.network_names
        for net in node.links:
            if net not in mine:
                self.add((*where, "links", net),
                         f"{name} is not on network '{net}' (its networks: {', '.join(mine)})")
        if node.masquerade is not None and node.masquerade not in mine:
            self.add((*where, "masquerade"), f"{name} is not on network '{node.masquerade}'")
        for i, route in enumerate(node.routes):
            self.route((*where, "routes", i), name, node, route)

    def route(self, loc: tuple, name: str, node: model.Node, route: model.Route) -> None:
        if route.to not in self.network_set:
            self.unknown_network((*loc, "to"), route.to)
        if route.via not in self.node_set:
            self.unknown_node((*loc, "via"), route.via)
            return
        via = self.parts.nodes.get(route.via)
        if via is None:
            return  # its own problems are reported
        if not set(via.network_names) & set(node.network_names):
            self.add((*loc, "via"), f"{route.via} shares no network with {name}")
        elif route.to in self.network_set and route.to not in via.network_names:
            self.add((*loc, "via"), f"{route.via} is not on network '{route.to}'")

    def checks(self) -> None:
        capturing = any(node.capture for node in self.parts.nodes.values())
        for i, check in self.parts.checks:
            spec = check.spec
            self.facts(("checks", i, check.kind), spec)
            self.regex(("checks", i, check.kind, "stdout_matches"),
                       getattr(spec, "stdout_matches", None))
            for name in NODE_FIELDS:
                value = getattr(spec, name, None)
                if value is not None and value not in self.node_set:
                    key = "from" if name == "from_" else name
                    self.unknown_node(("checks", i, check.kind, key), value)
            if check.kind in model.WIRE_KINDS and not capturing and self.parts.complete:
                self.add(("checks", i, check.kind),
                         f"{check.kind} is read from captured packets, but no node captures: "
                         f"add `capture: {{}}` to {spec.server} or {spec.client}")
