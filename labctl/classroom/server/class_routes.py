"""The instructor's API: the whole class at once (status, check, up, down), under
/v1/class. Every route takes the caller through the one authorisation dependency
(Access) and refuses anyone but an instructor."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import StreamingResponse
from pydantic import Field

from labctl.checks.run import title
from labctl.classroom import grades
from labctl.classroom.server import class_state, instances
from labctl.classroom.server.access import Access, Caller, LabName, Refused
from labctl.classroom.server.public import public_nodes, public_report
from labctl.classroom.server.schemas import CheckResult, Strict
from labctl.errors import LabctlError, NotRunning

CHECKS_AT_ONCE = 4  # students' labs checked in parallel (each check execs into nodes)


async def _instructor(caller: Access) -> Caller:
    if not caller.identity.instructor:
        raise Refused(403, f"{caller.identity.user} is not an instructor: the class commands "
                           f"are for members of '{caller.server.config.instructors}'")
    return caller


Instructor = Annotated[Caller, Depends(_instructor)]
router = APIRouter(prefix="/v1/class", tags=["class"])
UserName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00/]+$")]


class Students(Strict):
    students: list[UserName] | None = Field(
        None, max_length=1000, description="User names; default: the class (the roster the "
        "instructor gave, token holders and the users of this server).")


class StudentLab(Strict):
    lab: str
    instance: str
    state: str
    nodes: list[str]
    up_since: str | None = None
    hosts: list[str] = []  # where its nodes run (a swarm's hosts; empty on one host)


class StudentStatus(Strict):
    student: str
    instance: str
    labs: list[StudentLab]
    last_activity: str | None = None


class GradeRow(Strict):
    student: str
    instance: str
    state: str = Field(description="checked, no lab, error (or, in the web grid, not checked)")
    results: list[CheckResult]
    note: str = Field("", description="Why there are no results.")
    score: str = Field(description="passed/total, or - without results")
    complete: bool = Field(description="Every check passed.")
    points: int | None = Field(description="Checks passed (0 with no lab running); null "
                                           "when the lab could not be checked.")


class GradeTable(Strict):
    lab: str
    titles: list[str] = Field(description="The lab's checks, in order (results' index).")
    summary: str
    checked_at: str = Field(description="When the checks ran (ISO 8601, UTC).")
    max_points: int = Field(description="The most points a student can have: one a check.")
    rows: list[GradeRow]


class ClassProgress(Strict):
    """One line of the streamed reply of class up / down."""

    student: str
    instance: str
    ok: bool
    detail: str
    done: int
    total: int


def install(app: FastAPI) -> None:
    """Everything the instructor's view adds to the server (one line in app.py)."""
    app.state.board = class_state.Board()
    app.include_router(router)


def board(caller: Caller) -> class_state.Board:
    return caller.request.app.state.board


async def roster(caller: Caller, wanted: list[str] | None = None
                 ) -> tuple[dict[str, str], list[dict], class_state.Activity]:
    """(student -> base instance, running nodes, activity), for `wanted` or everyone."""
    server = caller.server
    nodes = public_nodes(await asyncio.to_thread(server.ops.nodes, None, None))
    roster = server.audit.roster  # kept as data: no flood of log lines hides a student
    activity = (roster.activity() if roster is not None else await asyncio.to_thread(
        class_state.read_activity, server.config.audit_file))
    if wanted is not None:
        return {u: instances.base_instance(u) for u in wanted}, nodes, activity
    # The class is this server's roster: the list the instructor gave, and the students
    # who use this server. A lab on the engine that nobody of the class owns (another
    # server's, root's own CLI) is not the class's.
    known = activity.in_class(set(server.tokens.users()))
    return class_state.students(known, set(), server.config.instructors), nodes, activity


def lab_states(base: str, nodes: list[dict], activity: class_state.Activity
               ) -> list[StudentLab]:
    labs: dict[tuple[str, str], list[dict]] = {}
    for n in nodes:
        if instances.copy_number(base, n["instance"]) is not None:
            labs.setdefault((n["lab"], n["instance"]), []).append(n)
    out = []
    for (lab, instance), members in sorted(labs.items()):
        states = {m["status"] for m in members}
        out.append(StudentLab(lab=lab, instance=instance,
                            state="running" if states == {"running"} else "/".join(
                                sorted(states)),
                            nodes=sorted(m["node"] for m in members),
                            up_since=activity.ups.get((lab, instance)),
                            hosts=sorted({m["host"] for m in members if m.get("host")})))
    return out


@router.get("/status", response_model=list[StudentStatus])
async def class_status(caller: Instructor) -> list[StudentStatus]:
    """Every student: their labs (state, nodes, up since) and their last request."""
    students, nodes, activity = await roster(caller)
    return [StudentStatus(student=s, instance=base, labs=lab_states(base, nodes, activity),
                          last_activity=activity.last.get(s))
            for s, base in sorted(students.items())]


