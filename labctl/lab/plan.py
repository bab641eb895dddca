"""Turn a validated lab into network and container plans: pure data, no Docker calls.

Plans are made from the lab's blueprint (blueprint.py), never from the model itself,
so an `up` of a cached blueprint needs no pydantic. Least privilege is decided here:
every capability is dropped, and each node gets back only what its declaration needs.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field

from labctl.lab import blueprint, naming
from labctl.lab.blueprint import Blueprint, NodeBlueprint
from labctl.lab.probe_ports import RESERVED_SYSCTL

CAPTURE_DIR = "/captures"

# Every node: bind the course's privileged ports (80) as root; raw sockets
# for ping, tcpdump, nmap SYN scans and hping3; SETUID/SETGID so tcpdump can
# stay root (-Z root) and services can run as another user; KILL so the agent can
# stop a fork bomb run as another user (it reaches only the node's own processes).
BASE_CAPABILITIES = ("KILL", "NET_BIND_SERVICE", "NET_RAW", "SETUID", "SETGID")
# Changing interfaces, routes, queues or iptables: offloads for captures,
# MTU and impairments, routes through a router, NAT.
NET_ADMIN = "NET_ADMIN"
# Docker lets any user bind any port in a container (ip_unprivileged_port_start
# = 0). The course teaches that ports below 1024 need privileges: restore that.
# And labctl's probes send from a reserved range that no program gets by chance (probes.py).
DEFAULT_SYSCTLS = {"net.ipv4.ip_unprivileged_port_start": "1024",
                   RESERVED_SYSCTL[0]: RESERVED_SYSCTL[1]}
# no-new-privileges: setuid binaries gain nothing. AppArmor's docker-default where the
# host has AppArmor (the engine ignores it elsewhere). Seccomp: the engine's default
# profile applies to every container not marked unconfined; Docker 20.10 has no name
# for it (seccomp=builtin is refused), so it is asserted by a test rather than named.
SECURITY_OPT = ("no-new-privileges", "apparmor=docker-default")
# The root filesystem is read-only, so nothing a node does lands on the host's disk.
# What the course's tools write goes to tmpfs, sized as a fraction of memory_mib
# (tmpfs pages count toward the node's memory limit): path -> (divisor, options).
# At the default 128 MiB: /tmp 16, /root 8, /var/tmp 4, /run 4, /dev/shm 4 MiB, and
# /captures 32 MiB on capturing nodes; at most 68 MiB, leaving over half for processes.
TMPFS = {
    "/tmp": (8, "mode=1777,exec"),  # lab steps' files (loss-lab's /tmp/received), scripts
    "/root": (16, "mode=700,exec"),  # HOME and working directory of `exec` and `shell`
    "/var/tmp": (32, "mode=1777"),
    "/run": (32, "mode=755"),  # iptables' xtables.lock, ip netns
}
CAPTURE_TMPFS_DIVISOR = 4  # a capture stops at max_packets, max_seconds or this size
SHM_DIVISOR = 32  # /dev/shm (Docker's default is 64 MiB whatever the memory limit)
WORKDIR = "/root"


@dataclass(frozen=True)
class NetworkPlan:
    lab: str
    instance: str
    name: str  # as the lab calls it
    subnet: str | None = None  # None: the runtime allocates one from labctl's pool
    # Carries packets for other subnets (a router's side): Docker's internal
    # mode would drop them, so it is a plain bridge; the host guard
    # (isolation.py) keeps them in the lab.
    routed: bool = False
    nodes: tuple[str, ...] = ()  # every node of the lab, recorded with the network

    @staticmethod
    def gateway(subnet: str) -> str:
        """The bridge's address on the subnet the network gets (see gateway())."""
        return gateway(subnet)

    @property
    def pool_key(self) -> str:
        """Where pool allocation starts (a hash of it): concurrent `up`s rarely race."""
        return f"{self.lab}/{self.instance}/{self.name}"


@dataclass(frozen=True)
class Endpoint:
    network: str  # as the lab calls it
    ip: str


@dataclass(frozen=True)
class NodePlan:
    lab: str
    instance: str
    name: str
    container: str
    endpoints: tuple[Endpoint, ...]
    image: str
    capabilities: tuple[str, ...]
    memory_bytes: int
    pids: int
    nano_cpus: int
    sysctls: dict[str, str] = field(default_factory=dict)
    services: str = ""  # "http/tcp/80,echo/tcp/50007": status works without the YAML
    capture: str = ""  # pcap path inside the node, if it captures
    spec: dict = field(default_factory=dict)
    agent: bool = True  # labctl's image: its agent sets the node up and reports readiness
    read_only: bool = True
    tmpfs: dict[str, str] = field(default_factory=dict)  # path -> mount options
    shm_bytes: int = 64 * 1024 * 1024
    security_opt: tuple[str, ...] = SECURITY_OPT
    extra_hosts: dict[str, str] = field(default_factory=dict)  # written into /etc/hosts
    workdir: str = ""  # "": the image's own

    @property
    def ip(self) -> str:
        return self.endpoints[0].ip

    @property
    def networks(self) -> tuple[str, ...]:
        return tuple(e.network for e in self.endpoints)

    @property
    def spec_json(self) -> str:
        return json.dumps(self.spec, separators=(",", ":"))


@dataclass(frozen=True)
class LabPlan:
    lab: str
    instance: str
    networks: tuple[NetworkPlan, ...]
    nodes: tuple[NodePlan, ...]


def services_label(node: NodeBlueprint) -> str:
    return ",".join(f"{s['name']}/{s['proto']}/{s['port']}" for s in node.services)


def capture_file(node: str) -> str:
    return f"{CAPTURE_DIR}/{node}.pcap"


