"""labctl's Engine API client (runtime/engine_api.py) and the SDK's (engine_sdk.py): one
shape, labctl's own errors, and which DOCKER_HOST takes which."""

from __future__ import annotations

import inspect
import socket
import subprocess
import sys
import threading

import pytest

from labctl.errors import EngineConflict, EngineError, EngineNotFound, EngineUnavailable
from labctl.runtime.engine_api import EngineAPI, EngineClient, unix_socket
from labctl.runtime.engine_sdk import SdkEngine


def test_only_local_sockets_take_labctls_client():
    assert unix_socket(None) == "/var/run/docker.sock"
    assert unix_socket("unix:///run/user/1000/docker.sock") == "/run/user/1000/docker.sock"
    assert unix_socket("tcp://10.0.0.1:2376") is None
    assert unix_socket("ssh://me@host") is None


def _protocol_methods() -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(EngineClient).items()
            if callable(member) and not name.startswith("_")}


@pytest.mark.parametrize("client", [EngineAPI, SdkEngine])
def test_both_clients_have_every_call_of_the_protocol_with_its_arguments(client):
    for name, wanted in _protocol_methods().items():
        assert hasattr(client, name), f"{client.__name__} lacks {name}"
        have = inspect.signature(getattr(client, name))
        assert [(p.name, p.kind, p.default) for p in have.parameters.values()] == \
               [(p.name, p.kind, p.default) for p in wanted.parameters.values()], name


def test_labctls_client_is_explicit():
    """No call falls through to anything else: what it does not declare, it has not."""
    assert "__getattr__" not in vars(EngineAPI)
    with pytest.raises(AttributeError):
        EngineAPI("/nonexistent").get_image  # noqa: B018 - the SDK has it; labctl's does not


def test_labctls_client_and_the_docker_runtime_import_no_sdk():
    code = ("import sys, labctl.runtime.engine_api, labctl.runtime.docker; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'docker', 'requests'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


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


def _answer(status: str, body: bytes) -> bytes:
    return b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s" % (status.encode(), len(body), body)


def test_a_listing_sends_the_filters(tmp_path):
    path, seen = _engine(tmp_path, _answer("200 OK", b'[{"Id": "abc"}]'))
    assert EngineAPI(path).containers(all=True, filters={"label": ["labctl.lab"]}) == [
        {"Id": "abc"}]
    assert seen[0].startswith(b"GET /containers/json?all=1&filters=%7B%22label%22%3A+%5B%22"
                              b"labctl.lab%22%5D%7D HTTP/1.1")


@pytest.mark.parametrize(("status", "kind"), [("404 Not Found", EngineNotFound),
                                              ("409 Conflict", EngineConflict),
                                              ("500 Server Error", EngineError)])
def test_refusals_are_labctls_errors_with_the_engines_words(tmp_path, status, kind):
    path, _ = _engine(tmp_path, _answer(status, b'{"message": "No such container: x"}'))
    with pytest.raises(kind) as raised:
        EngineAPI(path).remove_container("x", force=True)
    assert type(raised.value) is kind and raised.value.explanation == "No such container: x"
    assert raised.value.status == int(status.split()[0])


def test_no_engine_is_engine_unavailable(tmp_path):
    with pytest.raises(EngineUnavailable, match="cannot reach the Docker engine"):
        EngineAPI(str(tmp_path / "none.sock")).networks()
