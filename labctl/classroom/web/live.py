"""Packets as they are captured, for the lab's page: the node's live capture (the API's
stream, with its bounds) read by trace's Live follower, sent as server-sent events.

Each batch is at most every BATCH_SECONDS: `packets` (the new packets' lines) and one
`ladder` per connection it touched, drawn by the server as the course draws it (trace's
SVG ladder). Only the LADDERS newest connections are redrawn, each with its first
LADDER_SEGMENTS segments: a flood cannot make the page, or the server, draw without end.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json

from fastapi.responses import StreamingResponse

from labctl.classroom.server import streams
from labctl.classroom.server.access import Refused
from labctl.trace import follow, views

BATCH_SECONDS = 0.25
HEARTBEAT = 15.0
LADDERS = 6
LADDER_SEGMENTS = 40
LINES_PER_BATCH = 200


def _event(kind: str, data: dict) -> str:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n"


async def packet_events(target, node: str | None) -> StreamingResponse:
    nodes = await asyncio.to_thread(target.server.ops.nodes, target.lab, target.instance)
    capturing = [n.node for n in nodes if n.capture]
    if not nodes:
        raise Refused(409, f"{target.lab} is not running: press “Bring up” first")
    if not capturing:
        raise Refused(409, f"no node of {target.lab} captures packets")
    chosen = node if node in capturing else capturing[0]
    by_ip: dict[str, str] = {}
    for n in nodes:
        by_ip[n.ip] = n.node
        for ip in n.addresses.values():
            by_ip.setdefault(ip, n.node)
    capture = await streams.live_capture(target, chosen)
    names = views.Names(by_ip)
    request = target.caller.request

    async def events():
        queue: asyncio.Queue = asyncio.Queue(maxsize=64)  # a slow page slows the reader
        pump = asyncio.create_task(_pump(capture.body_iterator, queue))
        live = follow.Live(by_ip)
        yield "retry: 2000\n" + _event("hello", {"node": chosen, "nodes": capturing})
        try:
            while not await request.is_disconnected():
                try:
                    chunk = await asyncio.wait_for(queue.get(), HEARTBEAT)
                except TimeoutError:
                    yield ": still here\n\n"
                    continue
                if chunk is None:
                    yield _event("end", {"text": "the capture ended"})
                    return
                chunks = [chunk]
                await asyncio.sleep(BATCH_SECONDS)  # gather what else came meanwhile
                while not queue.empty():
                    more = queue.get_nowait()
                    if more is None:
                        break
                    chunks.append(more)
                batch = await asyncio.to_thread(_feed, live, chunks, names)
                for kind, data in batch:
                    yield _event(kind, data)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})


async def _pump(chunks, queue: asyncio.Queue) -> None:
    try:
        async for chunk in chunks:
            await queue.put(chunk)
    finally:
        with contextlib.suppress(Exception):
            await chunks.aclose()  # stops the follower in the node
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(None)


def _feed(live: follow.Live, chunks: list[bytes], names: views.Names) -> list[tuple]:
    """The events one batch of capture makes (a thread: decoding and drawing)."""
    lines, touched, note = [], {}, ""
    for chunk in chunks:
        batch = live.feed(chunk)
        lines += batch.lines
        note = batch.note or note
        for conv in batch.touched:
            touched[conv.stream] = conv
    out: list[tuple] = []
    if lines:
        out.append(("packets", {"lines": lines[-LINES_PER_BATCH:], "total": live.number,
                                "skipped": max(0, len(lines) - LINES_PER_BATCH)}))
    newest = max((c.stream for c in live.analyser.conversations), default=-1)
    for stream in sorted(touched):
        if stream <= newest - LADDERS:
            continue  # an old connection: no longer on the page
        conv = touched[stream]
        shown = conv if len(conv.segments) <= LADDER_SEGMENTS else dataclasses.replace(
            conv, segments=conv.segments[:LADDER_SEGMENTS])
        more = len(conv.segments) - len(shown.segments)
        out.append(("ladder", {"conn": stream, "headline": views.headline(conv, names),
                               "svg": views.ladder_svg(shown, names, key=f"-live-{stream}"),
                               "more": more}))
    if note:
        out.append(("note", {"text": note}))
    return out
