"""The web pages. Every page but the login goes through the one authorisation
dependency (Access / Target), so a student's page names only their own instances
and the class pages refuse students, exactly as the API does."""

from __future__ import annotations

import asyncio
import html
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from labctl.checks.run import title
from labctl.classroom.server import app as api
from labctl.classroom.server import class_routes, instances
from labctl.classroom.server.access import Access, Caller, InstanceParam, Refused, Target
from labctl.classroom.server.public import public_nodes
from labctl.classroom.web import sessions as session
from labctl.classroom.web import words
from labctl.errors import LabctlError
from labctl.lab import loader
from labctl.trace import command as trace_run
from labctl.trace import views as trace

router = APIRouter(prefix="/web", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
SSE_HEARTBEAT = 15.0  # seconds: keeps proxies from closing an idle event stream


def _page(request: Request, name: str, caller: Caller | None = None, **context
          ) -> HTMLResponse:
    me = caller.identity if caller else None
    return templates.TemplateResponse(request, name, {
        "me": me, "csrf": session.csrf_token(me.user) if me else "", **context})


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body).items()}


async def _posted(caller: Caller) -> dict[str, str]:
    """The form of a POST button, after the CSRF checks (Origin and the form's token)."""
    request = caller.request
    form = await _form(request)
    if not session.same_origin(dict(request.headers), request.url.scheme) \
            or not session.csrf_ok(caller.identity.user, form.get("csrf")):
        raise Refused(403, "this form did not come from this server's page: reload it")
    return form


# What a page may say went wrong: the URL names one of these, never the words. The
# detail (the server's own message) waits for the user in the session store.
ERRORS = {"up": "The lab could not be brought up.", "down": "The lab could not be removed.",
          "check": "The checks could not run.", "step": "The step did not pass.",
          "button": "That button does nothing here.",
          "roster": "The class list was not changed.",
          "class-up": "Not every student's lab came up.",
          "class-down": "Not every student's lab was removed."}
# What a page may say went well (?done=CODE), with the server's detail.
NOTICES = {"checked": "Checked every student.", "roster": "The class list was updated.",
           "class-up": "The lab is up for the class.",
           "class-down": "The lab was removed for the class."}


def _error_text(caller: Caller, code: str | None) -> str | None:
    """The alert for ?error=CODE: a fixed text, and the detail the server kept."""
    if code not in ERRORS:
        return None
    detail = caller.request.app.state.web_sessions.said(caller.identity.user)
    return f"{ERRORS[code]} {detail}" if detail else ERRORS[code]


def _notice_text(caller: Caller, code: str | None) -> str | None:
    """The confirmation for ?done=CODE: a fixed text, and the detail the server kept."""
    if code not in NOTICES:
        return None
    detail = caller.request.app.state.web_sessions.said(caller.identity.user)
    return f"{NOTICES[code]} {detail}" if detail else NOTICES[code]


def _back(lab: str | None, instance: str | None, error: str | None = None
          ) -> RedirectResponse:
    """To the lab's own page (lab_page.py)."""
    query = urlencode({k: v for k, v in (("instance", instance), ("error", error)) if v})
    where = f"/web/labs/{lab}" if lab else "/web/labs"
    return RedirectResponse(where + (f"?{query}" if query else ""), status_code=303)


# -- login -------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, expired: int = 0) -> HTMLResponse:
    return _page(request, "login.html", error="Your session ended: log in again."
                 if expired else None)


@router.post("/login")
async def login(request: Request) -> Response:
    token = (await _form(request)).get("token", "").strip()
    server = request.app.state.server
    if not session.same_origin(dict(request.headers), request.url.scheme):
        raise Refused(403, "log in from this server's own page")
    user = server.tokens.user_for(token) if token else None
    server.audit.record(user=user, action="web_login", lab=None, instance=None,
                        result="ok" if user else "refused 401: unknown or revoked token",
                        peer=f"{request.client.host}:{request.client.port}"
                        if request.client else None)
    if user is None:
        return _page(request, "login.html", error="That token is unknown or was revoked.")
    sid = request.app.state.web_sessions.start(user, token)  # the token stays here
    reply = RedirectResponse("/web/", status_code=303)
    reply.headers.append("set-cookie",
                         session.cookie_header(sid, secure=request.url.scheme == "https"))
    return reply


@router.post("/logout")
async def logout(caller: Access) -> Response:
    await _posted(caller)
    caller.request.app.state.web_sessions.end(caller.request.cookies.get(session.COOKIE))
    reply = RedirectResponse("/web/login", status_code=303)
    reply.headers.append("set-cookie", session.cookie_header("", secure=False, max_age=0))
    return reply


@router.get("/")
async def home(caller: Access) -> Response:
    if caller.identity.instructor:
        return RedirectResponse("/web/class", status_code=303)
    return RedirectResponse("/web/labs", status_code=303)


