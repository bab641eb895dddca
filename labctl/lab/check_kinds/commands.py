"""Checks that run a command in a node: the author's own, or ss counting sockets."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from labctl.lab.check_kinds.registry import Failed, check_kind, tail
from labctl.lab.model_parts import ExitCode, NodeName, Port, Strict

if TYPE_CHECKING:
    from labctl.checks.run import LabState

SS_ALL = "ss -Htan"


class CommandCheck(Strict):
    on: NodeName
    run: str = Field(min_length=1)
    exit_code: ExitCode | None = 0
    stdout_contains: str | None = None
    stdout_matches: str | None = Field(None, description="A regular expression.")


@check_kind("command", CommandCheck, lambda s: f"on {s.on}: {s.run}", nodes=("on",))
def check_command(state: LabState, s: CommandCheck) -> None:
    code, out, err = state.run(s.on, s.run)
    if s.exit_code is not None and code != s.exit_code:
        raise Failed(f"`{s.run}` on {s.on} exited with {code}",
                     expected=f"exit code {s.exit_code}", seen=tail(err or out))
    if s.stdout_contains is not None and s.stdout_contains not in out:
        raise Failed(f"`{s.run}` on {s.on} did not print {s.stdout_contains!r}",
                     expected=s.stdout_contains, seen=tail(out))
    if s.stdout_matches is not None and not re.search(s.stdout_matches, out, re.M):
        raise Failed(f"`{s.run}` on {s.on}: output does not match /{s.stdout_matches}/",
                     expected=s.stdout_matches, seen=tail(out))


class SocketsCheck(Strict):
    """Count sockets in a TCP state (ss), e.g. SYN-RECV at least 10."""

    node: NodeName
    state: Literal["LISTEN", "ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2",
                   "TIME-WAIT", "CLOSE-WAIT", "LAST-ACK", "CLOSING"]
    port: Port | None = Field(None, description="Local or remote port to count.")
    at_least: int | None = Field(None, ge=0)
    at_most: int | None = Field(None, ge=0)


def _sockets_wanted(s: SocketsCheck) -> str:
    bounds = []
    if s.at_least is not None:
        bounds.append(f"≥ {s.at_least}")
    if s.at_most is not None:
        bounds.append(f"≤ {s.at_most}")
    port = f" on port {s.port}" if s.port else ""
    return f"{' and '.join(bounds) or 'any'} {s.state} sockets{port}"


@check_kind("sockets", SocketsCheck, lambda s: f"{s.node}: {_sockets_wanted(s)}",
            nodes=("node",), prefetch=(SS_ALL,))
def check_sockets(state: LabState, s: SocketsCheck) -> None:
    result = state.hosts[s.node].run(SS_ALL)
    count = 0
    for line in result.stdout.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] != s.state:
            continue
        ports = {fields[3].rsplit(":", 1)[-1], fields[4].rsplit(":", 1)[-1]}
        if s.port is None or str(s.port) in ports:
            count += 1
    low_ok = s.at_least is None or count >= s.at_least
    high_ok = s.at_most is None or count <= s.at_most
    if low_ok and high_ok:
        return
    want = _sockets_wanted(s)
    raise Failed(f"{s.node} has {count} sockets in state {s.state}"
                 f"{f' on port {s.port}' if s.port else ''}", expected=want, seen=str(count))
