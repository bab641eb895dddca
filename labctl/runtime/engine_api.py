"""labctl's client of the Docker Engine API, and the shape every engine client has.

`EngineClient` is what the Docker runtime (docker.py) asks of an engine: the calls
labctl makes, with labctl's own arguments, answers (the engine's JSON records, exec ids,
an `Attached` connection for a command) and errors (EngineError, EngineNotFound,
EngineConflict, EngineUnavailable in labctl/errors.py). Two clients have that shape:

- `EngineAPI` (here): the Engine API over the local engine's Unix socket, with
  http.client — what `labctl up`, `down` and the classroom server use. It imports
  nothing of the docker SDK, which costs a quarter of a second to import.
- `SdkEngine` (engine_sdk.py): the same calls through the docker SDK, for engines
  over TCP and TLS (DOCKER_HOST=tcp://..., the swarm's engines).

Every call has a deadline (the socket's timeout); an attached command's stream
(Attached) is read with the caller's own deadline, and can be shut down from any
thread: no call waits on the engine for ever.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from labctl.errors import (
    EngineConflict,
    EngineError,
    EngineNotFound,
    EngineUnavailable,
    RuntimeFailure,
)

BUILD_READ_SECONDS = 600  # a build step may print nothing for this long


class LogStream(Protocol):
    """A container's log as it comes (payloads, no headers); close() from any thread."""

    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class EngineClient(Protocol):
    """The engine calls the Docker runtime makes. Records are the engine's JSON as
    dicts; errors are labctl's (EngineError and its kinds, EngineUnavailable)."""

    def containers(self, all: bool = False, filters: dict | None = None) -> list[dict]: ...  # noqa: A002

    def networks(self, filters: dict | None = None) -> list[dict]: ...

    def inspect_container(self, container: str) -> dict: ...

    def inspect_image(self, ref: str) -> dict: ...

    def create_network(self, name: str, driver: str, internal: bool, ipam: dict,
                       labels: dict, options: dict, attachable: bool = False) -> dict: ...

    def remove_network(self, net_id: str) -> None: ...

    def create_container(self, image: str, *, labels: dict, host_config: dict,
                         name: str | None = None, hostname: str | None = None,
                         environment: dict | None = None,
                         networking_config: dict | None = None,
                         entrypoint: list[str] | None = None,
                         command: list[str] | None = None, working_dir: str = "") -> dict: ...

    def connect_container_to_network(self, container: str, net_id: str,
                                     ipv4_address: str | None = None,
                                     aliases: list[str] | None = None) -> None: ...

    def start(self, container: str) -> None: ...

    def wait(self, container: str, timeout: float) -> dict: ...

    def logs(self, container: str, follow: bool = False, tail: int | str = "all"
             ) -> LogStream: ...

    def read_logs(self, container: str) -> bytes: ...

    def remove_container(self, container: str, force: bool = False, v: bool = False
                         ) -> None: ...

    def exec_create(self, container: str, cmd: list[str], stdout: bool = True,
                    stderr: bool = True, stdin: bool = False, tty: bool = False,
                    environment: dict | None = None, user: str = "") -> str: ...

    def exec_attach(self, exec_id: str, tty: bool, buffered: bool = True) -> Attached: ...

    def exec_detach(self, exec_id: str) -> None: ...

    def exec_inspect(self, exec_id: str) -> dict: ...

    def exec_resize(self, exec_id: str, height: int, width: int) -> None: ...

    def tag(self, ref: str, repository: str, tag: str) -> None: ...

    def import_image(self, tarball: Path, repository: str, tag: str, changes: list[str]
                     ) -> None: ...

    def build(self, context: IO[bytes], tag: str, labels: dict, buildargs: dict
              ) -> Iterator[dict]: ...


