"""The HTTP API (FastAPI): labs, up, down, status, exec, logs, check."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Query

from labctl.classroom.server import class_routes, errors, instances, schemas, streams
from labctl.classroom.server.access import Access, Allowed, Caller, InstanceParam, Refused, Target
from labctl.classroom.server.audit import AuditLog
from labctl.classroom.server.catalogue import Catalogue
from labctl.classroom.server.config import ServerConfig
from labctl.classroom.server.journal import UpJournal
from labctl.classroom.server.limits import Limits
from labctl.classroom.server.listing import Listing
from labctl.classroom.server.middleware import Audit, BodyLimit
from labctl.classroom.server.public import public_report, refuse_custom_images
from labctl.classroom.server.tokens import TokenStore
from labctl.classroom.server.ups import UpQueue
from labctl.errors import InvalidInput, LabctlError
from labctl.lab import loader, model
from labctl.service import lab_service
from labctl.service.lab_service import LabService
from labctl.service.report import LabReport, Report, by_lab

_PROBLEMS = {code: {"model": schemas.Problem} for code in (400, 401, 403, 404, 409, 413, 422,
                                                            429, 503)}
NodePath = Annotated[str, Path(pattern=model.NAME_PATTERN, description="A node of the lab.")]


@dataclass
class ServerState:
    config: ServerConfig
    ops: LabService
    catalogue: Catalogue
    tokens: TokenStore
    audit: AuditLog
    ups: UpQueue
    limits: Limits
    listing: Listing  # what `status` answers from (at most a second old)
    testing: set = field(default_factory=set)  # (lab, instance) of tests past their up


def create_app(config: ServerConfig, ops: LabService | None = None,
               pages: Callable[[FastAPI], None] | None = None) -> FastAPI:
    """The API; `pages` adds the web pages (labctl.classroom.app puts both together)."""
    audit = AuditLog(config.audit_file, config.state_dir / "roster.json",
                     max_bytes=config.audit_max_mb * 1024 * 1024)
    ops = ops or lab_service.connect()
    ops.step_seconds = config.max_step_seconds  # a test's steps, a step from the web
    app = FastAPI(title="labctl classroom server", version="1",
                  description="Students' labs without Docker access. Over the Unix socket the "
                              "caller is who the kernel says; over HTTPS, a bearer token.",
                  responses=_PROBLEMS)
    app.state.server = ServerState(
        config=config, ops=ops,
        catalogue=Catalogue(config.lab_dirs, config.user_labs_dir if config.user_labs else None),
        tokens=TokenStore(config.tokens_file), audit=audit,
        ups=UpQueue(config.concurrent_ups, UpJournal(config.state_dir / "ups")),
        limits=Limits(config), listing=Listing(ops.nodes))
    errors.install(app)
    app.include_router(router)
    app.include_router(streams.router)
    class_routes.install(app)  # the instructor's view
    if pages is not None:
        pages(app)  # the web pages (classroom/web), inside the audit
    app.add_middleware(Audit, log=audit)
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    return app


router = APIRouter(prefix="/v1")


def _blocking(func, *args):
    return asyncio.to_thread(func, *args)


@router.get("/whoami", response_model=schemas.WhoAmI)
async def whoami(caller: Access) -> schemas.WhoAmI:
    me = caller.identity
    return schemas.WhoAmI(user=me.user, role=me.role, via=me.via, instance=me.instance)


# -- labs ------------------------------------------------------------------------
@router.get("/labs", response_model=list[schemas.LabInfo])
async def labs(caller: Access) -> list[schemas.LabInfo]:
    server = caller.server
    return await _blocking(_lab_infos, server, caller.identity.instance)


def _lab_infos(server: ServerState, base: str) -> list[schemas.LabInfo]:
    found = []
    for source, catalogue in (("server", server.catalogue.server_labs()),
                              ("yours", server.catalogue.user_labs(base))):
        for name, path in catalogue.items():
            try:
                lab = loader.load_once(path)  # each lab validated once per content
            except InvalidInput:
                continue  # an invalid lab in --labs is the instructor's to fix, not offered
            found.append(schemas.LabInfo(name=name, description=lab.description.strip(),
                                         nodes=list(lab.nodes), source=source))
    return found


@router.post("/labs", response_model=schemas.LabInfo, status_code=201)
async def upload(caller: Access, body: schemas.LabUpload) -> schemas.LabInfo:
    """Send a lab file of your own; it is validated as `labctl validate` does."""
    server = caller.server
    caller.note(action="upload")
    if server.catalogue.user_labs_dir is None:
        raise Refused(403, "this server runs only its own labs (--no-user-labs)")
    lab = await _blocking(server.ops.parse_lab, body.yaml, "uploaded lab.yaml")
    caller.note(lab=lab.name)
    refuse_custom_images(lab)
    _check_lab(caller, lab)
    await _blocking(server.catalogue.store, caller.identity.instance, lab.name, body.yaml)
    return schemas.LabInfo(name=lab.name, description=lab.description.strip(),
                           nodes=list(lab.nodes), source="yours")


def _check_lab(caller: Caller, lab: model.Lab) -> None:
    """A student's lab: nodes, networks and fixed subnets within the limits (422)."""
    caller.server.limits.check_lab(caller.identity, lab)


