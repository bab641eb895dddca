"""The one place that talks to the Docker engine (through the docker SDK).

A narrow interface, driven by what the engine really calls: networks,
containers, readiness, exec, logs, files, and removal by labels. Another
runtime (Kubernetes, say) would implement the same methods.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import docker
import docker.errors
import requests.exceptions

from labctl import naming
from labctl.errors import EngineUnavailable, NodeFailed, RuntimeFailure
from labctl.node_protocol import FAILED, READY

if TYPE_CHECKING:
    from labctl.plan import NetworkPlan, NodePlan

@dataclass(frozen=True)
class NodeInfo:
    """What Docker reports about a running node (from labels and inspect)."""

    lab: str
    instance: str
    node: str
    container: str
    status: str
    ip: str
    mac: str
    services: str
    capture: str = ""  # pcap path inside the node, if it captures
    addresses: dict[str, str] = field(default_factory=dict)  # lab network -> IP
    macs: dict[str, str] = field(default_factory=dict)  # lab network -> MAC


def connect() -> DockerRuntime:
    try:
        # from_env honours DOCKER_HOST and friends, like the docker CLI does.
        api = docker.from_env(timeout=60).api
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(f"cannot reach the Docker engine: {exc}") from None
    except requests.exceptions.RequestException as exc:
        raise EngineUnavailable(f"cannot reach the Docker engine: {exc}") from None
    return DockerRuntime(api)


class DockerRuntime:
    def __init__(self, api: docker.APIClient):
        self.api = api

    # -- networks ---------------------------------------------------------
    def used_subnets(self) -> dict[ipaddress.IPv4Network, str]:
        """Every IPv4 subnet Docker networks hold, with the network's name."""
        used = {}
        for net in self.api.networks():
            for cfg in (net.get("IPAM") or {}).get("Config") or []:
                try:
                    used[ipaddress.IPv4Network(cfg.get("Subnet", ""), strict=False)] = net["Name"]
                except ValueError:
                    continue  # IPv6 or empty
        return used

    def create_network(self, net: NetworkPlan) -> str:
        """Create a lab bridge; internal, so the lab has no way out."""
        ipam = docker.types.IPAMConfig(pool_configs=[
            docker.types.IPAMPool(subnet=net.subnet, gateway=net.gateway)])
        # No host address on the bridge: nodes cannot reach the host, and a routed
        # bridge (not internal) has no gateway to leave by.
        created = self.api.create_network(
            net.docker_name, driver="bridge", internal=not net.routed, ipam=ipam,
            labels=net.labels, check_duplicate=True,
            options={"com.docker.network.bridge.enable_icc": "true",
                     "com.docker.network.bridge.inhibit_ipv4": "true",
                     "com.docker.network.bridge.enable_ip_masquerade": "false"})
        return created["Id"]

    def networks(self, filters: list[str]) -> list[dict]:
        return self.api.networks(filters={"label": filters})

    def network_in_use(self, ident: str) -> bool:
        return bool(self.api.inspect_network(ident).get("Containers"))

    def has_image(self, ref: str) -> bool:
        try:
            self.api.inspect_image(ref)
        except docker.errors.ImageNotFound:
            return False
        return True

    def remove_network(self, ident: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.api.remove_network(ident)

    # -- containers -------------------------------------------------------
    def create_node(self, node: NodePlan) -> str:
        first, *others = node.endpoints
        host_config = self.api.create_host_config(
            network_mode=first.docker_name,
            sysctls=node.sysctls,
            cap_drop=["ALL"],
            cap_add=list(node.capabilities),
            security_opt=["no-new-privileges"],
            mem_limit=node.memory_bytes,
            memswap_limit=node.memory_bytes,
            pids_limit=node.pids,
            nano_cpus=node.nano_cpus,
            init=False,  # the agent is PID 1 and reaps
            log_config={"type": "json-file", "config": {"max-size": "1m", "max-file": "1"}},
        )
        networking = self.api.create_networking_config({
            first.docker_name: self.api.create_endpoint_config(aliases=[node.name],
                                                               ipv4_address=first.ip)})
        created = self.api.create_container(
            node.image, name=node.container, hostname=node.name, labels=node.labels,
            environment={"LABCTL_SPEC": node.spec_json}, host_config=host_config,
            networking_config=networking, detach=True, stdin_open=False, tty=False)
        for endpoint in others:  # eth1, eth2, ... in the order the lab lists networks
            self.api.connect_container_to_network(created["Id"], endpoint.docker_name,
                                                  ipv4_address=endpoint.ip,
                                                  aliases=[node.name])
        return created["Id"]

    def start(self, ident: str) -> None:
        self.api.start(ident)

    def wait_ready(self, ident: str, name: str) -> None:
        """Block until the node's agent logs that every service listens."""
        lines: list[str] = []
        for raw in self.api.logs(ident, stream=True, follow=True, stdout=True, stderr=True):
            for line in raw.decode("utf-8", "replace").splitlines():
                lines.append(line)
                if line.startswith(READY):
                    return
                if line.startswith(FAILED):
                    raise NodeFailed(f"node '{name}' failed to start: "
                                     f"{line[len(FAILED):].strip()}\n" + "\n".join(lines[-10:]))
        # The stream ended: the container stopped (or was removed) before ready.
        raise NodeFailed(f"node '{name}' stopped before it was ready:\n" + "\n".join(lines[-10:]))

    def containers(self, filters: list[str], all_states: bool = True) -> list[dict]:
        return self.api.containers(all=all_states, filters={"label": filters})

    def stop_gracefully(self, ident: str, timeout: float = 2.0) -> None:
        """SIGTERM: the agent stops tcpdump with SIGINT so the pcap ends cleanly."""
        try:
            self.api.kill(ident, signal="SIGTERM")
            self.api.wait(ident, timeout=timeout)
        except (docker.errors.APIError, requests.exceptions.RequestException):
            pass  # already gone, or slow: removal kills it anyway

    def remove_container(self, ident: str, graceful: bool = False) -> None:
        """Immediate: SIGKILL and remove, no 10 s stop timeout (graceful: SIGTERM first)."""
        if graceful:
            self.stop_gracefully(ident)
        try:
            self.api.remove_container(ident, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if "removal of container" in str(exc) and "already in progress" in str(exc):
                return
            raise

    def node_info(self, summary: dict) -> NodeInfo:
        labels = summary.get("Labels") or {}
        nets = (summary.get("NetworkSettings") or {}).get("Networks") or {}
        lab, instance = labels.get(naming.LAB, "?"), labels.get(naming.INSTANCE, "?")
        addresses = {}
        for logical in filter(None, labels.get(naming.NETWORKS, "").split(",")):
            endpoint = nets.get(naming.network_name(lab, instance, logical)) or {}
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

    # -- inside containers -------------------------------------------------
    def exec_stream(self, ident: str, argv: list[str], user: str = "") -> tuple[str, Iterator]:
        exec_id = self.api.exec_create(ident, argv, stdout=True, stderr=True, user=user)["Id"]
        return exec_id, self.api.exec_start(exec_id, stream=True, demux=True)

    def exec_exit_code(self, exec_id: str) -> int:
        return self.api.exec_inspect(exec_id)["ExitCode"]

    def run(self, ident: str, argv: list[str], user: str = "") -> tuple[int, bytes, bytes]:
        """Run a command to completion; return (exit code, stdout, stderr)."""
        exec_id = self.api.exec_create(ident, argv, stdout=True, stderr=True, user=user)["Id"]
        out, err = self.api.exec_start(exec_id, demux=True)
        return self.exec_exit_code(exec_id), out or b"", err or b""

    def start_background(self, ident: str, argv: list[str]) -> None:
        """Start a command in the node and return at once (a lab step in the background)."""
        exec_id = self.api.exec_create(ident, argv, stdout=False, stderr=False)["Id"]
        self.api.exec_start(exec_id, detach=True)

    def exec_socket(self, ident: str, argv: list[str], tty: bool):
        exec_id = self.api.exec_create(ident, argv, stdin=True, tty=tty, stdout=True,
                                       stderr=True)["Id"]
        return exec_id, self.api.exec_start(exec_id, tty=tty, socket=True)

    def resize_exec(self, exec_id: str, rows: int, cols: int) -> None:
        with contextlib.suppress(docker.errors.APIError):
            self.api.exec_resize(exec_id, height=rows, width=cols)

    def logs(self, ident: str, follow: bool, tail: int | str = "all") -> Iterator[bytes]:
        return self.api.logs(ident, stream=True, follow=follow, tail=tail)

    def read_file(self, ident: str, path: str) -> bytes:
        try:
            stream, _ = self.api.get_archive(ident, path)
        except docker.errors.NotFound:
            raise RuntimeFailure(f"no file {path} in {ident[:12]}") from None
        buffer = io.BytesIO(b"".join(stream))
        with tarfile.open(fileobj=buffer) as tar:
            member = tar.next()
            extracted = tar.extractfile(member) if member else None
            if extracted is None:
                raise RuntimeFailure(f"{path} in {ident[:12]} is not a file")
            return extracted.read()