def host_config(*, network_mode: str | None = None, sysctls: dict | None = None,
                cap_drop: list[str] | None = None, cap_add: list[str] | None = None,
                security_opt: list[str] | None = None, read_only: bool = False,
                tmpfs: dict | None = None, shm_size: int | None = None,
                extra_hosts: dict | None = None, mem_limit: int | None = None,
                memswap_limit: int | None = None, pids_limit: int | None = None,
                nano_cpus: int | None = None, init: bool | None = None,
                log_config: dict | None = None) -> dict:
    """A container's HostConfig, as the Engine API takes it (unset values left out)."""
    config = {"NetworkMode": network_mode, "Sysctls": sysctls, "CapDrop": cap_drop,
              "CapAdd": cap_add, "SecurityOpt": security_opt, "ReadonlyRootfs": read_only,
              "Tmpfs": tmpfs, "ShmSize": shm_size, "Memory": mem_limit,
              "MemorySwap": memswap_limit, "PidsLimit": pids_limit, "NanoCpus": nano_cpus,
              "Init": init,
              "ExtraHosts": None if extra_hosts is None else [
                  f"{host}:{ip}" for host, ip in sorted(extra_hosts.items())],
              "LogConfig": None if log_config is None else {
                  "Type": log_config["type"], "Config": log_config.get("config", {})}}
    return {key: value for key, value in config.items() if value is not None}


def endpoint_config(aliases: list[str] | None = None, ipv4_address: str | None = None
                    ) -> dict:
    """A container's place on one network, as the Engine API takes it."""
    config: dict[str, Any] = {"Aliases": aliases}
    if ipv4_address:
        config["IPAMConfig"] = {"IPv4Address": ipv4_address}
    return config


def refused(status: int, explanation: str, call: str = "") -> EngineError:
    """An engine's refusal as labctl's error, of the kind its HTTP status says (either
    client's: the SDK reports the same status and explanation)."""
    kind = {404: EngineNotFound, 409: EngineConflict}.get(status, EngineError)
    return kind(status, explanation, call)


def engine_error(status: int, reason: str, call: str, body: bytes) -> EngineError:
    """The engine's answer to a refused call, with the engine's own explanation."""
    try:
        explanation = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        explanation = body.decode("utf-8", "replace").strip()
    return refused(status, explanation or f"{status} {reason}", call)


class Attached:
    """A command's connection to the engine (an exec started attached): read with a
    deadline, write with a bounded wait, shut down from any thread.

    `reader`: what to read from when it is not the socket itself (the SDK's buffered
    response, which may hold the first bytes already)."""

    SEND_SECONDS = 30  # a node that takes no input for this long: the write fails

    def __init__(self, sock: socket.socket, reader: Any = None):
        self.sock, self._reader = sock, reader
        self._closed = threading.Event()
        sock.settimeout(None)
        with contextlib.suppress(OSError):  # sends bounded by the kernel, reads as asked
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                            struct.pack("ll", self.SEND_SECONDS, 0))

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self, size: int, timeout: float | None = None) -> bytes:
        """Up to size bytes as soon as any come; b"" at the end (or once closed);
        TimeoutError after `timeout` seconds without a byte."""
        if self._closed.is_set():
            return b""
        self.sock.settimeout(timeout)
        try:
            if self._reader is not None:
                return self._reader.read1(size) or b""
            data = self.sock.recv(size)
            # Over TLS (a remote engine) a record may hold more than `size`: the rest is
            # decrypted already, where select() cannot see it, so it is taken now.
            pending = getattr(self.sock, "pending", None)
            while data and pending is not None and pending():
                data += self.sock.recv(pending())
            return data
        except TimeoutError:
            raise
        except (OSError, ValueError):
            if self._closed.is_set():
                return b""
            raise

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        """Shut the connection down (a read blocked in another thread returns b"")."""
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()


