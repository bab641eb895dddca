"""The service registry: each service a node can run, declared once.

A service is its model (what the author writes under `services:`), its
protocol, and the options its server program in the node image takes
(labctl/node/services/<name>_server.py). model.py builds the `Service`
model from this registry; plan.py builds the command line from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from labctl.lab.model_parts import Port, Strict, UserName

SERVICES_DIR = "/opt/labctl/services"  # where the node image keeps the server programs


@dataclass(frozen=True)
class ServiceKind:
    name: str  # the YAML key, and the server program's name: <name>_server.py
    model: type[Strict]
    proto: str  # "tcp" or "udp"
    options: Callable[[Any], list[str]]  # spec -> extra arguments after --port

    def argv(self, spec: Any) -> list[str]:
        return ["python3", "-u", f"{SERVICES_DIR}/{self.name}_server.py",
                "--port", str(spec.port), *self.options(spec)]


SERVICES: dict[str, ServiceKind] = {}


def service(name: str, proto: str, options: Callable[[Any], list[str]] = lambda _s: []
            ) -> Callable[[type[Strict]], type[Strict]]:
    """Register the decorated model as service `name`."""
    def register(model: type[Strict]) -> type[Strict]:
        SERVICES[name] = ServiceKind(name, model, proto, options)
        return model
    return register


@service("http", "tcp", lambda s: [] if s.gzip else ["--no-gzip"])
class HttpService(Strict):
    """The course's web server: Hello World, gzip when the client accepts it."""

    port: Port = 80
    gzip: bool = True
    user: UserName | None = Field(None, description="Run as this user (default root).")


def _echo_options(s: EchoService) -> list[str]:
    options = [] if s.backlog == 16 else ["--backlog", str(s.backlog)]
    return options + (["--close-delay", str(s.close_delay)] if s.close_delay else [])


@service("echo", "tcp", _echo_options)
class EchoService(Strict):
    """The course's TCP echo server; serves many clients at once."""

    port: Port = 50007
    user: UserName | None = None
    backlog: int = Field(16, ge=1, le=4096, description="listen() backlog.")
    close_delay: float = Field(0, ge=0, le=300, description="Seconds the server waits "
                               "after the client's FIN before it closes (CLOSE-WAIT).")


@service("udp", "udp", lambda s: ["--echo"] if s.echo else [])
class UdpService(Strict):
    """The course's UDP receiver; prints `Received: (data, (ip, port))`."""

    port: Port = 50000
    echo: bool = False
    user: UserName | None = None
