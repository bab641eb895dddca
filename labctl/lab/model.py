"""The lab format as pure data: what a lab declares, never what is running.

Every model forbids unknown keys. The same classes generate the JSON Schema
(`labctl schema`), so the documentation of the format cannot drift from the
validator.
"""

from __future__ import annotations

import ipaddress
import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from labctl.lab.check_kinds import KINDS, WIRE_KINDS
from labctl.lab.model_parts import (
    NAME_PATTERN,
    ExitCode,
    NodeName,
    OneOf,
    Port,
    Proto,
    Strict,
    one_of,
)
from labctl.lab.services import SERVICES, EchoService, HttpService, UdpService

__all__ = ["NAME_PATTERN", "NodeName", "Port", "Proto", "Strict", "OneOf", "WIRE_KINDS",
           "EchoService", "HttpService", "UdpService"]

# Capabilities a lab may grant a node on top of the defaults; anything else
# (SYS_ADMIN, SYS_MODULE, ...) would let a lab reach the host.
ALLOWED_CAPABILITIES = ("NET_ADMIN", "NET_RAW", "NET_BIND_SERVICE", "SETUID", "SETGID", "KILL")
Capability = Literal[ALLOWED_CAPABILITIES]  # type: ignore[valid-type]


# Namespaced net.* sysctls a lab may set per node (set by Docker at creation).
ALLOWED_SYSCTLS = (
    "net.ipv4.ip_forward", "net.ipv4.tcp_syncookies", "net.ipv4.tcp_max_syn_backlog",
    "net.ipv4.tcp_synack_retries", "net.ipv4.tcp_syn_retries", "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_timestamps", "net.ipv4.tcp_sack", "net.ipv4.tcp_window_scaling",
    "net.ipv4.tcp_ecn", "net.ipv4.tcp_retries2", "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_abort_on_overflow", "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start", "net.ipv4.conf.all.rp_filter",
    "net.ipv4.icmp_echo_ignore_all", "net.core.somaxconn",
)
SysctlName = Literal[ALLOWED_SYSCTLS]  # type: ignore[valid-type]
DEFAULT_NETWORK = "lan"
# Keys other tools accept that would open a lab onto its host.
FORBIDDEN_NODE_KEYS = {
    "privileged": "labs never run privileged containers",
    "volumes": "labs cannot mount host paths",
    "mounts": "labs cannot mount host paths",
    "binds": "labs cannot mount host paths",
    "devices": "labs cannot use host devices",
    "network_mode": "nodes always live on the lab's own networks",
    "pid": "nodes cannot share the host's process namespace",
    "ipc": "nodes cannot share the host's IPC namespace",
    "cap_drop": "every capability is already dropped; use cap_add for the few a node needs",
    "security_opt": "security options are fixed by labctl",
}


class ServiceBase(OneOf):
    WHAT: ClassVar[str] = "service"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        # `- echo` is short for `- echo: {}`.
        if isinstance(value, str) and value in SERVICES:
            return {value: {}}
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    @property
    def port(self) -> int:
        return self.spec.port

    @property
    def proto(self) -> str:
        return SERVICES[self.kind].proto


# Services are declared, each in one place, in labctl/lab/services.py.
_NAMES = [f"`{name}`" for name in SERVICES]
Service = one_of("Service", ServiceBase, {name: s.model for name, s in SERVICES.items()},
                 f"Exactly one of {', '.join(_NAMES[:-1])} or {_NAMES[-1]}, "
                 "e.g. `- http: {port: 80}`.")


class Capture(Strict):
    """tcpdump inside the node, started before any traffic."""

    interface: str = Field("eth0", pattern=r"^[a-zA-Z0-9_.-]{1,15}$|^any$")
    filter: str = Field("", max_length=500)
    max_packets: int = Field(100_000, ge=1, le=1_000_000)
    max_seconds: int = Field(3600, ge=1, le=86_400)
    snaplen: int = Field(262_144, ge=64, le=262_144)


class Resources(Strict):
    """Limits for the node's container; defaults fit dozens of labs per host."""

    memory_mib: int = Field(128, ge=32, le=1024)
    pids: int = Field(256, ge=32, le=4096)
    cpus: float = Field(1.0, gt=0, le=2.0)


def _subnet_pattern(shortest: int = 16, longest: int = 29) -> str:
    """A regex for `a.b.c.d/p` with no host bits set, for the JSON Schema (which has no
    arithmetic): per prefix, the partial octet takes only multiples of its block size."""
    octet = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
    options = []
    for prefix in range(shortest, longest + 1):
        full, bits = divmod(prefix, 8)
        parts = [octet] * full
        if bits:
            parts.append("(" + "|".join(str(v) for v in range(0, 256, 1 << (8 - bits))) + ")")
        parts += ["0"] * (4 - len(parts))
        options.append(r"\.".join(parts) + f"/{prefix}")
    return "^(" + "|".join(f"({o})" for o in options) + ")$"


