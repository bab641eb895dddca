"""The engine calls of EngineClient (engine_api.py) through the docker SDK: for engines
over TCP and TLS (DOCKER_HOST=tcp://..., the swarm's engines). Each call translates the
SDK's and requests' errors into labctl's, so the Docker runtime sees one kind of client.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

import docker
import docker.errors
import requests.exceptions

from labctl.errors import (
    EngineUnavailable,
    RuntimeFailure,
)
from labctl.runtime.engine_api import Attached, LogStream, refused

T = TypeVar("T")


class GarbledStream(RuntimeFailure):
    """The SDK misread a log stream's multiplexed frames (docker-py #3160, intermittent)."""


def translated(exc: BaseException) -> RuntimeFailure:
    """An SDK or requests error as labctl's."""
    if isinstance(exc, docker.errors.APIError):
        return refused(exc.status_code or 500, exc.explanation or str(exc))
    if isinstance(exc, (requests.exceptions.ConnectionError, docker.errors.DockerException)):
        return EngineUnavailable(f"cannot reach the Docker engine: {exc}")
    if isinstance(exc, ValueError) and "is not a valid stream" in str(exc):
        return GarbledStream("a command's output arrived garbled (a known intermittent "
                             "fault of the Docker SDK); try again")
    return RuntimeFailure(f"Docker engine: {exc}")


# What the SDK (and requests under it) raise when an engine refuses or cannot be reached.
SDK_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)


