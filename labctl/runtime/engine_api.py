"""The engine calls `status`, `down` and `up` make, straight over Docker's Unix socket.

Importing the docker SDK (and requests under it) costs a quarter of a second,
more than `down` spends talking to the engine. These calls (list, create,
start and remove containers and networks, follow a node's log, inspect an
image, and commands in a node: exec create, start, inspect, resize) go over
http.client instead, with the SDK's method names and arguments; every other
method is the SDK's APIClient, created on first use. Errors are the SDK's own
(docker.errors, imported only then), so callers handle both paths alike.

Every call has a deadline (the socket's timeout); an attached command's stream
(Attached) is read with the caller's own deadline, and can be shut down from any
thread: no call waits on the engine for ever.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

from labctl.errors import EngineUnavailable, RuntimeFailure

socket_module = socket  # exec_start has a parameter of that name (the SDK's)


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
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class LeanAPI:
    """docker.APIClient's containers, networks, remove_container and remove_network;
    anything else from the SDK client that `sdk` makes (once)."""

    def __init__(self, socket_path: str, sdk: Callable[[], Any], timeout: float = 60):
        self._socket, self._make_sdk, self._timeout = socket_path, sdk, timeout
        self._sdk: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._sdk is None:
            self._sdk = self._make_sdk()
        return getattr(self._sdk, name)

    def containers(self, all: bool = False, filters: dict | None = None) -> list[dict]:  # noqa: A002 - the SDK's name
        return self._call("GET", "/containers/json",
                          {"all": "1" if all else "0", **_filters(filters)})

    def networks(self, filters: dict | None = None) -> list[dict]:
        return self._call("GET", "/networks", _filters(filters))

    def remove_container(self, container: str, force: bool = False, v: bool = False) -> None:
        self._call("DELETE", f"/containers/{urllib.parse.quote(container)}",
                   {"force": "1" if force else "0", "v": "1" if v else "0"})

    def remove_network(self, net_id: str) -> None:
        self._call("DELETE", f"/networks/{urllib.parse.quote(net_id)}")

    # -- up -----------------------------------------------------------------------
    def inspect_image(self, image: str) -> dict:
        return self._call("GET", f"/images/{urllib.parse.quote(image)}/json")

    def create_network(self, name: str, driver: str | None = None, internal: bool = False,
                       ipam: dict | None = None, labels: dict | None = None,
                       check_duplicate: bool | None = None, options: dict | None = None
                       ) -> dict:
        body = {"Name": name, "Driver": driver, "Internal": internal, "IPAM": ipam,
                "Labels": labels, "CheckDuplicate": check_duplicate, "Options": options}
        return self._call("POST", "/networks/create", body={k: v for k, v in body.items()
                                                            if v is not None})

    def create_host_config(self, **kwargs: Any) -> dict:
        unknown = set(kwargs) - set(_HOST_CONFIG)
        if unknown:  # an option the lean path does not know: the SDK builds it
            return self.__getattr__("create_host_config")(**kwargs)
        config = {}
        for key, value in kwargs.items():
            if key == "log_config" and value is not None:
                value = {"Type": value["type"], "Config": value.get("config", {})}
            if key == "extra_hosts" and isinstance(value, dict):  # as the SDK writes them
                value = [f"{host}:{ip}" for host, ip in sorted(value.items())]
            if value is not None:
                config[_HOST_CONFIG[key]] = value
        return config

    def create_networking_config(self, endpoints: dict) -> dict:
        return {"EndpointsConfig": endpoints}

    def create_endpoint_config(self, aliases: list[str] | None = None,
                               ipv4_address: str | None = None) -> dict:
        config: dict[str, Any] = {"Aliases": aliases}
        if ipv4_address:
            config["IPAMConfig"] = {"IPv4Address": ipv4_address}
        return config

    def create_container(self, image: str, **kwargs: Any) -> dict:
        if set(kwargs) - _CREATE_KEYWORDS:  # e.g. an entrypoint: the SDK knows them all
            return self.__getattr__("create_container")(image, **kwargs)
        return self._create_container(image, **kwargs)

    def _create_container(self, image: str, name: str, hostname: str, labels: dict,
                          environment: dict, host_config: dict, networking_config: dict,
                          detach: bool = True, stdin_open: bool = False, tty: bool = False,
                          working_dir: str = "") -> dict:
        body = {"Image": image, "Hostname": hostname, "Labels": labels,
                "Env": [f"{k}={v}" for k, v in environment.items()],
                "HostConfig": host_config, "NetworkingConfig": networking_config,
                "AttachStdin": False, "AttachStdout": not detach, "AttachStderr": not detach,
                "OpenStdin": stdin_open, "StdinOnce": False, "Tty": tty}
        if working_dir:
            body["WorkingDir"] = working_dir
        return self._call("POST", "/containers/create", {"name": name}, body)

    def connect_container_to_network(self, container: str, net_id: str,
                                     ipv4_address: str | None = None,
                                     aliases: list[str] | None = None) -> None:
        endpoint = self.create_endpoint_config(aliases, ipv4_address)
        self._call("POST", f"/networks/{urllib.parse.quote(net_id)}/connect",
                   body={"Container": container, "EndpointConfig": endpoint})

    # -- commands in a node ------------------------------------------------------------
    def exec_create(self, container: str, cmd: list[str], stdout: bool = True,
                    stderr: bool = True, stdin: bool = False, tty: bool = False,
                    environment: dict | None = None, user: str = "") -> dict:
        body = {"AttachStdin": stdin, "AttachStdout": stdout, "AttachStderr": stderr,
                "Tty": tty, "Cmd": cmd, "User": user,
                "Env": [f"{k}={v}" for k, v in (environment or {}).items()]}
        return self._call("POST", f"/containers/{urllib.parse.quote(container)}/exec",
                          body=body)

    def exec_inspect(self, exec_id: str) -> dict:
        return self._call("GET", f"/exec/{urllib.parse.quote(exec_id)}/json")

    def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        self._call("POST", f"/exec/{urllib.parse.quote(exec_id)}/resize",
                   {"h": str(height), "w": str(width)})

    def exec_start(self, exec_id: str, detach: bool = False, tty: bool = False,
                   stream: bool = False, socket: bool = False, demux: bool = False) -> Any:
        """detach: start and return; socket: the command's connection (Attached)."""
        path = f"/exec/{urllib.parse.quote(exec_id)}/start"
        if detach:
            return self._call("POST", path, body={"Detach": True, "Tty": tty})
        if not socket:  # the SDK's own ways of reading it
            return self.__getattr__("exec_start")(exec_id, detach=detach, tty=tty,
                                                  stream=stream, socket=socket, demux=demux)
        return self._hijack(path, {"Detach": False, "Tty": tty})

    def _hijack(self, path: str, body: dict) -> Attached:
        """POST, then the connection itself: the engine streams the command over it."""
        data = json.dumps(body).encode()
        sock = socket_module.socket(socket_module.AF_UNIX, socket_module.SOCK_STREAM)
        try:
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
                    raise http.client.HTTPException("the engine closed the connection")
                head += byte
        except OSError as exc:
            sock.close()
            raise EngineUnavailable(f"cannot reach the Docker engine at {self._socket}: "
                                    f"{exc}") from None
        except BaseException:
            sock.close()
            raise
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
            raise _error(status, parts[2] if len(parts) > 2 else "", "POST", path, failed)
        return Attached(sock)

    def start(self, container: str) -> None:
        self._call("POST", f"/containers/{urllib.parse.quote(container)}/start")

    def logs(self, container: str, stream: bool = False, follow: bool = False,
             stdout: bool = True, stderr: bool = True, tail: int | str = "all") -> Any:
        if not stream:  # the SDK returns it all at once then
            return self.__getattr__("logs")(container, stream=stream, follow=follow,
                                            stdout=stdout, stderr=stderr, tail=tail)
        query = {"follow": "1" if follow else "0", "stdout": "1" if stdout else "0",
                 "stderr": "1" if stderr else "0", "tail": str(tail)}
        connection, response = self._open("GET", f"/containers/{urllib.parse.quote(container)}"
                                          "/logs", query, None, None if follow else
                                          self._timeout)
        return _LogFrames(connection, response)

    # -- the wire -------------------------------------------------------------------
    def _call(self, method: str, path: str, query: dict | None = None,
              body: dict | None = None) -> Any:
        connection, response = self._open(method, path, query, body, self._timeout)
        try:
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise RuntimeFailure(f"Docker engine: {method} {path}: {exc}") from None
        finally:
            connection.close()
        return json.loads(data) if data else None

    def _open(self, method: str, path: str, query: dict | None, body: dict | None,
              timeout: float | None) -> tuple[http.client.HTTPConnection,
                                              http.client.HTTPResponse]:
        url = path + ("?" + urllib.parse.urlencode(query) if query else "")
        connection = _UnixConnection(self._socket, timeout)
        try:
            if body is None:
                connection.request(method, url)
            else:
                connection.request(method, url, json.dumps(body).encode(),
                                   {"Content-Type": "application/json"})
            response = connection.getresponse()
            failed = response.read() if response.status >= 400 else None
        except http.client.HTTPException as exc:
            connection.close()
            raise RuntimeFailure(f"Docker engine: {method} {path}: {exc}") from None
        except OSError as exc:
            connection.close()
            raise EngineUnavailable(f"cannot reach the Docker engine at {self._socket}: "
                                    f"{exc}") from None
        except BaseException:
            connection.close()
            raise
        if failed is not None:  # raised out here: the SDK's errors are OSErrors too
            connection.close()
            raise _error(response.status, response.reason, method, url, failed)
        return connection, response


