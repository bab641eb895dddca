"""Routes that stream or return files: captures, live capture, `logs -f`, `test`, and
the interactive shell over a WebSocket. Authorisation is the same `Target` as app.py's."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import anyio.from_thread
import anyio.lowlevel
from fastapi import APIRouter, Path, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from labctl.classroom.server import schemas
from labctl.classroom.server.access import Refused, Target
from labctl.classroom.server.public import public_node
from labctl.errors import LabctlError
from labctl.lab import model

router = APIRouter(prefix="/v1")
log = logging.getLogger("labctl.classroom.server")
NodePath = Annotated[str, Path(pattern=model.NAME_PATTERN, description="A node of the lab.")]


@router.get("/labs/{lab}/captures", response_model=schemas.Captures)
async def captures(target: Target, node: str | None = Query(None, pattern=model.NAME_PATTERN)
                   ) -> schemas.Captures:
    """The lab's capture files as they are now (a copy while tcpdump writes them)."""
    target.caller.note(node=node)
    files, nodes = await asyncio.to_thread(target.server.ops.captures, target.lab,
                                           target.instance, node)
    return schemas.Captures(
        lab=target.lab, instance=target.instance,
        files=[schemas.CapturedFile(node=f.node, pcap=base64.b64encode(f.data).decode())
               for f in files],
        nodes=[schemas.Node(**public_node(n)) for n in nodes])


@router.get("/labs/{lab}/nodes/{node}/capture/live",
            responses={200: {"content": {"application/vnd.tcpdump.pcap": {}}}})
async def live_capture(target: Target, node: NodePath) -> StreamingResponse:
    """The node's pcap from its start, then every packet as it is captured, until the
    client goes away (or stops reading: it is dropped then)."""
    target.caller.note(node=node)
    slot = target.caller.stream()
    try:
        chunks = await asyncio.to_thread(target.server.ops.live_capture, target.lab,
                                         target.instance, node)
        iterator = iter(chunks)
        first = await asyncio.to_thread(next, iterator, b"")  # errors before the 200
    except BaseException:
        slot.release()
        raise
    return Bounded(_Pump(first, iterator, slot), media_type="application/vnd.tcpdump.pcap")


@router.get("/labs/{lab}/nodes/{node}/logs/follow",
            responses={200: {"content": {"application/octet-stream": {}}}})
async def logs_follow(target: Target, node: NodePath,
                      tail: int = Query(1000, ge=1, le=100_000)) -> StreamingResponse:
    """What a node's services print, as they print it (`labctl logs -f`)."""
    target.caller.note(node=node)
    slot = target.caller.stream()
    try:
        chunks = await asyncio.to_thread(target.server.ops.logs, target.lab,
                                         target.instance, node, True, tail)
    except BaseException:
        slot.release()
        raise
    return Bounded(_Pump(b"", chunks, slot), media_type="application/octet-stream")


# A stream holds at most BUFFERED chunks (of up to 64 KiB) for its client, and a client
# that takes nothing for SLOW_READER_SECONDS is dropped: the node's side waits meanwhile
# (nothing piles up in the server), then stops.
BUFFERED = 16
SLOW_READER_SECONDS = 30


class Bounded(StreamingResponse):
    """A pumped stream whose client must keep reading: a send that waits longer than
    SLOW_READER_SECONDS ends the response there (uvicorn then closes the connection).
    However the response ends, even before its first chunk, the pump is closed."""

    def __init__(self, pump: _Pump, media_type: str):
        super().__init__(pump.chunks(), media_type=media_type)
        self.pump = pump

    async def stream_response(self, send) -> None:
        async def timed(message) -> None:
            with anyio.fail_after(SLOW_READER_SECONDS):
                await send(message)

        try:
            await super().stream_response(timed)
        except TimeoutError:
            log.info("dropped a client that stopped reading a stream")

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:  # also when the client left before the first chunk
            self.pump.close()


class _Pump:
    """Chunks from a blocking iterator, read by a thread of its own (started at once)
    into a buffer of BUFFERED chunks: the thread waits while it is full. close() (the
    client left) stops the thread at its next chunk and closes the iterator, which
    stops the follower in the node (a live capture's tail) at once, even mid-read; the
    stream slot goes back when the thread ends."""

    def __init__(self, first: bytes, chunks, slot):
        self._first, self._chunks, self._slot = first, chunks, slot
        self._send, self._receive = anyio.create_memory_object_stream[bytes](BUFFERED)
        self._token = anyio.lowlevel.current_token()
        self._closed = False
        threading.Thread(target=self._pump, daemon=True, name="labctl-stream").start()

    def _pump(self) -> None:
        try:
            with self._send:
                for chunk in self._chunks:
                    for start in range(0, len(chunk), 65536):
                        anyio.from_thread.run(self._send.send, chunk[start:start + 65536],
                                              token=self._token)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, RuntimeError,
                LabctlError):
            pass  # the client left, the server is stopping, or the node went away
        finally:
            _close(self._chunks)
            self._slot.release()

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._first:
            yield self._first
        async for chunk in self._receive:
            yield chunk

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._receive.close()
            threading.Thread(target=_close, args=(self._chunks,), daemon=True).start()