SUBNET_PATTERN = _subnet_pattern()


class Network(Strict):
    """A lab network: a Docker bridge of its own; no way out of the lab (isolation.py)."""

    subnet: str | None = Field(None, description="IPv4 subnet a.b.c.d/16 to /29; default: one "
                               "from labctl's pool.", json_schema_extra={"pattern": SUBNET_PATTERN})

    @field_validator("subnet")
    @classmethod
    def _cidr(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            net = ipaddress.IPv4Network(value)
        except ValueError as exc:
            raise ValueError(f"invalid IPv4 subnet {value!r}: {exc}") from None
        if not 16 <= net.prefixlen <= 29:
            raise ValueError(f"subnet {value} must be between /16 and /29")
        if not re.fullmatch(SUBNET_PATTERN, value):
            raise ValueError(f"write the subnet as address/prefix: {net}")
        return str(net)


class Link(Strict):
    """The node's interface on one network: MTU and impairments."""

    mtu: int | None = Field(None, ge=576, le=9000, description="e.g. 1492 for PPPoE")
    loss_percent: float = Field(0, ge=0, le=100, description="Packets dropped at random.")
    delay_ms: int = Field(0, ge=0, le=10_000, description="Needs netem in the host kernel.")
    jitter_ms: int = Field(0, ge=0, le=10_000)
    rate_kbit: int | None = Field(None, ge=8, le=10_000_000)


class Route(Strict):
    """Reach another lab network through a node on both networks (a router)."""

    to: NodeName = Field(description="The network to reach.")
    via: NodeName = Field(description="The node that forwards.")


class Node(Strict):
    image: str | None = Field(
        None, min_length=1, pattern=r"^\S+$",
        description="Image to run; default: labctl's node image (`labctl images build`)."
    )
    services: list[Service] = Field(default_factory=list)
    capture: Capture | None = None
    cap_add: list[Capability] = Field(  # type: ignore[valid-type]
        default_factory=list, description="Extra Linux capabilities, from a short allowlist."
    )
    resources: Resources = Field(default_factory=Resources)
    networks: list[NodeName] | None = Field(
        None, description=f"Lab networks the node joins (default: {DEFAULT_NETWORK!r}).",
        json_schema_extra={"uniqueItems": True})
    sysctls: dict[SysctlName, int | str] = Field(default_factory=dict,  # type: ignore[valid-type]
                                          description="Namespaced net.* sysctls (allowlist).")
    links: dict[NodeName, Link] = Field(default_factory=dict,
                                        description="Per network: MTU, loss, delay, rate.")
    routes: list[Route] = Field(default_factory=list)
    masquerade: NodeName | None = Field(
        None, description="NAT: rewrite traffic leaving on this network to this node's address.")

    @property
    def network_names(self) -> list[str]:
        return list(self.networks) if self.networks else [DEFAULT_NETWORK]


class Step(Strict):
    """A command run on a node (with sh -c), in order, after the lab is up."""

    name: str | None = Field(None, max_length=200,
                             description="A title for reports (default: the command).")
    on: NodeName
    run: str = Field(min_length=1, max_length=4000)
    background: bool = Field(False, description="Start it and go on (a server, a slow client).")
    wait: float = Field(0, ge=0, le=120, description="Seconds to wait after the step.")
    timeout: float = Field(30, gt=0, le=600, description="Seconds before the step is killed.")
    exit_code: ExitCode | None = Field(0, description="Expected exit code (0-255); "
                                       "null accepts any.")
    stdout_contains: str | None = Field(None, description="Text the output must contain.")
    stdout_matches: str | None = Field(None, description="A regular expression (Python's re) "
                                       "the output must match somewhere.")


class CheckBase(OneOf):
    WHAT: ClassVar[str] = "check"
    name: str | None = Field(None, description="A title for reports (default: generated).")


# Check kinds are declared, each in one place, in labctl/checks/ (see registry.py).
CHECK_KINDS = {name: kind.model for name, kind in KINDS.items()}
Check = one_of("Check", CheckBase, CHECK_KINDS,
               "Exactly one check kind, e.g. `- listening: {node: server, port: 80}`.")


class Lab(Strict):
    name: NodeName
    description: str = Field("", max_length=4000)
    networks: dict[NodeName, Network] = Field(
        default_factory=lambda: {DEFAULT_NETWORK: Network()},
        description=f"Default: one network named {DEFAULT_NETWORK!r} holding every node.")
    nodes: dict[NodeName, Node] = Field(min_length=1)
    steps: list[Step] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