_CREATE_KEYWORDS = {"name", "hostname", "labels", "environment", "host_config",
                    "networking_config", "detach", "stdin_open", "tty", "working_dir"}

# create_host_config's keyword -> the engine's HostConfig key (the ones labctl uses).
_HOST_CONFIG = {"network_mode": "NetworkMode", "sysctls": "Sysctls", "cap_drop": "CapDrop",
                "cap_add": "CapAdd", "security_opt": "SecurityOpt", "mem_limit": "Memory",
                "memswap_limit": "MemorySwap", "pids_limit": "PidsLimit",
                "nano_cpus": "NanoCpus", "init": "Init", "log_config": "LogConfig",
                "read_only": "ReadonlyRootfs", "tmpfs": "Tmpfs", "shm_size": "ShmSize",
                "extra_hosts": "ExtraHosts"}


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


def _filters(filters: dict | None) -> dict:
    return {"filters": json.dumps(filters)} if filters else {}


def _error(status: int, reason: str, method: str, url: str, body: bytes) -> Exception:
    import docker.errors  # only now: an error is rare, the import is not cheap
    try:
        explanation = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        explanation = body.decode("utf-8", "replace")
    kind = docker.errors.APIError
    if status == 404:
        kind = docker.errors.ImageNotFound if url.startswith("/images/") else (
            docker.errors.NotFound)
    return kind(f"{status} {reason}: {method} {url}", explanation=explanation)


def unix_socket(docker_host: str | None) -> str | None:
    """The engine's socket path when DOCKER_HOST names a local one (or is unset)."""
    if not docker_host:
        return "/var/run/docker.sock"
    if docker_host.startswith("unix://"):
        return docker_host[len("unix://"):]
    return None
