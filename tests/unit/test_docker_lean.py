"""The lean engine client: which DOCKER_HOST it serves, and errors as the SDK's."""

from __future__ import annotations

import socket
import threading

import docker.errors
import pytest

from labctl.errors import EngineUnavailable
from labctl.runtime.engine_api import LeanAPI, unix_socket


def test_only_local_sockets_take_the_lean_path():
    assert unix_socket(None) == "/var/run/docker.sock"
    assert unix_socket("unix:///run/user/1000/docker.sock") == "/run/user/1000/docker.sock"
    assert unix_socket("tcp://10.0.0.1:2376") is None
    assert unix_socket("ssh://me@host") is None


def _engine(tmp_path, reply: bytes) -> tuple[str, list[bytes]]:
    """A one-shot HTTP server on a Unix socket that answers `reply`."""
    path = str(tmp_path / "engine.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    seen: list[bytes] = []

    def serve():
        conn, _ = server.accept()
        seen.append(conn.recv(65536))
        conn.sendall(reply)
        conn.close()
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return path, seen


def test_a_listing_sends_the_sdks_filters(tmp_path):
    body = b'[{"Id": "abc"}]'
    path, seen = _engine(tmp_path, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(body), body))
    api = LeanAPI(path, lambda: pytest.fail("the SDK is not needed"))
    assert api.containers(all=True, filters={"label": ["labctl.lab"]}) == [{"Id": "abc"}]
    assert seen[0].startswith(b"GET /containers/json?all=1&filters=%7B%22label%22%3A+%5B%22"
                              b"labctl.lab%22%5D%7D HTTP/1.1")


def test_errors_are_the_sdks(tmp_path):
    body = b'{"message": "No such container: x"}'
    path, _ = _engine(tmp_path, b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s"
                      % (len(body), body))
    with pytest.raises(docker.errors.NotFound) as found:
        LeanAPI(path, object).remove_container("x", force=True)
    assert found.value.explanation == "No such container: x"


def test_no_engine_is_engine_unavailable(tmp_path):
    with pytest.raises(EngineUnavailable, match="cannot reach the Docker engine"):
        LeanAPI(str(tmp_path / "none.sock"), object).networks()


def test_everything_else_goes_to_the_sdk_made_once():
    made = []

    class Sdk:
        def inspect_container(self, ref):
            return {"Id": ref}

    def make():
        made.append(1)
        return Sdk()

    api = LeanAPI("/nonexistent", make)
    assert api.inspect_container("a") == {"Id": "a"} and api.inspect_container("b") == {"Id": "b"}
    assert made == [1]
