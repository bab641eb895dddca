"""Runtimes: where lab nodes run. The protocol and labctl's types are in base.py.

`connect()` returns the runtime for this host (Docker). Nothing outside the
Docker runtime module imports the docker SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labctl.runtime.base import ExecResult, ExecStream, NetworkInfo, NodeInfo, Runtime, Session

if TYPE_CHECKING:
    from labctl.runtime.docker import DockerRuntime

__all__ = ["DockerRuntime", "ExecResult", "ExecStream", "NetworkInfo", "NodeInfo", "Runtime",
           "Session", "connect"]


def connect() -> Runtime:
    """The Docker engine of this host (DOCKER_HOST and friends are honoured)."""
    from labctl.runtime.docker import connect as connect_docker
    return connect_docker()


def __getattr__(name: str):
    if name == "DockerRuntime":  # imported on demand: the SDK is slow to import
        from labctl.runtime.docker import DockerRuntime
        return DockerRuntime
    raise AttributeError(name)
