"""The instructor's pages: the class (the server's roster, which the instructor uploads
or edits here; students who use the server join it), a lab's live grid, the class's
labs brought up and down, everyone checked, the grades exported. Instructors only:
every route declares class_routes.Instructor."""

from __future__ import annotations

import asyncio
import json
from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from labctl.checks.run import title
from labctl.classroom import grade_formats as render
from labctl.classroom import grades, roster
from labctl.classroom.server import class_routes
from labctl.classroom.server.access import Caller, LabName, Refused
from labctl.classroom.web import assets, pages, words
from labctl.errors import InvalidInput

router = APIRouter(prefix="/web", include_in_schema=False)
SSE_HEARTBEAT = 15.0  # seconds: keeps proxies from closing an idle event stream


async def _grid(caller: Caller, lab_name: str) -> grades.Grades:
    """The grid as the latest results stand (no check is run to draw it)."""
    server = caller.server
    lab = await asyncio.to_thread(server.ops.load_lab,
                                  server.catalogue.find(lab_name, caller.identity.instance))
    students, nodes, _ = await class_routes.roster(caller)
    running = {n["instance"] for n in nodes if n["lab"] == lab.name}
    board = class_routes.board(caller)
    rows = []
    for student, base in sorted(students.items()):
        latest = board.results.get((lab.name, base))
        if base not in running:
            rows.append(grades.no_lab(student, base, lab.name))
        elif latest is None:
            rows.append(grades.Row(student, base, grades.NOT_CHECKED,
                                   note="running; not checked yet"))
        else:
            rows.append(grades.checked(student, base, latest["checks"]))
    return grades.grades(lab.name, [title(c) for c in lab.checks], rows)


def _checked_at(caller: Caller, grid: grades.Grades) -> dict[str, str]:
    """instance -> when its shown results came in (HH:MM:SS UTC)."""
    board = class_routes.board(caller)
    found = {}
    for row in grid.rows:
        latest = board.results.get((grid.lab, row.instance))
        if latest and row.state == "checked":
            found[row.instance] = latest.get("at", "")
    return found


def _page_of(caller: Caller, lab: str | None, done: str | None = None,
             error: str | None = None) -> RedirectResponse:
    query = {k: v for k, v in (("lab", lab), ("done", done), ("error", error)) if v}
    return RedirectResponse(f"/web/class?{urlencode(query)}", status_code=303)


@router.get("/class", response_class=HTMLResponse)
async def class_page(caller: class_routes.Instructor, lab: str | None = None,
                     error: str | None = None, done: str | None = None) -> HTMLResponse:
    error = pages._error_text(caller, error)  # a fixed text, never the URL's words
    notice = pages._notice_text(caller, done)
    offered = sorted(caller.server.catalogue.server_labs())
    chosen = lab if lab in offered else (offered[0] if offered else None)
    grid = await _grid(caller, chosen) if chosen else None
    status = await class_routes.class_status(caller)
    activity = caller.server.audit.roster.activity() if caller.server.audit.roster else None
    members = set(activity.members) if activity else set()
    return pages._page(caller.request, "class.html", caller, labs=offered, lab=chosen,
                       grid=grid, error=error, notice=notice, status=status,
                       members=members, checked=_checked_at(caller, grid) if grid else {},
                       class_js_v=assets.version("class.js"))


@router.get("/class/{lab}/grid", response_class=HTMLResponse)
async def class_grid(caller: class_routes.Instructor, lab: LabName) -> HTMLResponse:
    grid = await _grid(caller, lab)
    return pages._page(caller.request, "grid.html", caller, grid=grid,
                       checked=_checked_at(caller, grid))


@router.get("/class/{lab}/events")
async def class_events(caller: class_routes.Instructor, lab: LabName) -> StreamingResponse:
    """Server-sent events: one `change` whenever a check, up or down may change the grid."""
    board = class_routes.board(caller)
    request = caller.request

    async def events():
        seen = board.version
        yield f"retry: 1000\nevent: hello\ndata: {seen}\n\n"
        while not await request.is_disconnected():
            now = await board.wait(seen, SSE_HEARTBEAT)
            if now == seen:
                yield ": still here\n\n"
                continue
            seen = now
            yield f"event: change\ndata: {now}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})


