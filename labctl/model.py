"""The lab format as pure data: what a lab declares, never what is running.

Every model forbids unknown keys. The same classes generate the JSON Schema
(`labctl schema`), so the documentation of the format cannot drift from the
validator.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$"
NodeName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Port = Annotated[int, Field(ge=1, le=65535)]
Proto = Literal["tcp", "udp"]

# Capabilities a lab may grant a node on top of the defaults; anything else
# (SYS_ADMIN, SYS_MODULE, ...) would let a lab reach the host.
ALLOWED_CAPABILITIES = ("NET_ADMIN", "NET_RAW", "NET_BIND_SERVICE", "SETUID", "SETGID", "KILL")
Capability = Literal[ALLOWED_CAPABILITIES]  # type: ignore[valid-type]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


class HttpService(Strict):
    """The seeds' web server: Hello World, gzip when the client accepts it."""

    port: Port = 80
    gzip: bool = True


class EchoService(Strict):
    """The seeds' TCP echo server; serves many clients at once."""

    port: Port = 50007


class UdpService(Strict):
    """The seeds' UDP receiver; prints `Received: (data, (ip, port))`."""

    port: Port = 50000
    echo: bool = False


class Service(Strict):
    """Exactly one of `http`, `echo` or `udp`, e.g. `- http: {port: 80}`."""

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

    @model_validator(mode="after")
    def _exactly_one(self) -> Service:
        kinds = [k for k in ("http", "echo", "udp") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a service is exactly one of: http, echo, udp")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("http", "echo", "udp") if getattr(self, k) is not None)

    @property
    def config(self) -> HttpService | EchoService | UdpService:
        return getattr(self, self.kind)

    @property
    def port(self) -> int:
        return self.config.port

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


class Step(Strict):
    """A command run on a node, in order, after the lab is up."""

    on: NodeName
    run: str = Field(min_length=1)
    exit_code: int | None = Field(0, description="Expected exit code; null accepts any.")


class Lab(Strict):
    name: NodeName
    description: str = ""
    nodes: dict[NodeName, Node] = Field(min_length=1)
    steps: list[Step] = Field(default_factory=list)