# -- a student's labs --------------------------------------------------------------------
def _labs(caller: Caller, owner: str) -> list:
    server = caller.server
    found = []
    for source in (server.catalogue.server_labs(), server.catalogue.user_labs(owner)):
        for path in source.values():
            try:
                found.append(loader.load_once(path))  # validated once per content
            except LabctlError:
                continue  # an invalid lab is not offered (as GET /v1/labs)
    return found


@router.get("/labs", response_class=HTMLResponse)
async def labs_page(caller: Access, instance: InstanceParam = None, error: str | None = None
                    ) -> HTMLResponse:
    target = caller.instance_for(instance)
    server = caller.server
    owner = instances.owner_base(target)
    labs = await asyncio.to_thread(_labs, caller, owner)
    nodes = public_nodes(await asyncio.to_thread(server.ops.nodes, None, target))
    board = class_routes.board(caller)
    shown = []
    running = {n["lab"] for n in nodes}
    for lab in sorted(labs, key=lambda lab: (lab.name not in running, lab.name)):
        mine = [n for n in nodes if n["lab"] == lab.name]
        latest = board.results.get((lab.name, target)) if mine else None
        shown.append({"lab": lab, "nodes": mine, "running": bool(mine),
                      "titles": [title(c) for c in lab.checks],
                      "results": latest["checks"] if latest else None,
                      "captures": [n["node"] for n in mine if n["capture"]]})
    return _page(caller.request, "student.html", caller, labs=shown, instance=target,
                 owner=owner, error=_error_text(caller, error))


@router.post("/labs/{lab}/{action}")
async def lab_action(target: Target, action: str) -> Response:
    """The buttons: up, down, check, step (the form says which step)."""
    form = await _posted(target.caller)
    instance = None if target.instance == target.identity.instance else target.instance
    server = target.server
    result = "ok"
    try:
        if action == "up":
            await api.up(target)
        elif action == "down":
            await api.down(target)
            class_routes.board(target.caller).record(target.lab, target.instance, None)
            step_results(target).clear()
        elif action == "check":
            report = await api.check(target)
            class_routes.board(target.caller).record(
                target.lab, target.instance, {"checks": report["labs"][0]["checks"]})
        elif action == "step":
            result = await _step(target, form.get("step", ""))
        else:
            raise Refused(404, "no such button")
    except (LabctlError, HTTPException) as exc:
        result = f"error: {words.for_the_page(str(getattr(exc, 'detail', None) or exc))}"
    server.audit.record(user=target.identity.user, action=f"web_{action}", lab=target.lab,
                        instance=target.instance, result=result)
    class_routes.board(target.caller).touch()  # the live grid redraws (state, activity)
    if not result.startswith("error"):
        return _back(target.lab, instance)
    server_said = result.removeprefix("error: ")
    target.caller.request.app.state.web_sessions.say(target.identity.user, server_said)
    return _back(target.lab, instance, action if action in ERRORS else "button")


def step_results(target) -> dict[int, object]:
    """The latest result of each step of a lab instance (the server's memory: the lab's
    page shows them; down forgets them)."""
    kept = target.caller.request.app.state.__dict__.setdefault("web_steps", {})
    return kept.setdefault((target.lab, target.instance), {})


async def _step(target, index: str) -> str:
    server = target.server
    lab = await asyncio.to_thread(server.ops.load_lab, server.catalogue.find(
        target.lab, instances.owner_base(target.instance)))
    if not index.isdigit() or int(index) >= len(lab.steps):
        raise Refused(422, f"{lab.name} has no step {index}")
    done = await asyncio.to_thread(server.ops.run_step, lab, target.instance, int(index))
    step_results(target)[int(index)] = done
    return "ok" if done.passed else f"error: step {int(index) + 1}: {done.message}"


@router.get("/labs/{lab}/trace", response_class=HTMLResponse)
async def trace_page(target: Target) -> HTMLResponse:
    """The lab's trace as the course draws it (trace --html), from the running captures."""

    def draw() -> str:
        files, nodes = target.server.ops.all_captures(target.lab, target.instance)
        source = trace_run.from_lab(files, nodes, target.lab, None)
        return trace.html_page(source.analysis, source.names, source.title)

    try:
        return HTMLResponse(await asyncio.to_thread(draw))
    except LabctlError as exc:
        return HTMLResponse(f"<!doctype html><p>No trace yet: {_escape(str(exc))}</p>")


@router.get("/labs/{lab}/pcaps/{node}")
async def pcap(target: Target, node: str) -> Response:
    files, _ = await asyncio.to_thread(target.server.ops.captures, target.lab,
                                       target.instance, node)
    name = f"{target.lab}-{target.instance}-{node}.pcap"
    return Response(files[0].data, media_type="application/vnd.tcpdump.pcap",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


def _escape(text: str) -> str:
    return html.escape(text)
