"""Routes that stream or return files: captures, live capture, `logs -f`, `test`, and
the interactive shell over a WebSocket. Authorisation is the same `Target` as app.py's."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
from typing import Annotated

from fastapi import APIRouter, Path, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from labctl.classroom.server import schemas
from labctl.classroom.server.access import Refused, Target
from labctl.classroom.server.public import public_node
from labctl.errors import LabctlError
from labctl.lab import model

router = APIRouter(prefix="/v1")
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
    client goes away."""
    target.caller.note(node=node)
    chunks = await asyncio.to_thread(target.server.ops.live_capture, target.lab,
                                     target.instance, node)
    iterator = iter(chunks)
    first = await asyncio.to_thread(next, iterator, b"")  # errors before the 200
    return StreamingResponse(_closing(first, iterator),
                             media_type="application/vnd.tcpdump.pcap")


@router.get("/labs/{lab}/nodes/{node}/logs/follow",
            responses={200: {"content": {"application/octet-stream": {}}}})
async def logs_follow(target: Target, node: NodePath,
                      tail: int = Query(1000, ge=1, le=100_000)) -> StreamingResponse:
    """What a node's services print, as they print it (`labctl logs -f`)."""
    target.caller.note(node=node)
    chunks = await asyncio.to_thread(target.server.ops.logs, target.lab,
                                     target.instance, node, True, tail)
    return StreamingResponse(_closing(b"", chunks), media_type="application/octet-stream")


async def _closing(first: bytes, chunks):
    """Chunks from a blocking iterator, read by a thread of its own. When the client
    leaves, the thread stops at the next chunk and closes the iterator, which stops
    the follower in the node (a live capture's tail)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    leave = threading.Event()

    def put(item) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody listens
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def pump() -> None:
        iterator = iter(chunks)
        try:
            for chunk in iterator:
                if leave.is_set():
                    break
                put(chunk)
        except LabctlError:
            pass  # the node went away: the stream simply ends
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
            put(None)

    threading.Thread(target=pump, daemon=True, name="labctl-stream").start()
    try:
        if first:
            yield first
        while (chunk := await queue.get()) is not None:
            yield chunk
    finally:
        leave.set()
        close = getattr(chunks, "close", None)
        if close is not None:  # a Follower stops at once, even mid-read
            threading.Thread(target=_quietly, args=(close,), daemon=True).start()


def _quietly(close) -> None:
    with contextlib.suppress(ValueError):  # a generator mid-read closes at its next chunk
        close()



@router.websocket("/labs/{lab}/nodes/{node}/shell")
async def shell(websocket: WebSocket, target: Target, node: NodePath) -> None:
    """An interactive shell: binary frames are the terminal's bytes both ways; a text
    frame {"rows": R, "cols": C} resizes; the last text frame sent is {"exit": CODE}."""
    target.caller.note(node=node)
    try:
        info = await asyncio.to_thread(target.server.ops.node, target.lab, target.instance,
                                       node)
        session = await asyncio.to_thread(target.server.ops.runtime.open_session,
                                          info.container, ["/bin/bash", "-i"], True)
    except (LabctlError, Refused) as exc:
        await websocket.accept()
        await websocket.send_text(json.dumps({"error": str(getattr(exc, "detail", exc))}))
        await websocket.close()
        return
    await websocket.accept()
    reader = asyncio.create_task(_node_to_client(websocket, session))
    try:
        while not reader.done():
            receive = asyncio.create_task(websocket.receive())
            done, _ = await asyncio.wait({receive, reader}, return_when=asyncio.FIRST_COMPLETED)
            if receive not in done:
                receive.cancel()
                break
            message = receive.result()
            if message["type"] == "websocket.disconnect":
                break
            if message.get("bytes"):
                await asyncio.to_thread(session.send, message["bytes"])
            elif message.get("text"):
                size = json.loads(message["text"])
                await asyncio.to_thread(session.resize, int(size["rows"]), int(size["cols"]))
    except WebSocketDisconnect:
        pass
    finally:
        await asyncio.to_thread(session.close)  # ends the shell and what it started
        reader.cancel()
    if reader.cancelled() or not reader.done():
        return
    with contextlib.suppress(Exception):
        await websocket.send_text(json.dumps({"exit": session.exit_code}))
        await websocket.close()


async def _node_to_client(websocket: WebSocket, session) -> None:
    while True:
        data = await asyncio.to_thread(session.recv, 65536)
        if not data:
            return
        await websocket.send_bytes(data)