def capabilities(node: NodeBlueprint) -> tuple[str, ...]:
    caps = set(BASE_CAPABILITIES) | set(node.cap_add)
    if node.capture or node.links or node.routes or node.masquerade:
        caps.add(NET_ADMIN)
    return tuple(sorted(caps))


def gateway(subnet: str) -> str:
    """The first address of a subnet belongs to the bridge (never given to a node)."""
    return str(next(ipaddress.ip_network(subnet).hosts()))


def tmpfs_mounts(memory_mib: int, capture: bool) -> dict[str, str]:
    """The writable places of a read-only node, each bounded in size."""
    mounts = dict(TMPFS)
    if capture:
        mounts[CAPTURE_DIR] = (CAPTURE_TMPFS_DIVISOR, "mode=755")
    return {path: f"size={_mib(memory_mib, divisor)}m,{options}"
            for path, (divisor, options) in mounts.items()}


def _mib(memory_mib: int, divisor: int) -> int:
    return max(1, memory_mib // divisor)



def routed_networks(lab: Blueprint) -> set[str]:
    """Networks on which a node sends packets for another subnet to a router."""
    routed = set()
    for node in lab.nodes:
        for to, via in node.routes:
            routed |= {n for n in node.networks if n in lab.node(via).networks}
            routed.add(to)  # replies come back through the router on that side
    return routed


def _blueprint(lab) -> Blueprint:
    """A model.Lab or its blueprint (tests and tools plan models directly)."""
    if isinstance(lab, Blueprint):
        return lab
    return blueprint.of(lab)


def plan_networks(lab: Blueprint, instance: str) -> tuple[NetworkPlan, ...]:
    """The lab's networks, before any subnet is allocated (fixed ones carry theirs)."""
    lab = _blueprint(lab)
    routed = routed_networks(lab)
    nodes = tuple(n.name for n in lab.nodes)
    return tuple(NetworkPlan(lab.name, instance, name, subnet, name in routed, nodes)
                 for name, subnet in lab.networks)


def plan_nodes(lab: Blueprint, instance: str, subnets: dict[str, str], default_image: str
               ) -> tuple[NodePlan, ...]:
    """`subnets` gives each lab network the subnet the runtime allocated."""
    lab = _blueprint(lab)
    addresses: dict[str, dict[str, str]] = {}  # network -> node -> ip
    for net_name, _ in lab.networks:
        hosts = ipaddress.ip_network(subnets[net_name]).hosts()
        next(hosts)  # .1 belongs to the bridge
        addresses[net_name] = {node.name: str(next(hosts)) for node in lab.nodes
                               if net_name in node.networks}
    nodes = []
    for node in lab.nodes:
        name = node.name
        nodes.append(NodePlan(
            lab=lab.name,
            instance=instance,
            name=name,
            container=naming.container_name(lab.name, instance, name),
            endpoints=tuple(Endpoint(net, addresses[net][name]) for net in node.networks),
            image=node.image or default_image,
            capabilities=capabilities(node),
            memory_bytes=node.memory_mib * 1024 * 1024,
            pids=node.pids,
            nano_cpus=int(node.cpus * 1e9),
            sysctls={**DEFAULT_SYSCTLS, **node.sysctls},
            services=services_label(node),
            capture=capture_file(name) if node.capture else "",
            spec=node_spec(node, lab, addresses, subnets),
            agent=node.image is None,
            tmpfs=tmpfs_mounts(node.memory_mib, node.capture is not None),
            shm_bytes=_mib(node.memory_mib, SHM_DIVISOR) * 1024 * 1024,
            extra_hosts=unshared_hosts(node, lab, addresses),
            workdir="" if node.image else WORKDIR,
        ))
    return tuple(nodes)


def plan_lab(lab: Blueprint, instance: str, subnets: dict[str, str], default_image: str
             ) -> LabPlan:
    """Both plans at once, with every subnet already known (for tests and tools)."""
    lab = _blueprint(lab)
    networks = tuple(NetworkPlan(n.lab, n.instance, n.name, subnets[n.name], n.routed)
                     for n in plan_networks(lab, instance))
    return LabPlan(lab.name, instance, networks,
                   plan_nodes(lab, instance, subnets, default_image))


def unshared_hosts(node: NodeBlueprint, lab: Blueprint, addresses: dict[str, dict[str, str]]
                   ) -> dict[str, str]:
    """Docker's DNS only answers for shared networks: name the others in /etc/hosts."""
    mine = set(node.networks)
    return {other.name: addresses[other.networks[0]][other.name]
            for other in lab.nodes
            if other.name != node.name and not mine & set(other.networks)}


def node_spec(node: NodeBlueprint, lab: Blueprint, addresses: dict[str, dict[str, str]],
              subnets: dict[str, str]) -> dict:
    """What the in-node agent sets up, in order: links, routes, NAT, capture, services."""
    name = node.name
    spec: dict = {"node": name, "services": [dict(s) for s in node.services]}
    if node.links:
        spec["links"] = [{"ip": addresses[net][name], **link}
                         for net, link in node.links.items()]
    if node.routes:
        routes = []
        for to, via in node.routes:
            shared = next(n for n in node.networks if n in lab.node(via).networks)
            routes.append({"to_network": to, "via": addresses[shared][via],
                           "subnet": subnets[to]})
        spec["routes"] = routes
    if node.masquerade:
        spec["masquerade"] = {"ip": addresses[node.masquerade][name]}
    if node.capture:
        spec["capture"] = {**node.capture, "file": capture_file(name)}
        if node.capture["interface"] != "any":
            spec["disable_offload"] = [node.capture["interface"]]
    return spec
