"""The client side of `labctl shell` through the server: a runtime Session over a
WebSocket (the `websockets` library's sync client), so labctl/cli/terminal_shell.py drives it
exactly as it drives a local Docker exec.

A reader thread moves the node's bytes into a pipe: `fileno()` is the pipe's, which
select() sees readable only when there is terminal output (a TLS socket would not say)."""

from __future__ import annotations

import contextlib
import json
import os
import ssl
import threading
from urllib.parse import urlparse

from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, unix_connect
from websockets.sync.client import connect as ws_connect

from labctl.classroom.client.errors import ServerError, unreachable


def connect(url: str, path: str, token: str | None, verify) -> WsSession:
    parsed = urlparse(url)
    try:
        if parsed.scheme == "unix":
            ws = unix_connect(parsed.path, "ws://labctl" + path, compression=None,
                              ping_interval=None, max_size=None)
        else:
            context = verify if isinstance(verify, ssl.SSLContext) else (
                ssl.create_default_context(cafile=verify) if isinstance(verify, str)
                else ssl.create_default_context())
            if verify is False:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            headers = {"authorization": f"Bearer {token}"} if token else {}
            ws = ws_connect("wss://" + parsed.netloc + path, ssl=context, compression=None,
                            additional_headers=headers, ping_interval=None, max_size=None)
    except InvalidStatus as exc:
        response = exc.response
        try:
            message = json.loads(response.body or b"{}").get("detail", "refused")
        except ValueError:
            message = (response.body or b"").decode("utf-8", "replace") or "refused"
        raise ServerError(response.status_code, message) from None
    except (OSError, WebSocketException) as exc:
        raise ServerError(503, unreachable(url, exc)) from None
    return WsSession(ws)


class WsSession:
    def __init__(self, ws: ClientConnection):
        self._ws = ws
        self._read, self._write = os.pipe()
        self._exit: int | None = None
        self.error: str | None = None
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        try:
            for message in self._ws:
                if isinstance(message, bytes):
                    os.write(self._write, message)
                    continue
                data = json.loads(message)
                if "exit" in data:
                    self._exit = int(data["exit"])
                elif "error" in data:
                    self.error = str(data["error"])
        except (ConnectionClosed, OSError):
            pass
        finally:
            os.close(self._write)  # recv() then returns b"": the session ended

    def fileno(self) -> int:
        return self._read

    def recv(self, size: int) -> bytes:
        return os.read(self._read, size)

    def send(self, data: bytes) -> None:
        with contextlib.suppress(ConnectionClosed):
            self._ws.send(data)

    def resize(self, rows: int, cols: int) -> None:
        with contextlib.suppress(ConnectionClosed):
            self._ws.send(json.dumps({"rows": rows, "cols": cols}))

    def close(self) -> None:
        self._ws.close()

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            raise ServerError(400, self.error)
        return 255 if self._exit is None else self._exit