async def _load(target: Allowed) -> model.Lab:
    server = target.server
    path = server.catalogue.find(target.lab, instances.owner_base(target.instance))
    lab = await _blocking(loader.load_once, path)
    if lab.name != target.lab:
        raise InvalidInput(f"{path}: the lab names itself '{lab.name}', not '{target.lab}'")
    return lab


# -- lifecycle -------------------------------------------------------------------
@router.post("/labs/{lab}/up", response_model=schemas.Report, response_model_by_alias=True)
async def up(target: Target) -> dict:
    """Start a lab and return once every service listens (joins an `up` under way)."""
    server = target.server
    lab = await _load(target)
    _check_lab(target.caller, lab)
    work = await _start(target, (lab.name, target.instance),
                        lambda: public_report(server.ops.up(lab, target.instance)))
    return await asyncio.shield(work)


@router.get("/labs/{lab}/up", response_model=schemas.UpProgress, name="up-progress")
async def up_progress(target: Target) -> schemas.UpProgress:
    """Where an `up` stands: its place in the queue, or starting (poll while you wait)."""
    queue = target.server.ups
    place = queue.place((target.lab, target.instance))
    state = "none" if place is None else "starting" if place == 0 else "queued"
    return schemas.UpProgress(lab=target.lab, instance=target.instance, state=state,
                              place=place or None, waiting=queue.waiting)


async def _start(target: Allowed, key: tuple[str, str], work: Callable[[], dict]
                 ) -> asyncio.Task:
    """The `up` of key in the queue, once the student's lab quota allows it (every route
    that starts or keeps a lab comes here). Nothing is awaited between the quota's look
    at the pending `up`s and this one's registration: two pressed at once cannot both
    pass."""
    if not target.identity.instructor:
        await _check_quota(target, key)
    task = target.server.ups.start(key, work)
    task.add_done_callback(lambda _task: target.server.listing.changed())
    return task


async def _check_quota(target: Allowed, key: tuple[str, str]) -> None:
    server = target.server
    running = await _blocking(server.ops.running_labs)
    mine = {(lab, inst) for lab, inst in running | server.ups.pending()
            if instances.copy_number(target.identity.instance, inst) is not None}
    limit = server.config.labs_per_student
    if key not in mine and len(mine) >= limit:
        names = ", ".join(f"{lab} ({inst})" for lab, inst in sorted(mine))
        raise Refused(429, f"you have {len(mine)} labs up (limit {limit} per student: "
                           f"labctl serve --labs-per-student): {names}; bring one down "
                           "first")