@router.get("/class/{lab}/grades.csv")
async def class_csv(caller: class_routes.Instructor, lab: LabName,
                    book: Literal["csv", "moodle", "canvas"] = Query("csv", alias="for")
                    ) -> Response:
    """The grid as a spreadsheet, or as Moodle's or Canvas's grade import takes it."""
    grid = await _grid(caller, lab)
    name = f"{lab}-grades{'' if book == 'csv' else '-' + book}.csv"
    return Response(render.as_file(render.render(grid, book), book),
                    media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


@router.post("/class/{lab}/check")
async def class_check_button(caller: class_routes.Instructor, lab: LabName) -> Response:
    await pages._posted(caller)
    found = await class_routes.grade(caller, lab, None)
    summary = found.summary()
    caller.server.audit.record(user=caller.identity.user, action="web_class_check", lab=lab,
                               instance=None, result=f"ok: {summary}")
    caller.request.app.state.web_sessions.say(caller.identity.user, summary)
    return _page_of(caller, lab, done="checked")


@router.post("/class/roster")
async def roster_upload(caller: class_routes.Instructor) -> Response:
    """The class list (a plain list, a GitHub Classroom roster or a Moodle export: the
    page reads a chosen file into the text box), added to the class or in place of it."""
    form = await pages._posted(caller)
    text, lab = form.get("names", ""), form.get("lab") or None
    where = form.get("filename") or "the class list"
    sessions = caller.request.app.state.web_sessions
    try:
        names = roster.parse_students(str(text), where, form.get("column") or None)
    except InvalidInput as exc:
        sessions.say(caller.identity.user, str(exc))
        return _page_of(caller, lab, error="roster")
    replace = form.get("mode") == "replace"
    caller.server.audit.roster.add_members(names, replace=replace)
    caller.server.audit.record(user=caller.identity.user, action="web_roster", lab=None,
                               instance=None, result=f"ok: {len(names)} students"
                               f"{' (the whole class)' if replace else ' added'}")
    class_routes.board(caller).touch()
    outcome = "make the class" if replace else "added"
    sessions.say(caller.identity.user, f"{len(names)} students {outcome}.")
    return _page_of(caller, lab, done="roster")


@router.post("/class/roster/remove")
async def roster_remove(caller: class_routes.Instructor) -> Response:
    form = await pages._posted(caller)
    name = str(form.get("student", ""))
    if not name:
        raise Refused(422, "no student named")
    caller.server.audit.roster.remove_member(name)
    caller.server.audit.record(user=caller.identity.user, action="web_roster_remove",
                               lab=None, instance=None, result=f"ok: {name}")
    class_routes.board(caller).touch()
    caller.request.app.state.web_sessions.say(caller.identity.user,
                                              f"{name} is no longer on the class list.")
    return _page_of(caller, form.get("lab") or None, done="roster")


@router.post("/class/{lab}/{action}")
async def class_lifecycle(caller: class_routes.Instructor, lab: LabName,
                          action: Literal["up", "down"]) -> Response:
    """The lab up (or down) for every student of the class, through the API's class up
    and down (the server's up queue); the page comes back with how it went."""
    await pages._posted(caller)
    students, _, _ = await class_routes.roster(caller)
    if not students:
        caller.request.app.state.web_sessions.say(
            caller.identity.user, "The class has no students yet: add the class list first.")
        return _page_of(caller, lab, error=f"class-{action}")
    body = class_routes.Students(students=sorted(students))
    if action == "up":
        reply = await class_routes.class_up(caller, lab, body)
    else:
        reply = await class_routes.class_down(caller, lab, body)
    lines = [json.loads(line) async for chunk in reply.body_iterator
             for line in (chunk if isinstance(chunk, str) else chunk.decode()).splitlines()
             if line.strip()]
    failed = [f"{x['student']}: {words.for_the_page(x['detail'])}" for x in lines
              if not x["ok"]]
    did = "up" if action == "up" else "removed"
    said = f"{lab}: {len(lines) - len(failed)} of {len(lines)} {did}."
    if failed:
        said += " " + "; ".join(failed[:10]) + (" …" if len(failed) > 10 else "")
    caller.request.app.state.web_sessions.say(caller.identity.user, said)
    return _page_of(caller, lab, error=f"class-{action}" if failed else None,
                    done=None if failed else f"class-{action}")