def frames(attached: Attached, ends: float | None = None
           ) -> Iterator[tuple[int, bytes]]:
    """A non-tty command's multiplexed output: (stream, payload), stream 1 stdout and
    2 stderr; TimeoutError once time.monotonic() passes `ends` (None: no end)."""
    buffered = bytearray()
    while True:
        while len(buffered) >= 8:
            size = int.from_bytes(buffered[4:8], "big")
            if len(buffered) < 8 + size:
                break
            stream, payload = buffered[0], bytes(buffered[8:8 + size])
            del buffered[:8 + size]
            yield stream, payload
        timeout = None if ends is None else ends - time.monotonic()
        if timeout is not None and timeout <= 0:
            raise TimeoutError("past the deadline")
        chunk = attached.read(65536, timeout)
        if not chunk:
            return
        buffered += chunk


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class EngineAPI:
    """The Engine API over a local Unix socket (EngineClient): a connection per call."""

    def __init__(self, socket_path: str, timeout: float = 60):
        self._socket, self._timeout = socket_path, timeout

    # -- what runs ------------------------------------------------------------------
    def containers(self, all: bool = False, filters: dict | None = None) -> list[dict]:  # noqa: A002 - the API's name
        return self._call("GET", "/containers/json",
                          {"all": "1" if all else "0", **_filters(filters)})

    def networks(self, filters: dict | None = None) -> list[dict]:
        return self._call("GET", "/networks", _filters(filters))

    def inspect_container(self, container: str) -> dict:
        return self._call("GET", f"/containers/{_quoted(container)}/json")

    def inspect_image(self, ref: str) -> dict:
        return self._call("GET", f"/images/{_quoted(ref)}/json")

    # -- networks -------------------------------------------------------------------
    def create_network(self, name: str, driver: str, internal: bool, ipam: dict,
                       labels: dict, options: dict, attachable: bool = False) -> dict:
        return self._call("POST", "/networks/create", body={
            "Name": name, "Driver": driver, "Internal": internal, "IPAM": ipam,
            "Labels": labels, "CheckDuplicate": True, "Options": options,
            "Attachable": attachable})

    def remove_network(self, net_id: str) -> None:
        self._call("DELETE", f"/networks/{_quoted(net_id)}")

    # -- containers -----------------------------------------------------------------
    def create_container(self, image: str, *, labels: dict, host_config: dict,
                         name: str | None = None, hostname: str | None = None,
                         environment: dict | None = None,
                         networking_config: dict | None = None,
                         entrypoint: list[str] | None = None,
                         command: list[str] | None = None, working_dir: str = "") -> dict:
        body: dict[str, Any] = {
            "Image": image, "Labels": labels, "HostConfig": host_config,
            "Env": [f"{k}={v}" for k, v in (environment or {}).items()],
            "AttachStdin": False, "AttachStdout": False, "AttachStderr": False,
            "OpenStdin": False, "StdinOnce": False, "Tty": False}
        optional = {"Hostname": hostname, "NetworkingConfig": networking_config,
                    "Entrypoint": entrypoint, "Cmd": command, "WorkingDir": working_dir}
        body.update({key: value for key, value in optional.items() if value})
        return self._call("POST", "/containers/create", {"name": name} if name else None,
                          body)

    def connect_container_to_network(self, container: str, net_id: str,
                                     ipv4_address: str | None = None,
                                     aliases: list[str] | None = None) -> None:
        self._call("POST", f"/networks/{_quoted(net_id)}/connect",
                   body={"Container": container,
                         "EndpointConfig": endpoint_config(aliases, ipv4_address)})

    def start(self, container: str) -> None:
        self._call("POST", f"/containers/{_quoted(container)}/start")

    def wait(self, container: str, timeout: float) -> dict:
        return self._call("POST", f"/containers/{_quoted(container)}/wait", timeout=timeout)

    def logs(self, container: str, follow: bool = False, tail: int | str = "all"
             ) -> LogStream:
        query = {"follow": "1" if follow else "0", "stdout": "1", "stderr": "1",
                 "tail": str(tail)}
        connection, response = self._open("GET", f"/containers/{_quoted(container)}/logs",
                                          query, None, None if follow else self._timeout)
        return _LogFrames(connection, response)

    def read_logs(self, container: str) -> bytes:
        return b"".join(self.logs(container))

    def remove_container(self, container: str, force: bool = False, v: bool = False) -> None:
        self._call("DELETE", f"/containers/{_quoted(container)}",
                   {"force": "1" if force else "0", "v": "1" if v else "0"})

    # -- commands in a node ---------------------------------------------------------
    def exec_create(self, container: str, cmd: list[str], stdout: bool = True,
                    stderr: bool = True, stdin: bool = False, tty: bool = False,
                    environment: dict | None = None, user: str = "") -> str:
        body = {"AttachStdin": stdin, "AttachStdout": stdout, "AttachStderr": stderr,
                "Tty": tty, "Cmd": cmd, "User": user,
                "Env": [f"{k}={v}" for k, v in (environment or {}).items()]}
        return self._call("POST", f"/containers/{_quoted(container)}/exec", body=body)["Id"]

    def exec_attach(self, exec_id: str, tty: bool, buffered: bool = True) -> Attached:
        """Start the command attached: its connection, read as it comes."""
        return self._hijack(f"/exec/{_quoted(exec_id)}/start", {"Detach": False, "Tty": tty})

    def exec_detach(self, exec_id: str) -> None:
        self._call("POST", f"/exec/{_quoted(exec_id)}/start", body={"Detach": True,
                                                                   "Tty": False})

    def exec_inspect(self, exec_id: str) -> dict:
        return self._call("GET", f"/exec/{_quoted(exec_id)}/json")

    def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        self._call("POST", f"/exec/{_quoted(exec_id)}/resize",
                   {"h": str(height), "w": str(width)})

    # -- images -----------------------------------------------------------------------
    def tag(self, ref: str, repository: str, tag: str) -> None:
        self._call("POST", f"/images/{_quoted(ref)}/tag", {"repo": repository, "tag": tag})

    def import_image(self, tarball: Path, repository: str, tag: str, changes: list[str]
                     ) -> None:
        """A root filesystem tarball as an image (docker import): streamed from disk."""
        query = [("fromSrc", "-"), ("repo", repository), ("tag", tag),
                 *(("changes", change) for change in changes)]
        with open(tarball, "rb") as body:
            for line in self._stream_json("POST", "/images/create", query, body,
                                          "application/x-tar", os.fstat(body.fileno()).st_size):
                if line.get("error"):
                    raise EngineError(500, line["error"], f"import {repository}:{tag}")

    def build(self, context: IO[bytes], tag: str, labels: dict, buildargs: dict
              ) -> Iterator[dict]:
        """A build from a tar context (docker build -): its progress records."""
        data = context.read()
        query = [("t", tag), ("labels", json.dumps(labels)),
                 ("buildargs", json.dumps(buildargs)), ("rm", "1"), ("forcerm", "1")]
        return self._stream_json("POST", "/build", query, data, "application/x-tar",
                                 len(data))

    # -- the wire ---------------------------------------------------------------------
    def _call(self, method: str, path: str, query: dict | None = None,
              body: dict | None = None, timeout: float | None = None) -> Any:
        connection, response = self._open(method, path, query, body,
                                          timeout or self._timeout)
        try:
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise RuntimeFailure(f"Docker engine: {method} {path}: {exc}") from None
        finally:
            connection.close()
        return json.loads(data) if data else None

    def _stream_json(self, method: str, path: str, query: list[tuple[str, str]],
                     body: Any, content_type: str, size: int) -> Iterator[dict]:
        """POST a body, then the JSON records the engine answers with, as they come."""
        url = f"{path}?{urllib.parse.urlencode(query)}"
        connection = _UnixConnection(self._socket, BUILD_READ_SECONDS)
        with self._reaching(connection, f"{method} {path}"):
            connection.request(method, url, body, {"Content-Type": content_type,
                                                   "Content-Length": str(size)})
            response = connection.getresponse()
        if response.status >= 400:
            failed = response.read()
            connection.close()
            raise engine_error(response.status, response.reason, f"{method} {path}", failed)
        return _json_lines(connection, response)

    def _open(self, method: str, path: str, query: dict | None, body: dict | None,
              timeout: float | None) -> tuple[http.client.HTTPConnection,
                                              http.client.HTTPResponse]:
        url = path + ("?" + urllib.parse.urlencode(query) if query else "")
        connection = _UnixConnection(self._socket, timeout)
        with self._reaching(connection, f"{method} {path}"):
            if body is None:
                connection.request(method, url)
            else:
                connection.request(method, url, json.dumps(body).encode(),
                                   {"Content-Type": "application/json"})
            response = connection.getresponse()
            failed = response.read() if response.status >= 400 else None
        if failed is not None:
            connection.close()
            raise engine_error(response.status, response.reason, f"{method} {path}", failed)
        return connection, response

    @contextlib.contextmanager
    def _reaching(self, connection: socket.socket | http.client.HTTPConnection, call: str
                  ) -> Iterator[None]:
        """A call's connection is closed if the call fails: out of reach, the engine is
        unavailable; a garbled answer is a runtime failure."""
        try:
            yield
        except http.client.HTTPException as exc:
            connection.close()
            raise RuntimeFailure(f"Docker engine: {call}: {exc}") from None
        except OSError as exc:
            connection.close()
            raise EngineUnavailable(f"cannot reach the Docker engine at {self._socket}: "
                                    f"{exc}") from None
        except BaseException:
            connection.close()
            raise

    def _hijack(self, path: str, body: dict) -> Attached:
        """POST, then the connection itself: the engine streams the command over it."""
        data = json.dumps(body).encode()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with self._reaching(sock, f"POST {path}"):
            sock.settimeout(self._timeout)
            sock.connect(self._socket)
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: docker\r\n"
                         "Content-Type: application/json\r\n"
                         f"Content-Length: {len(data)}\r\n"
                         "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode() + data)
            head = bytearray()
            while not head.endswith(b"\r\n\r\n"):  # byte by byte: nothing read past it
                byte = sock.recv(1)
                if not byte or len(head) > 65536:
                    raise ConnectionError("the engine closed the connection")
                head += byte
        status_line, *lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 500
        if status >= 400:
            headers = dict(line.split(": ", 1) for line in lines if ": " in line)
            size = int(headers.get("Content-Length", "0") or 0)
            failed = b""
            with contextlib.suppress(OSError):
                while len(failed) < size and (chunk := sock.recv(size - len(failed))):
                    failed += chunk
            sock.close()
            raise engine_error(status, parts[2] if len(parts) > 2 else "", f"POST {path}",
                               failed)
        return Attached(sock)


