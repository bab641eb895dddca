"""Turn a validated lab into network and container plans: pure data, no Docker calls.

Least privilege is decided here: every capability is dropped, and each node
gets back only what its declaration needs.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field

from labctl import model, naming

SERVICES_DIR = "/opt/labctl/services"
CAPTURE_DIR = "/captures"

# Every node: bind the course's privileged ports (80) as root; raw sockets
# for ping, tcpdump, nmap SYN scans and hping3; SETUID/SETGID so tcpdump can
# stay root (-Z root) and services can run as another user.
BASE_CAPABILITIES = ("NET_BIND_SERVICE", "NET_RAW", "SETUID", "SETGID")
# Changing interfaces, routes, queues or iptables: offloads for captures,
# MTU and impairments, routes through a router, NAT.
NET_ADMIN = "NET_ADMIN"
# Docker lets any user bind any port in a container (ip_unprivileged_port_start
# = 0). The course teaches that ports below 1024 need privileges: restore that.
DEFAULT_SYSCTLS = {"net.ipv4.ip_unprivileged_port_start": "1024"}


@dataclass(frozen=True)
class NetworkPlan:
    name: str  # as the lab calls it
    docker_name: str
    subnet: str
    gateway: str
    labels: dict[str, str] = field(default_factory=dict)
    # Carries packets for other subnets (a router's side): Docker's internal
    # mode would drop them, so it is a plain bridge that still has no way out.
    routed: bool = False


@dataclass(frozen=True)
class Endpoint:
    network: str
    docker_name: str
    ip: str


@dataclass(frozen=True)
class NodePlan:
    name: str
    container: str
    endpoints: tuple[Endpoint, ...]
    image: str
    capabilities: tuple[str, ...]
    memory_bytes: int
    pids: int
    nano_cpus: int
    sysctls: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    spec: dict = field(default_factory=dict)
    agent: bool = True  # labctl's image: its agent sets the node up and reports readiness

    @property
    def ip(self) -> str:
        return self.endpoints[0].ip

    @property
    def spec_json(self) -> str:
        return json.dumps(self.spec, separators=(",", ":"))


@dataclass(frozen=True)
class LabPlan:
    lab: str
    instance: str
    networks: tuple[NetworkPlan, ...]
    nodes: tuple[NodePlan, ...]

    @property
    def labels(self) -> dict[str, str]:
        return naming.lab_labels(self.lab, self.instance)


def service_argv(service: model.Service) -> list[str]:
    cfg = service.spec
    argv = ["python3", "-u", f"{SERVICES_DIR}/{service.kind}_server.py", "--port", str(cfg.port)]
    if isinstance(cfg, model.HttpService) and not cfg.gzip:
        argv.append("--no-gzip")
    if isinstance(cfg, model.UdpService) and cfg.echo:
        argv.append("--echo")
    if isinstance(cfg, model.EchoService) and cfg.backlog != 16:
        argv += ["--backlog", str(cfg.backlog)]
    if isinstance(cfg, model.EchoService) and cfg.close_delay:
        argv += ["--close-delay", str(cfg.close_delay)]
    return argv


def services_label(node: model.Node) -> str:
    return ",".join(f"{s.kind}/{s.proto}/{s.port}" for s in node.services)


def capture_file(node: str) -> str:
    return f"{CAPTURE_DIR}/{node}.pcap"


def capabilities(node: model.Node) -> tuple[str, ...]:
    caps = set(BASE_CAPABILITIES) | set(node.cap_add)
    if node.capture or node.links or node.routes or node.masquerade:
        caps.add(NET_ADMIN)
    return tuple(sorted(caps))


def network_plan(lab: str, instance: str, name: str, subnet: str, routed: bool = False
                 ) -> NetworkPlan:
    gateway = str(next(ipaddress.ip_network(subnet).hosts()))
    return NetworkPlan(name, naming.network_name(lab, instance, name), subnet, gateway,
                       {**naming.lab_labels(lab, instance), naming.NETWORK: name}, routed)


def routed_networks(lab: model.Lab) -> set[str]:
    """Networks on which a node sends packets for another subnet to a router."""
    routed = set()
    for node in lab.nodes.values():
        for route in node.routes:
            via = lab.nodes[route.via].network_names
            routed |= {n for n in node.network_names if n in via}
            routed.add(route.to)  # replies come back through the router on that side
    return routed


def plan_lab(lab: model.Lab, instance: str, subnets: dict[str, str], default_image: str
             ) -> LabPlan:
    """`subnets` gives each lab network its subnet (the engine picks free ones)."""
    networks = []
    addresses: dict[str, dict[str, str]] = {}  # network -> node -> ip
    routed = routed_networks(lab)
    for net_name in lab.networks:
        networks.append(network_plan(lab.name, instance, net_name, subnets[net_name],
                                     net_name in routed))
        hosts = ipaddress.ip_network(subnets[net_name]).hosts()
        next(hosts)  # .1 belongs to the bridge
        addresses[net_name] = {node: str(next(hosts)) for node, spec in lab.nodes.items()
                               if net_name in spec.network_names}
    by_name = {n.name: n for n in networks}
    nodes = []
    for name, node in lab.nodes.items():
        endpoints = tuple(Endpoint(net, by_name[net].docker_name, addresses[net][name])
                          for net in node.network_names)
        labels = {**naming.lab_labels(lab.name, instance), naming.NODE: name,
                  naming.SERVICES: services_label(node),
                  naming.NETWORKS: ",".join(node.network_names)}
        if node.capture:
            labels[naming.CAPTURE] = capture_file(name)
        nodes.append(NodePlan(
            name=name,
            container=naming.container_name(lab.name, instance, name),
            endpoints=endpoints,
            image=node.image or default_image,
            capabilities=capabilities(node),
            memory_bytes=node.resources.memory_mib * 1024 * 1024,
            pids=node.resources.pids,
            nano_cpus=int(node.resources.cpus * 1e9),
            sysctls={**DEFAULT_SYSCTLS, **{k: str(v) for k, v in node.sysctls.items()}},
            labels=labels,
            spec=node_spec(name, node, lab, addresses, {n.name: n.subnet for n in networks}),
            agent=node.image is None,
        ))
    return LabPlan(lab=lab.name, instance=instance, networks=tuple(networks),
                   nodes=tuple(nodes))


def node_spec(name: str, node: model.Node, lab: model.Lab,
              addresses: dict[str, dict[str, str]], subnets: dict[str, str]) -> dict:
    """What the in-node agent sets up, in order: links, routes, NAT, capture, services."""
    spec: dict = {
        "node": name,
        "services": [
            {"name": s.kind, "proto": s.proto, "port": s.port, "argv": service_argv(s),
             "user": s.spec.user}
            for s in node.services
        ],
    }
    if node.links:
        spec["links"] = [{"ip": addresses[net][name], **link.model_dump()}
                         for net, link in node.links.items()]
    if node.routes:
        routes = []
        for route in node.routes:
            shared = next(n for n in node.network_names
                          if n in lab.nodes[route.via].network_names)
            routes.append({"to_network": route.to, "via": addresses[shared][route.via],
                           "subnet": subnets[route.to]})
        spec["routes"] = routes
    if node.masquerade:
        spec["masquerade"] = {"ip": addresses[node.masquerade][name]}
    # Docker's DNS only answers for shared networks: name the others in /etc/hosts.
    mine = set(node.network_names)
    hosts = {other: addresses[spec_.network_names[0]][other]
             for other, spec_ in lab.nodes.items()
             if other != name and not mine & set(spec_.network_names)}
    if hosts:
        spec["hosts"] = hosts
    if node.capture:
        spec["capture"] = {**node.capture.model_dump(), "file": capture_file(name)}
        if node.capture.interface != "any":
            spec["disable_offload"] = [node.capture.interface]
    return spec
