"""ASGI middleware: a bound on request bodies, and one audit line per API request."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labctl.classroom.server.access import PEER_KEY
from labctl.classroom.server.audit import AuditLog
from labctl.classroom.server.identity import user_name


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Read at most `limit` bytes of a body before anything parses it (413 beyond)."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = f"request body over {self.limit} bytes"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _reply(send, 413, too_big)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _reply(send, 413, too_big)
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for a disconnect, as usual

        await self.app(scope, replay, send)


class Audit:
    """Every /v1 request: who, what, which lab and instance, and how it ended."""

    def __init__(self, app: ASGIApp, log: AuditLog):
        self.app, self.log = app, log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] not in ("http", "websocket")
                or not scope["path"].startswith("/v1/")):
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        outcome: dict = {"status": 500}
        error = bytearray()

        async def watch(message: Message) -> None:
            # A WebSocket (`labctl shell`) is accepted (101) or refused with an HTTP answer.
            kind = message["type"].removeprefix("websocket.")
            if kind == "accept":
                outcome["status"] = 101
            elif kind == "http.response.start":
                outcome["status"] = message["status"]
            elif kind == "http.response.body" and outcome["status"] >= 400:
                error.extend(message.get("body", b"")[:4096 - len(error)])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self._record(scope, outcome["status"], bytes(error))

    def _record(self, scope: Scope, status: int, error: bytes) -> None:
        fields = dict(scope["state"].get("audit") or {})
        action = fields.pop("action", f"{scope.get('method', 'WS')} {scope['path']}")
        if status < 400:
            result = fields.pop("result", "ok")
        else:
            try:
                detail = json.loads(error).get("detail", "")
            except (ValueError, AttributeError):
                detail = ""
            kind = "refused" if status in (401, 403) else "error"
            result = f"{kind} {status}: {detail}"
            fields.pop("result", None)
        user = fields.pop("user", None)
        peer = scope.get(PEER_KEY)
        if user is None and peer is not None:  # refused before the route ran
            user = user_name(peer.uid)
        client = scope.get("client")
        # Where the request came from: the kernel's word, or the TCP peer.
        fields["peer"] = (f"uid {peer.uid} pid {peer.pid}" if peer is not None
                          else f"{client[0]}:{client[1]}" if client else None)
        self.log.record(user=user, action=action,
                        lab=fields.pop("lab", None), instance=fields.pop("instance", None),
                        result=result, **fields)
