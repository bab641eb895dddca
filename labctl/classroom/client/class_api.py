"""The class routes (/v1/class) from the client side; a Client with four more calls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote, urlparse

import httpx

from labctl.classroom.client.api import Client, ServerError
from labctl.classroom.server.config import LOOPBACK
from labctl.errors import LabctlError


class ClassClient(Client):
    def __init__(self, url: str, token: str | None = None, verify=True, timeout=600.0):
        parsed = urlparse(url)
        if parsed.scheme != "http":
            super().__init__(url, token=token, verify=verify, timeout=timeout)
            return
        if parsed.hostname not in LOOPBACK:
            raise LabctlError(f"server URL {url!r}: plain http only to a loopback address")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)
        self.url = url

    def class_status(self) -> list[dict]:
        return self._call("GET", "/class/status")

    def class_check(self, lab: str, students: list[str] | None = None) -> dict:
        return self._call("POST", f"/class/{quote(lab, safe='')}/check",
                          json={"students": students})

    def class_up(self, lab: str, students: list[str]) -> Iterator[dict]:
        return self._lines(f"/class/{quote(lab, safe='')}/up", {"students": students})

    def class_down(self, lab: str, students: list[str] | None = None) -> Iterator[dict]:
        return self._lines(f"/class/{quote(lab, safe='')}/down", {"students": students})

    def _lines(self, path: str, body: dict) -> Iterator[dict]:
        """A streamed reply: one JSON object per line, as the server finishes each."""
        try:
            with self._http.stream("POST", "/v1" + path, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    try:
                        message = response.json().get("detail", response.text)
                    except ValueError:
                        message = response.text
                    raise ServerError(response.status_code, str(message))
                for line in response.iter_lines():
                    if line.strip():
                        yield json.loads(line)
        except httpx.HTTPError as exc:
            raise ServerError(503, f"lost the labctl server at {self.url}: {exc}") from None
