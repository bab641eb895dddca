"""Turn a validated lab into container plans: pure data, no Docker calls.

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
# Capturing nodes turn interface offloads off (ethtool), so captures show real
# checksums and MSS-sized segments.
CAPTURE_CAPABILITIES = ("NET_ADMIN",)


@dataclass(frozen=True)
class NodePlan:
    name: str
    container: str
    ip: str
    image: str
    capabilities: tuple[str, ...]
    memory_bytes: int
    pids: int
    nano_cpus: int
    labels: dict[str, str] = field(default_factory=dict)
    spec: dict = field(default_factory=dict)

    @property
    def spec_json(self) -> str:
        return json.dumps(self.spec, separators=(",", ":"))


@dataclass(frozen=True)
class LabPlan:
    lab: str
    instance: str
    network: str
    subnet: str
    gateway: str
    nodes: tuple[NodePlan, ...]

    @property
    def labels(self) -> dict[str, str]:
        return naming.lab_labels(self.lab, self.instance)


def service_argv(service: model.Service) -> list[str]:
    cfg = service.config
    argv = ["python3", "-u", f"{SERVICES_DIR}/{service.kind}_server.py", "--port", str(cfg.port)]
    if isinstance(cfg, model.HttpService) and not cfg.gzip:
        argv.append("--no-gzip")
    if isinstance(cfg, model.UdpService) and cfg.echo:
        argv.append("--echo")
    return argv


def services_label(node: model.Node) -> str:
    return ",".join(f"{s.kind}/{s.proto}/{s.port}" for s in node.services)


def capture_file(node: str) -> str:
    return f"{CAPTURE_DIR}/{node}.pcap"


def node_spec(name: str, node: model.Node) -> dict:
    spec: dict = {
        "node": name,
        "services": [
            {"name": s.kind, "proto": s.proto, "port": s.port, "argv": service_argv(s)}
            for s in node.services
        ],
    }
    if node.capture:
        spec["capture"] = {**node.capture.model_dump(), "file": capture_file(name)}
        if node.capture.interface != "any":
            spec["disable_offload"] = [node.capture.interface]
    return spec


def capabilities(node: model.Node) -> tuple[str, ...]:
    caps = set(BASE_CAPABILITIES) | set(node.cap_add)
    if node.capture:
        caps |= set(CAPTURE_CAPABILITIES)
    return tuple(sorted(caps))


def plan_lab(lab: model.Lab, instance: str, subnet: str, default_image: str) -> LabPlan:
    network = ipaddress.ip_network(subnet)
    hosts = network.hosts()
    gateway = str(next(hosts))  # .1 belongs to the bridge
    nodes = []
    for name, node in lab.nodes.items():
        labels = {**naming.lab_labels(lab.name, instance), naming.NODE: name,
                  naming.SERVICES: services_label(node)}
        if node.capture:
            labels[naming.CAPTURE] = capture_file(name)
        nodes.append(NodePlan(
            name=name,
            container=naming.container_name(lab.name, instance, name),
            ip=str(next(hosts)),
            image=node.image or default_image,
            capabilities=capabilities(node),
            memory_bytes=node.resources.memory_mib * 1024 * 1024,
            pids=node.resources.pids,
            nano_cpus=int(node.resources.cpus * 1e9),
            labels=labels,
            spec=node_spec(name, node),
        ))
    return LabPlan(lab=lab.name, instance=instance,
                   network=naming.network_name(lab.name, instance),
                   subnet=str(network), gateway=gateway, nodes=tuple(nodes))