def _calls_engine(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def call(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except SDK_ERRORS as exc:
            raise translated(exc) from None
    return call


class _SdkLog:
    """The SDK's log stream: errors while reading as labctl's; close() from any thread."""

    def __init__(self, stream: Any):
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except GeneratorExit:
            raise
        except (*SDK_ERRORS, ValueError) as exc:
            raise translated(exc) from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.close()


class SdkEngine:
    """EngineClient over a docker SDK APIClient (plus the swarm manager's calls)."""

    def __init__(self, api: docker.APIClient):
        self.api = api

    @classmethod
    def from_env(cls, timeout: float = 60) -> SdkEngine:
        """The engine DOCKER_HOST and friends name, as the docker CLI reads them."""
        try:
            return cls(docker.from_env(timeout=timeout).api)
        except SDK_ERRORS as exc:
            raise EngineUnavailable(f"cannot reach the Docker engine: {exc}") from None

    @_calls_engine
    def containers(self, all: bool = False, filters: dict | None = None) -> list[dict]:  # noqa: A002 - the API's name
        return self.api.containers(all=all, filters=filters)

    @_calls_engine
    def networks(self, filters: dict | None = None) -> list[dict]:
        return self.api.networks(filters=filters)

    @_calls_engine
    def inspect_container(self, container: str) -> dict:
        return self.api.inspect_container(container)

    @_calls_engine
    def inspect_image(self, ref: str) -> dict:
        return self.api.inspect_image(ref)

    @_calls_engine
    def create_network(self, name: str, driver: str, internal: bool, ipam: dict,
                       labels: dict, options: dict, attachable: bool = False) -> dict:
        return self.api.create_network(name, driver=driver, internal=internal, ipam=ipam,
                                       labels=labels, options=options, attachable=attachable,
                                       check_duplicate=True)

    @_calls_engine
    def remove_network(self, net_id: str) -> None:
        self.api.remove_network(net_id)

    @_calls_engine
    def create_container(self, image: str, *, labels: dict, host_config: dict,
                         name: str | None = None, hostname: str | None = None,
                         environment: dict | None = None,
                         networking_config: dict | None = None,
                         entrypoint: list[str] | None = None,
                         command: list[str] | None = None, working_dir: str = "") -> dict:
        return self.api.create_container(
            image, name=name, hostname=hostname, labels=labels, environment=environment,
            host_config=host_config, networking_config=networking_config,
            entrypoint=entrypoint, command=command, working_dir=working_dir or None,
            detach=True)

    @_calls_engine
    def connect_container_to_network(self, container: str, net_id: str,
                                     ipv4_address: str | None = None,
                                     aliases: list[str] | None = None) -> None:
        self.api.connect_container_to_network(container, net_id, ipv4_address=ipv4_address,
                                              aliases=aliases)

    @_calls_engine
    def start(self, container: str) -> None:
        self.api.start(container)

    @_calls_engine
    def wait(self, container: str, timeout: float) -> dict:
        return self.api.wait(container, timeout=timeout)

    @_calls_engine
    def logs(self, container: str, follow: bool = False, tail: int | str = "all"
             ) -> LogStream:
        return _SdkLog(self.api.logs(container, stream=True, follow=follow, stdout=True,
                                     stderr=True, tail=tail))

    @_calls_engine
    def read_logs(self, container: str) -> bytes:
        return self.api.logs(container, stdout=True, stderr=True)

    @_calls_engine
    def remove_container(self, container: str, force: bool = False, v: bool = False) -> None:
        self.api.remove_container(container, force=force, v=v)

    @_calls_engine
    def exec_create(self, container: str, cmd: list[str], stdout: bool = True,
                    stderr: bool = True, stdin: bool = False, tty: bool = False,
                    environment: dict | None = None, user: str = "") -> str:
        return self.api.exec_create(container, cmd, stdout=stdout, stderr=stderr,
                                    stdin=stdin, tty=tty, environment=environment,
                                    user=user)["Id"]

    @_calls_engine
    def exec_attach(self, exec_id: str, tty: bool, buffered: bool = True) -> Attached:
        """The started command's connection. The SDK's socket is read through its
        buffered response (it may hold the first bytes already), unless not `buffered`
        (select() sees only the socket)."""
        handle = self.api.exec_start(exec_id, tty=tty, socket=True)
        sock = getattr(handle, "_sock", handle)
        reader = None
        with contextlib.suppress(AttributeError):
            reader = handle._response.raw._fp.fp if buffered else None
        attached = Attached(sock, reader)
        attached.handle = handle  # kept: the SDK's response closes the socket when collected
        return attached

    @_calls_engine
    def exec_detach(self, exec_id: str) -> None:
        self.api.exec_start(exec_id, detach=True)

    @_calls_engine
    def exec_inspect(self, exec_id: str) -> dict:
        return self.api.exec_inspect(exec_id)

    @_calls_engine
    def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        self.api.exec_resize(exec_id, height=height, width=width)

    @_calls_engine
    def tag(self, ref: str, repository: str, tag: str) -> None:
        self.api.tag(ref, repository, tag)

    @_calls_engine
    def import_image(self, tarball: Path, repository: str, tag: str, changes: list[str]
                     ) -> None:
        self.api.import_image(src=str(tarball), repository=repository, tag=tag,
                              changes=changes)

    def build(self, context: IO[bytes], tag: str, labels: dict, buildargs: dict
              ) -> Iterator[dict]:
        try:
            yield from self.api.build(fileobj=context, custom_context=True, tag=tag,
                                      labels=labels, buildargs=buildargs, rm=True,
                                      forcerm=True, decode=True)
        except SDK_ERRORS as exc:
            raise translated(exc) from None

    # -- a swarm manager's and its engines' own calls ---------------------------------
    @_calls_engine
    def nodes(self) -> list[dict]:
        return self.api.nodes()

    @_calls_engine
    def inspect_network(self, net_id: str) -> dict:
        return self.api.inspect_network(net_id)

    def copy_image_to(self, target: SdkEngine, ref: str) -> None:
        """`docker save | docker load` from this engine to another: no registry needed."""
        try:
            copy_image(self.api, target.api, ref)
        except SDK_ERRORS as exc:
            raise translated(exc) from None


def copy_image(source: docker.APIClient, target: docker.APIClient, ref: str) -> None:
    """`docker save | docker load` between two engines' SDK clients."""
    for line in target.load_image(source.get_image(ref)):
        if isinstance(line, dict) and line.get("error"):
            raise RuntimeFailure(f"loading {ref}: {line['error']}")