@router.post("/labs/{lab}/test", response_model=schemas.Report, response_model_by_alias=True)
async def test(target: Target, keep: bool = False) -> dict:
    """Up, steps, checks, then down (unless keep): the lab as CI sees it. Only the `up`
    waits in the server's queue; the steps run after it, within the server's time
    budget for steps."""
    server = target.server
    lab = await _load(target)
    _check_lab(target.caller, lab)
    key = (lab.name, target.instance)
    await _blocking(server.ops.refuse_if_up, lab.name, target.instance)
    work = await _start(target, key,
                        lambda: public_report(server.ops.up(lab, target.instance)))
    if key in server.testing:  # two tests pressed at once: one `up`, one test
        raise Refused(409, f"a test of {lab.name} (instance '{target.instance}') is under "
                           "way: wait for its report")
    server.testing.add(key)
    try:
        try:
            await asyncio.shield(work)
        except LabctlError as exc:  # the report says why, as a local `labctl test` does
            return public_report(Report("test", [LabReport(lab.name, target.instance,
                                                           lab.name, error=str(exc))]))
        return await _blocking(server.ups.journaled, key, lambda: public_report(
            server.ops.test_after_up(lab, target.instance, keep)))
    finally:
        server.testing.discard(key)
        server.listing.changed()


@router.post("/labs/{lab}/down", response_model=schemas.DownResult)
async def down(target: Target) -> schemas.DownResult:
    """Remove the lab's containers and networks (found by labels; no lab file needed)."""
    server = target.server
    await server.ups.settle((target.lab, target.instance))
    try:
        containers, networks = await _blocking(server.ops.down, target.lab, target.instance)
    finally:
        server.listing.changed()
    target.caller.note(result=f"ok: removed {containers} containers, {networks} networks")
    return schemas.DownResult(lab=target.lab, instance=target.instance, containers=containers,
                              networks=networks)


@router.get("/status", response_model=schemas.Report, response_model_by_alias=True)
async def status(caller: Access, instance: InstanceParam = None,
                 lab: str | None = Query(None, pattern=model.NAME_PATTERN)) -> dict:
    """Running labs: a student's own instances only; an instructor's, everyone's."""
    caller.note(lab=lab, instance=instance)
    wanted = None if instance is None else caller.instance_for(instance)
    nodes = await caller.server.listing.nodes()
    seen = [n for n in nodes if caller.may_see(n.instance) and lab in (None, n.lab)
            and wanted in (None, n.instance)]
    return public_report(by_lab("status", seen))


# -- inside a lab ------------------------------------------------------------------
@router.post("/labs/{lab}/nodes/{node}/exec", response_model=schemas.ExecResult, name="exec")
async def exec_(target: Target, node: NodePath, body: schemas.ExecRequest
                ) -> schemas.ExecResult:
    """Run a command on a node, without a terminal; its exit code is returned."""
    server = target.server
    target.caller.note(node=node, command=body.command[:20])
    limit = server.config.output_limit
    code, out, err, cut = await _blocking(server.ops.run, target.lab, target.instance, node,
                                          body.command, body.timeout, limit)
    target.caller.note(result=f"ok: exit {code}" + (", output cut" if cut else ""))
    note = (f"\nlabctl: the output was cut at {limit} bytes (the server's limit), and the "
            "command stopped there\n") if cut else ""
    return schemas.ExecResult(exit_code=code, stdout=out.decode("utf-8", "replace"),
                              stderr=err.decode("utf-8", "replace") + note)


@router.get("/labs/{lab}/nodes/{node}/logs", response_model=schemas.LogsResult)
async def logs(target: Target, node: NodePath,
               tail: int = Query(1000, ge=1, le=100_000, description="Last lines.")
               ) -> schemas.LogsResult:
    """What a node's services printed."""
    target.caller.note(node=node)
    data = await _blocking(lambda: b"".join(target.server.ops.logs(
        target.lab, target.instance, node, False, tail)))
    return schemas.LogsResult(lab=target.lab, instance=target.instance, node=node,
                              text=data.decode("utf-8", "replace"))


@router.post("/labs/{lab}/check", response_model=schemas.Report, response_model_by_alias=True)
async def check(target: Target) -> dict:
    """Run the lab's checks on the running lab."""
    lab = await _load(target)
    report = public_report(await _blocking(target.server.ops.check, lab, target.instance))
    checks = report["labs"][0]["checks"]
    target.caller.note(result=f"ok: {sum(c['passed'] for c in checks)}/{len(checks)} passed")
    return report
