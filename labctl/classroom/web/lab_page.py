"""A lab's own page: the whole lab in the browser. The student sheet beside the lab, the
topology, a terminal per node, each step's output and status, the checks, the node's
logs and the packets as they are captured, all live. Every route takes the one
authorisation dependency (Target): a student reaches only their own instances.

Steps and checks answer a page's script with an HTML fragment (the page stays, with its
terminals open) and a plain form with a redirect (no script needed)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, WebSocket
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from labctl.checks.run import title
from labctl.classroom.server import app as api
from labctl.classroom.server import class_routes, instances, streams
from labctl.classroom.server.access import Refused, Target
from labctl.classroom.server.public import public_nodes
from labctl.classroom.web import assets, live, pages, sheet, topology, words
from labctl.errors import LabctlError
from labctl.lab import loader, model

router = APIRouter(prefix="/web", include_in_schema=False)
NodePath = Annotated[str, Path(pattern=model.NAME_PATTERN)]
FRAGMENT = "x-labctl-fragment"  # a page's script asks for the fragment, not the page
LOG_TAIL = 300  # lines of a node's log shown before it follows


def _query(target) -> str:
    own = target.instance == target.identity.instance
    return "" if own else f"?instance={target.instance}"


async def _lab(target) -> tuple[model.Lab, object]:
    server = target.server
    path = server.catalogue.find(target.lab, instances.owner_base(target.instance))
    lab = await asyncio.to_thread(loader.load_once, path)
    return lab, path


@router.get("/labs/{lab}", response_class=HTMLResponse)
async def lab_page(target: Target, error: str | None = None) -> HTMLResponse:
    server = target.server
    lab, path = await _lab(target)
    nodes = public_nodes(await asyncio.to_thread(server.ops.nodes, lab.name, target.instance))
    running = bool(nodes)
    latest = class_routes.board(target.caller).results.get((lab.name, target.instance))
    own_lab = path in server.catalogue.server_labs().values()  # a sent lab has no sheet
    return pages._page(
        target.caller.request, "lab.html", target.caller, lab=lab, nodes=nodes,
        running=running, instance=target.instance, q=_query(target),
        owner=instances.owner_base(target.instance),
        sheet=await asyncio.to_thread(sheet.for_lab, path) if own_lab else None,
        topology=topology.svg(lab, nodes), titles=[title(c) for c in lab.checks],
        results=latest["checks"] if running and latest else None,
        checked_at=latest.get("at") if running and latest else None,
        steps=pages.step_results(target) if running else {},
        capturing=[n["node"] for n in nodes if n["capture"]],
        log_node=next((n["node"] for n in nodes if n["services"]), None),
        terminal=assets.has_terminal(), error=pages._error_text(target.caller, error),
        xterm_v=assets.version("xterm/xterm.js"), lab_js_v=assets.version("lab.js"))


def _answer(target, fragment: str, anchor: str, failed: str | None) -> Response:
    if target.caller.request.headers.get(FRAGMENT):
        return HTMLResponse(fragment, status_code=200)
    where = f"/web/labs/{target.lab}{_query(target)}"
    if failed:
        where += ("&" if "?" in where else "?") + f"error={failed}"
    return RedirectResponse(f"{where}#{anchor}", status_code=303)


@router.post("/labs/{lab}/steps/{index}")
async def run_step(target: Target, index: int) -> Response:
    """Run one of the lab's steps; its output and status come back as a fragment."""
    await pages._posted(target.caller)
    server = target.server
    lab, _ = await _lab(target)
    if not 0 <= index < len(lab.steps):
        raise Refused(404, f"{lab.name} has no step {index + 1}")
    try:
        done = await asyncio.to_thread(server.ops.run_step, lab, target.instance, index)
        pages.step_results(target)[index] = done
        result = "ok" if done.passed else f"failed: {done.message}"
        error = None
    except LabctlError as exc:
        done, error = None, words.for_the_page(str(exc))
        result = f"error: {exc}"
    server.audit.record(user=target.identity.user, action="web_step", lab=target.lab,
                        instance=target.instance, result=result, step=index + 1)
    if error is not None and not target.caller.request.headers.get(FRAGMENT):
        target.caller.request.app.state.web_sessions.say(target.identity.user, error)
    fragment = pages.templates.get_template("step_result.html").render(
        step=lab.steps[index], index=index, done=done, error=error)
    return _answer(target, fragment, f"step-{index + 1}", "step" if error else None)


@router.post("/labs/{lab}/checks")
async def run_checks(target: Target) -> Response:
    """Run the lab's checks; the results table comes back as a fragment."""
    await pages._posted(target.caller)
    board = class_routes.board(target.caller)
    error = None
    try:
        report = await api.check(target)
        board.record(target.lab, target.instance, {"checks": report["labs"][0]["checks"]})
        result = "ok"
    except (LabctlError, HTTPException) as exc:
        detail = str(getattr(exc, "detail", None) or exc)
        error, result = words.for_the_page(detail), f"error: {detail}"
    target.server.audit.record(user=target.identity.user, action="web_check",
                               lab=target.lab, instance=target.instance, result=result)
    board.touch()
    if error is not None and not target.caller.request.headers.get(FRAGMENT):
        target.caller.request.app.state.web_sessions.say(target.identity.user, error)
    lab, _ = await _lab(target)
    latest = board.results.get((target.lab, target.instance))
    fragment = pages.templates.get_template("checks.html").render(
        lab=lab, titles=[title(c) for c in lab.checks], error=error,
        results=latest["checks"] if latest else None,
        checked_at=latest.get("at") if latest else None)
    return _answer(target, fragment, "checks", "check" if error else None)


@router.get("/labs/{lab}/topology.svg")
async def topology_svg(target: Target) -> Response:
    lab, _ = await _lab(target)
    nodes = public_nodes(await asyncio.to_thread(target.server.ops.nodes, lab.name,
                                                 target.instance))
    return Response(topology.svg(lab, nodes), media_type="image/svg+xml")


# -- live: logs, packets, terminals ---------------------------------------------------
@router.get("/labs/{lab}/nodes/{node}/logs")
async def follow_logs(target: Target, node: NodePath,
                      tail: int = Query(LOG_TAIL, ge=1, le=5000)) -> StreamingResponse:
    """The node's log, then what it prints, until the page stops reading."""
    return await streams.logs_follow(target, node, tail)


@router.get("/labs/{lab}/packets")
async def packets(target: Target,
                  node: str | None = Query(None, pattern=model.NAME_PATTERN)
                  ) -> StreamingResponse:
    """Server-sent events: each packet's line as it is captured on `node` (default: the
    first capturing node), and the ladder of each connection it touched, redrawn."""
    return await live.packet_events(target, node)


@router.websocket("/labs/{lab}/nodes/{node}/shell")
async def shell(websocket: WebSocket, target: Target, node: NodePath) -> None:
    """A terminal of the page: the API's shell, logged in by the session cookie (the
    middleware checked it and the Origin before the handshake)."""
    server = target.server
    try:
        await asyncio.to_thread(server.ops.node, target.lab, target.instance, node)
    except LabctlError as exc:
        await websocket.accept()
        await websocket.send_text(json.dumps({"error": words.for_the_page(str(exc))}))
        await websocket.close()
        return
    server.audit.record(user=target.identity.user, action="web_shell", lab=target.lab,
                        instance=target.instance, result="ok", node=node)
    await streams.shell(websocket, target, node)
