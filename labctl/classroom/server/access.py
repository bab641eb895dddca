"""Authorisation, in one place: every route declares `Access` (who is calling) or
`Target` (who is calling, and the lab and instance they may act on). Students act
only on their own instances; instructors on every one. A student's request is also
admitted here under their limits (limits.py: the rate, and a request slot held while
the route runs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request
from starlette.requests import HTTPConnection

from labctl import errors
from labctl.classroom.server import identity, instances
from labctl.lab import model

PEER_KEY = "labctl.peer"  # set in the ASGI scope by the Unix-socket protocol only
INSTANCE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,30}$"


class Refused(HTTPException):
    """A 4xx with one message; the audit log records it with the action."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(status, message, headers)


@dataclass
class Caller:
    identity: identity.Identity
    request: Request
    slot: Any = field(default=None, repr=False)  # the request slot (limits.Slot)

    def stream(self):
        """Turn this request into a stream (a shell, a live capture, `logs -f`): its
        request slot goes back, a stream slot is taken (Refused 429 beyond the limit);
        the caller releases the returned StreamSlot when the stream ends."""
        taken = self.server.limits.stream(self.identity)
        if self.slot is not None:
            self.slot.release()
        return taken

    @property
    def server(self):
        return self.request.app.state.server

    def note(self, **fields) -> None:
        """What the audit line of this request says besides its outcome."""
        self.request.state.audit.update(fields)

    def instance_for(self, requested: str | None) -> str:
        me = self.identity
        if requested is None:
            return me.instance
        if me.instructor or instances.copy_number(me.instance, requested) is not None:
            return requested
        raise Refused(403, f"instance '{requested}' is not yours: yours are '{me.instance}' "
                           f"and its copies '{me.instance}-2' ... '{me.instance}-"
                           f"{instances.MAX_COPIES}'")

    def may_see(self, instance: str) -> bool:
        me = self.identity
        return me.instructor or instances.copy_number(me.instance, instance) is not None


async def _caller(request: HTTPConnection) -> AsyncIterator[Caller]:
    # HTTPConnection: the same for requests and WebSockets (`labctl shell`).
    server = request.app.state.server
    request.state.audit = {"action": request.scope.get("route").name
                           if request.scope.get("route") else request.url.path}
    peer = request.scope.get(PEER_KEY)
    if peer is not None:
        who = identity.from_peer(peer, server.config.instructors)
    else:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refused(401, "no token: send 'Authorization: Bearer TOKEN' "
                               "(ask your instructor for `labctl token add USER`)")
        user = server.tokens.user_for(token.strip())
        if user is None:
            raise Refused(401, "unknown or revoked token")
        who = identity.from_token(user, server.config.instructors)
    request.state.audit["user"] = who.user
    # What errors may say: a student's read without other students' names and labs
    # (this request's context, and the threads it starts, only).
    errors.for_a_student.set(not who.instructor)
    server.limits.admit(who)
    async with server.limits.request(who) as slot:
        yield Caller(who, request, slot)


# The request slot is held while the route runs, and given back before its response is
# sent (scope "function"): a long download holds none, a stream holds a stream slot.
Access = Annotated[Caller, Depends(_caller, scope="function")]
LabName = Annotated[str, Path(pattern=model.NAME_PATTERN, description="A lab's name.")]
InstanceParam = Annotated[str | None, Query(
    pattern=INSTANCE_PATTERN,
    description="Which copy: default your own instance; students may name only their "
                "own copies (INSTANCE-2 ...), instructors any instance.")]


@dataclass
class Allowed:
    caller: Caller
    lab: str
    instance: str

    @property
    def server(self):
        return self.caller.server

    @property
    def identity(self) -> identity.Identity:
        return self.caller.identity


async def _target(caller: Access, lab: LabName, instance: InstanceParam = None) -> Allowed:
    caller.note(lab=lab, instance=instance)
    resolved = caller.instance_for(instance)
    caller.note(instance=resolved)
    return Allowed(caller, lab, resolved)


Target = Annotated[Allowed, Depends(_target)]