def _json_lines(connection: http.client.HTTPConnection, response: http.client.HTTPResponse
                ) -> Iterator[dict]:
    """The engine's progress records (one JSON object a line), until the answer ends."""
    try:
        while line := response.readline():
            if line.strip():
                with contextlib.suppress(ValueError):
                    yield json.loads(line)
    except (OSError, http.client.HTTPException) as exc:
        raise RuntimeFailure(f"Docker engine: the answer broke off: {exc}") from None
    finally:
        connection.close()


class _LogFrames:
    """A non-tty container's log stream: 8-byte headers (stream, size), then payloads.
    close() may come from any thread: it shuts the connection down, which ends a read
    that waits for the next line."""

    def __init__(self, connection: http.client.HTTPConnection,
                 response: http.client.HTTPResponse):
        self._connection, self._response = connection, response
        self._sock = connection.sock
        self._chunks = self._read()

    def __iter__(self) -> _LogFrames:
        return self

    def __next__(self) -> bytes:
        return next(self._chunks)

    def _read(self) -> Iterator[bytes]:
        try:
            while True:
                try:
                    header = _read_exactly(self._response, 8)
                    if header is None:
                        return
                    size = int.from_bytes(header[4:8], "big")
                    payload = _read_exactly(self._response, size) if size else b""
                except (OSError, ValueError, http.client.HTTPException):
                    return  # the connection ended: so did the node (as the SDK's stream)
                if payload is None:
                    return
                yield payload
        finally:
            self._connection.close()

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)


def _read_exactly(response: http.client.HTTPResponse, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = response.read1(size - len(data))  # returns as soon as anything came
        if not chunk:
            return None
        data += chunk
    return data


def _quoted(name: str) -> str:
    return urllib.parse.quote(name)  # "/" kept: the engine routes image names with it


def _filters(filters: dict | None) -> dict:
    return {"filters": json.dumps(filters)} if filters else {}


def unix_socket(docker_host: str | None) -> str | None:
    """The engine's socket path when DOCKER_HOST names a local one (or is unset)."""
    if not docker_host:
        return "/var/run/docker.sock"
    if docker_host.startswith("unix://"):
        return docker_host[len("unix://"):]
    return None
