"""Who is calling: from the kernel (Unix socket peer credentials) or a token, never
from anything else the client sends. Roles come from Unix groups, looked up per call
so that a change of group takes effect without a restart."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import socket
import struct
from dataclasses import dataclass

from labctl.classroom.server import instances

INSTRUCTOR = "instructor"
STUDENT = "student"


@dataclass(frozen=True)
class PeerCredentials:
    pid: int
    uid: int
    gid: int


@dataclass(frozen=True)
class Identity:
    user: str
    role: str
    via: str  # "socket" or "token"
    uid: int | None = None

    @property
    def instructor(self) -> bool:
        return self.role == INSTRUCTOR

    @property
    def instance(self) -> str:
        """The caller's own base instance."""
        return instances.base_instance(self.user)


def peer_credentials(sock: socket.socket) -> PeerCredentials | None:
    """SO_PEERCRED of a connected Unix socket: what the kernel recorded at connect()."""
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return PeerCredentials(pid, uid, gid)


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry (a container, say) is still someone
        return f"uid{uid}"


def role_of(user: str, uid: int | None, instructors_group: str) -> str:
    """root, and members of the instructors' group, are instructors."""
    if uid == 0:
        return INSTRUCTOR
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return STUDENT  # a token for someone without a Unix account here
    if entry.pw_uid == 0:
        return INSTRUCTOR
    try:
        wanted = grp.getgrnam(instructors_group).gr_gid
    except KeyError:
        return STUDENT  # no such group: nobody but root instructs
    return INSTRUCTOR if wanted in os.getgrouplist(user, entry.pw_gid) else STUDENT


def from_peer(peer: PeerCredentials, instructors_group: str) -> Identity:
    name = user_name(peer.uid)
    return Identity(name, role_of(name, peer.uid, instructors_group), "socket", peer.uid)


def from_token(user: str, instructors_group: str) -> Identity:
    uid = None
    with contextlib.suppress(KeyError):
        uid = pwd.getpwnam(user).pw_uid
    return Identity(user, role_of(user, uid, instructors_group), "token", uid)
