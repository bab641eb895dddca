"""The lab format as pure data: what a lab declares, never what is running.

Every model forbids unknown keys. The same classes generate the JSON Schema
(`labctl schema`), so the documentation of the format cannot drift from the
validator.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$"
NodeName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Port = Annotated[int, Field(ge=1, le=65535)]
Proto = Literal["tcp", "udp"]

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


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


class HttpService(Strict):
    """The seeds' web server: Hello World, gzip when the client accepts it."""

    port: Port = 80
    gzip: bool = True
    user: str | None = Field(None, pattern=r"^[a-z_][a-z0-9_-]{0,31}$",
                             description="Run as this user (default root).")


class EchoService(Strict):
    """The seeds' TCP echo server; serves many clients at once."""

    port: Port = 50007
    user: str | None = Field(None, pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    backlog: int = Field(16, ge=1, le=4096, description="listen() backlog.")
    close_delay: float = Field(0, ge=0, le=300, description="Seconds the server waits "
                               "after the client's FIN before it closes (CLOSE-WAIT).")


class UdpService(Strict):
    """The seeds' UDP receiver; prints `Received: (data, (ip, port))`."""

    port: Port = 50000
    echo: bool = False
    user: str | None = Field(None, pattern=r"^[a-z_][a-z0-9_-]{0,31}$")


class OneOf(Strict):
    """A mapping holding exactly one of KINDS, e.g. `- http: {port: 80}`."""

    KINDS: ClassVar[tuple[str, ...]] = ()
    WHAT: ClassVar[str] = ""

    @model_validator(mode="after")
    def _exactly_one(self) -> OneOf:
        if sum(getattr(self, k) is not None for k in self.KINDS) != 1:
            raise ValueError(f"a {self.WHAT} is exactly one of: " + ", ".join(self.KINDS))
        return self

    @property
    def kind(self) -> str:
        return next(k for k in self.KINDS if getattr(self, k) is not None)

    @property
    def spec(self) -> Strict:
        return getattr(self, self.kind)


class Service(OneOf):
    """Exactly one of `http`, `echo` or `udp`, e.g. `- http: {port: 80}`."""

    KINDS: ClassVar[tuple[str, ...]] = ("http", "echo", "udp")
    WHAT: ClassVar[str] = "service"
    http: HttpService | None = None
    echo: EchoService | None = None
    udp: UdpService | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        # `- echo` is short for `- echo: {}`.
        if isinstance(value, str) and value in ("http", "echo", "udp"):
            return {value: {}}
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    @property
    def port(self) -> int:
        return self.spec.port

    @property
    def proto(self) -> str:
        return "udp" if self.kind == "udp" else "tcp"


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


class Network(Strict):
    """A lab network: an internal Docker bridge; no way out of the lab."""

    subnet: str | None = Field(None, description="IPv4 CIDR; default: one from labctl's pool.")

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
        None, description="Image to run; default: labctl's node image (`labctl images build`)."
    )
    services: list[Service] = Field(default_factory=list)
    capture: Capture | None = None
    cap_add: list[Capability] = Field(  # type: ignore[valid-type]
        default_factory=list, description="Extra Linux capabilities, from a short allowlist."
    )
    resources: Resources = Field(default_factory=Resources)
    networks: list[NodeName] | None = Field(
        None, description=f"Lab networks the node joins (default: {DEFAULT_NETWORK!r}).")
    sysctls: dict[str, int | str] = Field(default_factory=dict,
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

    on: NodeName
    run: str = Field(min_length=1, max_length=4000)
    background: bool = Field(False, description="Start it and go on (a server, a slow client).")
    wait: float = Field(0, ge=0, le=120, description="Seconds to wait after the step.")
    timeout: float = Field(30, gt=0, le=600, description="Seconds before the step is killed.")
    exit_code: int | None = Field(0, description="Expected exit code; null accepts any.")
    stdout_contains: str | None = None


class ListeningCheck(Strict):
    """A port is (or is not) listening on a node, read with ss inside it."""

    node: NodeName
    port: Port
    proto: Proto = "tcp"
    address: str = Field("0.0.0.0", description="Local address; 0.0.0.0 = all IPv4.")
    listening: bool = True


class ProcessCheck(Strict):
    node: NodeName
    name: str = Field(min_length=1, description="Process name or a word of its command line.")
    running: bool = True


class ReachableCheck(Strict):
    """A TCP connection (or a UDP datagram's lack of ICMP refusal) from one node to another."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    from_: NodeName = Field(alias="from")
    to: NodeName
    port: Port
    reachable: bool = True


class WireCheck(Strict):
    """A check read from captured packets: client -> server:port."""

    client: NodeName
    server: NodeName
    port: Port
    seen_on: NodeName | None = Field(None, description="Read this node's capture "
                                     "(default: the first capture that has the traffic).")


class HandshakeCheck(WireCheck):
    """SYN, SYN/ACK, ACK seen on the wire (ack = peer seq + 1)."""


class NoHandshakeCheck(WireCheck):
    """UDP datagrams client -> server:port seen, and no TCP handshake at all."""


class TeardownCheck(WireCheck):
    kind: Literal["fin", "rst"] = "fin"


class MssCheck(WireCheck):
    mss: int = Field(ge=1, le=65535, description="MSS option expected in the client's SYN.")


class RetransmissionsCheck(WireCheck):
    at_least: int = Field(1, ge=0)
    at_most: int | None = Field(None, ge=0)


class DatagramsCheck(WireCheck):
    """Count UDP datagrams client -> server:port on the wire."""

    at_least: int = Field(1, ge=0)
    at_most: int | None = Field(None, ge=0)


class HttpCheck(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    from_: NodeName = Field(alias="from")
    url: str = Field(pattern=r"^https?://")
    status: int = Field(200, ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict,
                                    description="Headers the response must carry.")
    request_headers: dict[str, str] = Field(default_factory=lambda: {"Accept-Encoding": "gzip"})
    body_contains: str | None = None


class EchoCheck(Strict):
    """Send a message to a TCP echo server; the same bytes must come back."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    from_: NodeName = Field(alias="from")
    to: NodeName
    port: Port = 50007
    user: str | None = Field(None, pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    backlog: int = Field(16, ge=1, le=4096, description="listen() backlog.")
    close_delay: float = Field(0, ge=0, le=300, description="Seconds the server waits "
                               "after the client's FIN before it closes (CLOSE-WAIT).")
    message: str = "Hello, world"


class UdpDeliveredCheck(Strict):
    """Send a datagram; the receiver's log must show it (`Received: ...`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    from_: NodeName = Field(alias="from")
    to: NodeName
    port: Port = 50000
    message: str = "Hello World"


class CommandCheck(Strict):
    on: NodeName
    run: str = Field(min_length=1)
    exit_code: int | None = 0
    stdout_contains: str | None = None
    stdout_matches: str | None = Field(None, description="A regular expression.")


class SocketsCheck(Strict):
    """Count sockets in a TCP state (ss), e.g. SYN-RECV at least 10."""

    node: NodeName
    state: Literal["LISTEN", "ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2",
                   "TIME-WAIT", "CLOSE-WAIT", "LAST-ACK", "CLOSING"]
    port: Port | None = Field(None, description="Local or remote port to count.")
    at_least: int | None = Field(None, ge=0)
    at_most: int | None = Field(None, ge=0)


CHECK_KINDS = {
    "listening": ListeningCheck, "process": ProcessCheck, "reachable": ReachableCheck,
    "handshake": HandshakeCheck, "no_handshake": NoHandshakeCheck, "teardown": TeardownCheck,
    "mss": MssCheck, "retransmissions": RetransmissionsCheck, "datagrams": DatagramsCheck,
    "http": HttpCheck,
    "echo": EchoCheck, "udp_delivered": UdpDeliveredCheck, "command": CommandCheck,
    "sockets": SocketsCheck,
}
WIRE_KINDS = ("handshake", "no_handshake", "teardown", "mss", "retransmissions", "datagrams")


class Check(OneOf):
    """Exactly one check kind, e.g. `- listening: {node: server, port: 80}`."""

    KINDS: ClassVar[tuple[str, ...]] = tuple(CHECK_KINDS)
    WHAT: ClassVar[str] = "check"
    name: str | None = Field(None, description="A title for reports (default: generated).")
    listening: ListeningCheck | None = None
    process: ProcessCheck | None = None
    reachable: ReachableCheck | None = None
    handshake: HandshakeCheck | None = None
    no_handshake: NoHandshakeCheck | None = None
    teardown: TeardownCheck | None = None
    mss: MssCheck | None = None
    retransmissions: RetransmissionsCheck | None = None
    datagrams: DatagramsCheck | None = None
    http: HttpCheck | None = None
    echo: EchoCheck | None = None
    udp_delivered: UdpDeliveredCheck | None = None
    command: CommandCheck | None = None
    sockets: SocketsCheck | None = None


class Lab(Strict):
    name: NodeName
    description: str = ""
    networks: dict[NodeName, Network] = Field(
        default_factory=lambda: {DEFAULT_NETWORK: Network()},
        description=f"Default: one network named {DEFAULT_NETWORK!r} holding every node.")
    nodes: dict[NodeName, Node] = Field(min_length=1)
    steps: list[Step] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
