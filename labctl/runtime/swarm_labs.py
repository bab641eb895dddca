"""The swarm runtime's record of labs, read from the labels of their overlays (pure).

Each lab instance's networks carry, beside the lab's own labels, the host its nodes
run on (`labctl.host`, empty when spread) and a generation (`labctl.generation`). A
lab placed on a host that went down cannot take its networks with it: the manager
keeps them while that host holds their endpoints. `up` then makes the lab again on a
ready host, on networks of the next generation (their names differ); the older ones
are retired, and removed once their host is back and has let go of them.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field

from labctl.lab import naming

HOST = "labctl.host"  # on a lab's networks: the swarm host its nodes run on ("" spread)
GENERATION = "labctl.generation"  # on a lab's networks: made again after a host went down


def overlay_name(lab: str, instance: str, network: str, generation: int = 0) -> str:
    """A swarm network's name is one DNS label (no dots, at most 63 characters):
    `lc-<hash of instance and lab>[g<generation>]-<network>`. The lab's own network
    name comes last, so a node's interfaces are ordered by it, as Docker orders bridges."""
    digest = hashlib.sha256(f"{instance}/{lab}".encode()).hexdigest()[:12]
    return f"lc-{digest}{f'g{generation}' if generation else ''}-{network}"


def swarm_range(subnet: str) -> str:
    """Where the swarm picks addresses of its own on a lab network: the top eighth.

    Each host that runs a node of an overlay takes an address on it for its load
    balancer, picked by the manager. Planned addresses count up from the bottom
    (plan.py), so they never meet: a /24's planned .2, .3, ... and the swarm's .224-.255.
    """
    net = ipaddress.IPv4Network(subnet)
    prefix = min(net.prefixlen + 3, 30)
    return str(list(net.subnets(new_prefix=prefix))[-1])


@dataclass
class LabNetworks:
    """One lab instance's networks as the manager lists them."""

    lab: str
    instance: str
    host: str  # where its nodes run ("" when spread over hosts)
    generation: int
    live: list[dict] = field(default_factory=list)  # the current generation's networks
    retired: list[dict] = field(default_factory=list)  # older generations' networks

    @property
    def nodes(self) -> tuple[str, ...]:
        labels = (self.live[0].get("Labels") or {}) if self.live else {}
        return tuple(filter(None, labels.get(naming.LAB_NODES, "").split(",")))

    def names(self) -> dict[str, str]:
        """The lab's network name -> its overlay's name."""
        return {(n.get("Labels") or {}).get(naming.NETWORK, ""): n.get("Name", "")
                for n in self.live}


def _generation(net: dict) -> int:
    text = (net.get("Labels") or {}).get(GENERATION, "0")
    return int(text) if text.isdigit() else 0


def by_lab(networks: list[dict]) -> dict[tuple[str, str], LabNetworks]:
    """The manager's labelled networks, grouped by lab instance; the newest generation
    of each is the live one."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for net in networks:
        labels = net.get("Labels") or {}
        if naming.LAB in labels:
            groups.setdefault((labels[naming.LAB], labels.get(naming.INSTANCE, "?")),
                              []).append(net)
    found = {}
    for (lab, instance), nets in groups.items():
        newest = max(_generation(n) for n in nets)
        live = [n for n in nets if _generation(n) == newest]
        found[(lab, instance)] = LabNetworks(
            lab, instance, (live[0].get("Labels") or {}).get(HOST, ""), newest, live,
            [n for n in nets if _generation(n) != newest])
    return found


def nodes_per_host(labs: dict[tuple[str, str], LabNetworks]) -> dict[str, int]:
    """Lab nodes placed on each host (live generations of labs placed whole on one)."""
    counts: dict[str, int] = {}
    for record in labs.values():
        if record.host:
            counts[record.host] = counts.get(record.host, 0) + len(record.nodes)
    return counts


def emptiest(hosts: list[str], counts: dict[str, int]) -> str:
    """The host with the fewest lab nodes (by name among equals)."""
    return min(hosts, key=lambda h: (counts.get(h, 0), h))
