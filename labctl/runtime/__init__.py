"""Runtimes: where lab nodes run. The protocol and labctl's types are in base.py.

`connect()` returns the runtime chosen (Docker on this host unless LABCTL_RUNTIME
says swarm). Nothing outside the runtime modules imports the docker SDK.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from labctl.errors import InvalidInput
from labctl.runtime.base import ExecResult, ExecStream, NetworkInfo, NodeInfo, Runtime, Session

if TYPE_CHECKING:
    from labctl.runtime.docker import DockerRuntime

__all__ = ["DockerRuntime", "ExecResult", "ExecStream", "NetworkInfo", "NodeInfo", "Runtime",
           "Session", "connect"]


def connect() -> Runtime:
    """The runtime LABCTL_RUNTIME names: `docker` (the default: this host's engine;
    DOCKER_HOST and friends are honoured) or `swarm` (runtime/swarm.py: a Docker Swarm
    at LABCTL_SWARM_MANAGER, over mutual TLS with LABCTL_SWARM_CERTS)."""
    kind = os.environ.get("LABCTL_RUNTIME", "docker") or "docker"
    if kind == "swarm":
        from labctl.runtime.swarm import connect as connect_swarm  # noqa: PLC0415 - lazy: the chosen runtime only
        return connect_swarm()
    if kind != "docker":
        raise InvalidInput(f"LABCTL_RUNTIME={kind}: use docker or swarm")
    from labctl.runtime.docker import connect as connect_docker  # noqa: PLC0415 - lazy: the chosen runtime only
    return connect_docker()


def __getattr__(name: str):
    if name == "DockerRuntime":  # loaded on use: importing labctl.runtime for its types
        from labctl.runtime.docker import DockerRuntime  # noqa: PLC0415 - lazy: the chosen runtime only
        return DockerRuntime
    raise AttributeError(name)