def _close(chunks) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):  # a generator mid-read closes at its next chunk
            close()


@router.websocket("/labs/{lab}/nodes/{node}/shell")
async def shell(websocket: WebSocket, target: Target, node: NodePath) -> None:
    """An interactive shell: binary frames are the terminal's bytes both ways; a text
    frame {"rows": R, "cols": C} resizes; the last text frame sent is {"exit": CODE}.
    A client that reads nothing for SLOW_READER_SECONDS is dropped."""
    target.caller.note(node=node)
    slot = None
    try:
        slot = target.caller.stream()
        info = await asyncio.to_thread(target.server.ops.node, target.lab, target.instance,
                                       node)
        session = await asyncio.to_thread(target.server.ops.runtime.open_session,
                                          info.container, ["/bin/bash", "-i"], True)
    except (LabctlError, Refused) as exc:
        if slot is not None:
            slot.release()
        await websocket.accept()
        await websocket.send_text(json.dumps({"error": str(getattr(exc, "detail", exc))}))
        await websocket.close()
        return
    bridge = _Bridge(session, slot)
    try:
        await websocket.accept()
        await bridge.run(websocket)
    finally:
        bridge.close()


class _Bridge:
    """A session and a WebSocket, joined by two threads of the session's own (never the
    server's workers) and two bounded buffers: a side that stops reading makes the other
    wait, and a client that waits too long is dropped. Closing never blocks: the session
    is closed by a thread of its own, which gives the stream slot back once done."""

    def __init__(self, session, slot):
        self.session, self.slot = session, slot
        self.exit_code: int | None = None
        self._out_send, self._out = anyio.create_memory_object_stream[bytes](BUFFERED)
        self._in, self._in_receive = anyio.create_memory_object_stream[object](BUFFERED)
        self._token = anyio.lowlevel.current_token()
        self._threads = [threading.Thread(target=self._node_to_buffer, daemon=True,
                                          name="labctl-shell-out"),
                         threading.Thread(target=self._buffer_to_node, daemon=True,
                                          name="labctl-shell-in")]

    async def run(self, websocket: WebSocket) -> None:
        for thread in self._threads:
            thread.start()
        async with anyio.create_task_group() as group:
            async def to_client() -> None:
                try:
                    async with self._out:
                        async for data in self._out:
                            with anyio.fail_after(SLOW_READER_SECONDS):
                                await websocket.send_bytes(data)
                    with anyio.move_on_after(5):  # the shell ended: say how
                        await websocket.send_text(json.dumps({"exit": self.exit_code}))
                        await websocket.close()
                except TimeoutError:
                    log.info("dropped a shell client that stopped reading")
                except (WebSocketDisconnect, RuntimeError, OSError):
                    pass
                group.cancel_scope.cancel()

            async def from_client() -> None:
                try:
                    async with self._in:
                        while True:
                            message = await websocket.receive()
                            if message["type"] == "websocket.disconnect":
                                break
                            if message.get("bytes"):
                                await self._in.send(message["bytes"])
                            elif message.get("text"):
                                size = json.loads(message["text"])
                                await self._in.send((int(size["rows"]), int(size["cols"])))
                except (WebSocketDisconnect, RuntimeError, ValueError, KeyError, TypeError):
                    pass
                group.cancel_scope.cancel()

            group.start_soon(to_client)
            group.start_soon(from_client)

    def _node_to_buffer(self) -> None:
        try:
            with self._out_send:
                while data := self.session.recv(65536):
                    anyio.from_thread.run(self._out_send.send, data, token=self._token)
                self.exit_code = self.session.exit_code  # the shell ended by itself
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, RuntimeError, OSError,
                LabctlError):
            pass

    def _buffer_to_node(self) -> None:
        try:
            while True:
                item = anyio.from_thread.run(self._in_receive.receive, token=self._token)
                if isinstance(item, bytes):
                    self.session.send(item)
                else:
                    self.session.resize(*item)
        except (anyio.EndOfStream, anyio.ClosedResourceError, RuntimeError, OSError,
                LabctlError):
            pass

    def close(self) -> None:
        self._out.close()
        self._in_receive.close()
        self._in.close()
        threading.Thread(target=self._close_session, daemon=True,
                         name="labctl-shell-close").start()

    def _close_session(self) -> None:
        try:
            with contextlib.suppress(Exception):
                self.session.close()  # shuts the connection down: both threads end
            for thread in self._threads:
                if thread.is_alive():
                    thread.join(timeout=30)
        finally:
            self.slot.release()
