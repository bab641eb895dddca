"""A client for the classroom server, over its Unix socket or HTTPS (httpx does both).

    Client("unix:///run/labctl/labctl.sock").up("handshake-lab")
    Client("https://lab.example:8443", token="lct_...", verify="ca.pem").status()

Refusals and errors raise ServerError with the server's one-line message and status.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from urllib.parse import quote, urlparse

import httpx

from labctl.classroom.client.errors import ServerError, unreachable
from labctl.classroom.client.shell import connect
from labctl.errors import InvalidInput


def _seg(value: str) -> str:
    """One path segment, whatever the caller passed ('/' included)."""
    return quote(value, safe="")


class Client:
    def __init__(self, url: str, token: str | None = None,
                 verify: bool | str | ssl.SSLContext = True, timeout: float = 600.0):
        parsed = urlparse(url)
        self._token, self._verify = token, verify
        headers = {"authorization": f"Bearer {token}"} if token else {}
        if parsed.scheme == "unix":
            # The kernel says who we are on the socket: no token is sent there.
            # No TLS on the socket: no CA bundle to load either.
            transport = httpx.HTTPTransport(uds=parsed.path, verify=False)
            self._http = httpx.Client(transport=transport, base_url="http://labctl",
                                      timeout=timeout)
        elif parsed.scheme == "https":
            if isinstance(verify, str):  # a CA file, e.g. the class server's own certificate
                verify = ssl.create_default_context(cafile=verify)
            self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers,
                                      verify=verify, timeout=timeout)
        else:
            raise InvalidInput(f"server URL {url!r}: use unix:///PATH or https://HOST:PORT")
        self.url = url

    def close(self) -> None:
        self._http.close()

    def abort(self) -> None:
        """End a streaming read under way, from any thread (its reader is gone)."""
        sock = getattr(self, "_streaming", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs):
        try:
            response = self._http.request(method, "/v1" + path, **kwargs)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        _raise_for(response)
        return response.json()

    def _unreachable(self, exc: Exception) -> ServerError:
        return ServerError(503, unreachable(self.url, exc))

    def _stream(self, path: str, params: dict) -> Iterator[bytes]:
        """A streaming GET's body, chunk by chunk, as it arrives."""
        try:
            with self._http.stream("GET", "/v1" + path, params=params,
                                   timeout=httpx.Timeout(10.0, read=None)) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for(response)
                stream = response.extensions.get("network_stream")
                self._streaming = stream.get_extra_info("socket") if stream else None
                yield from response.iter_raw()
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None

    @staticmethod
    def _instance(instance: str | None) -> dict:
        return {} if instance is None else {"instance": instance}

    # -- the API ---------------------------------------------------------------
    def whoami(self) -> dict:
        return self._call("GET", "/whoami")

    def labs(self) -> list[dict]:
        return self._call("GET", "/labs")

    def upload(self, lab_yaml: str) -> dict:
        return self._call("POST", "/labs", json={"yaml": lab_yaml})

    def up(self, lab: str, instance: str | None = None) -> dict:
        return self._call("POST", f"/labs/{_seg(lab)}/up", params=self._instance(instance))

    def up_progress(self, lab: str, instance: str | None = None) -> dict:
        return self._call("GET", f"/labs/{_seg(lab)}/up", params=self._instance(instance))

    def down(self, lab: str, instance: str | None = None) -> dict:
        return self._call("POST", f"/labs/{_seg(lab)}/down", params=self._instance(instance))

    def status(self, lab: str | None = None, instance: str | None = None) -> list[dict]:
        params = self._instance(instance) | ({} if lab is None else {"lab": lab})
        return self._call("GET", "/status", params=params)

    def exec(self, lab: str, node: str, command: list[str], instance: str | None = None,
             timeout: int = 60) -> dict:
        return self._call("POST", f"/labs/{_seg(lab)}/nodes/{_seg(node)}/exec",
                          params=self._instance(instance),
                          json={"command": command, "timeout": timeout})

    def logs(self, lab: str, node: str, instance: str | None = None, tail: int = 1000) -> str:
        params = self._instance(instance) | {"tail": tail}
        path = f"/labs/{_seg(lab)}/nodes/{_seg(node)}/logs"
        return self._call("GET", path, params=params)["text"]

    def check(self, lab: str, instance: str | None = None) -> dict:
        return self._call("POST", f"/labs/{_seg(lab)}/check", params=self._instance(instance))

    def test(self, lab: str, instance: str | None = None, keep: bool = False) -> dict:
        params = self._instance(instance) | ({"keep": "true"} if keep else {})
        return self._call("POST", f"/labs/{_seg(lab)}/test", params=params)

    def captures(self, lab: str, instance: str | None = None, node: str | None = None
                 ) -> dict:
        params = self._instance(instance) | ({} if node is None else {"node": node})
        return self._call("GET", f"/labs/{_seg(lab)}/captures", params=params)

    def live_capture(self, lab: str, node: str, instance: str | None = None
                     ) -> Iterator[bytes]:
        return self._stream(f"/labs/{_seg(lab)}/nodes/{_seg(node)}/capture/live",
                            self._instance(instance))

    def logs_follow(self, lab: str, node: str, instance: str | None = None
                    ) -> Iterator[bytes]:
        return self._stream(f"/labs/{_seg(lab)}/nodes/{_seg(node)}/logs/follow",
                            self._instance(instance))

    def shell(self, lab: str, node: str, instance: str | None = None):
        """An interactive shell as a runtime Session (labctl/classroom/client/shell.py)."""
        path = f"/v1/labs/{_seg(lab)}/nodes/{_seg(node)}/shell"
        query = "" if instance is None else f"?instance={_seg(instance)}"
        return connect(self.url, path + query, self._token, self._verify)


def _raise_for(response: httpx.Response) -> None:
    if response.status_code >= 400:
        try:
            message = response.json().get("detail", response.text)
        except ValueError:
            message = response.text or response.reason_phrase
        raise ServerError(response.status_code, str(message))