async def grade(caller: Caller, lab_name: str, wanted: list[str] | None) -> grades.Grades:
    """Check every student's copy of a lab, CHECKS_AT_ONCE at a time; never raises for
    one student's lab (down or broken: their row says so)."""
    server = caller.server
    path = server.catalogue.find(lab_name, caller.identity.instance)
    lab = await asyncio.to_thread(server.ops.load_lab, path)
    students, nodes, _ = await roster(caller, wanted)
    running = {n["instance"] for n in nodes if n["lab"] == lab.name}
    slots = asyncio.Semaphore(CHECKS_AT_ONCE)

    async def one(student: str, instance: str) -> grades.Row:
        if instance not in running:
            board(caller).record(lab.name, instance, None)
            return grades.no_lab(student, instance, lab.name)
        async with slots:
            try:
                report = public_report(await asyncio.to_thread(server.ops.check, lab, instance))
                results = report["labs"][0]["checks"]
            except NotRunning:
                return grades.no_lab(student, instance, lab.name)
            except LabctlError as exc:
                return grades.broken(student, instance, str(exc))
            except Exception as exc:  # noqa: BLE001 - one broken lab is one row, not a 500
                return grades.broken(student, instance, f"{type(exc).__name__}: {exc}")
        board(caller).record(lab.name, instance, {"checks": results})
        return grades.checked(student, instance, results)

    rows = await asyncio.gather(*(one(s, i) for s, i in students.items()))
    return grades.grades(lab.name, [title(c) for c in lab.checks], list(rows))


@router.post("/{lab}/check", response_model=GradeTable)
async def class_check(caller: Instructor, lab: LabName, body: Students | None = None) -> dict:
    """Run the lab's checks on every student's copy: a grade table (classroom/grades.py)."""
    caller.note(lab=lab)
    found = await grade(caller, lab, body.students if body else None)
    caller.note(result=f"ok: {found.summary()}")
    return found.to_data()


_STREAM = {200: {"description": "One JSON object (ClassProgress) per line, as each finishes.",
                 "content": {"application/x-ndjson": {
                     "schema": ClassProgress.model_json_schema()}}}}


def _lines(items):
    async def stream():
        async for item in items:
            yield json.dumps(item) + "\n"
    return StreamingResponse(stream(), media_type="application/x-ndjson")


@router.post("/{lab}/up", response_class=StreamingResponse, responses=_STREAM)
async def class_up(caller: Instructor, lab: LabName, body: Students) -> StreamingResponse:
    """Bring the lab up for each student (through the server's up queue). Streams one JSON
    line per student as each finishes: {"student", "instance", "ok", "detail", "done",
    "total"}."""
    server = caller.server
    caller.note(lab=lab)
    if not body.students:
        raise Refused(422, "students: give at least one user name")
    path = server.catalogue.find(lab, caller.identity.instance)
    model = await asyncio.to_thread(server.ops.load_lab, path)
    todo = {s: instances.base_instance(s) for s in body.students}
    if server.audit.roster is not None:  # whom the instructor brings a lab up for: the class
        await asyncio.to_thread(server.audit.roster.add_members, list(todo))

    async def one(student: str, instance: str) -> dict:
        try:
            try:
                report = await server.ups.up((model.name, instance), lambda: public_report(
                    server.ops.up(model, instance)))
            finally:
                server.listing.changed()
            detail, ok = f"{len(report['labs'][0]['nodes'])} nodes up", True
        except Exception as exc:  # noqa: BLE001 - reported on the student's line
            detail, ok = str(exc) or type(exc).__name__, False
        server.audit.record(user=caller.identity.user, action="class_up", lab=model.name,
                            instance=instance, result="ok" if ok else f"error: {detail}")
        board(caller).touch()
        return {"student": student, "instance": instance, "ok": ok, "detail": detail}

    return _lines(_as_done([one(s, i) for s, i in todo.items()]))


@router.post("/{lab}/down", response_class=StreamingResponse, responses=_STREAM)
async def class_down(caller: Instructor, lab: LabName, body: Students | None = None
                     ) -> StreamingResponse:
    """Remove the lab for the students given, or every running copy of it. Streams one
    JSON line per instance as each is removed."""
    server = caller.server
    caller.note(lab=lab)
    nodes = public_nodes(await asyncio.to_thread(server.ops.nodes, lab, None))
    if body is not None and body.students:
        bases = {instances.base_instance(s): s for s in body.students}
        todo = {n["instance"]: bases[instances.owner_base(n["instance"])] for n in nodes
                if instances.owner_base(n["instance"]) in bases}
    else:
        todo = {n["instance"]: instances.owner_base(n["instance"]) for n in nodes}

    async def one(instance: str, student: str) -> dict:
        try:
            await server.ups.settle((lab, instance))
            try:
                containers, _ = await asyncio.to_thread(server.ops.down, lab, instance)
            finally:
                server.listing.changed()
            detail, ok = f"removed {containers} containers", True
        except Exception as exc:  # noqa: BLE001 - reported on the student's line
            detail, ok = str(exc) or type(exc).__name__, False
        server.audit.record(user=caller.identity.user, action="class_down", lab=lab,
                            instance=instance, result="ok" if ok else f"error: {detail}")
        board(caller).record(lab, instance, None)
        return {"student": student, "instance": instance, "ok": ok, "detail": detail}

    return _lines(_as_done([one(i, s) for i, s in sorted(todo.items())]))


async def _as_done(jobs):
    total = len(jobs)
    for done, job in enumerate(asyncio.as_completed(jobs), start=1):
        yield (await job) | {"done": done, "total": total}
