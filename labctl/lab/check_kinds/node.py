"""Checks that read a node's state: listening ports, processes, reachability."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from labctl.lab.check_kinds.registry import Failed, check_kind
from labctl.lab.model_parts import NodeName, Port, Proto, Strict
from labctl.lab.probe_ports import PYTHON_PRELUDE, python_command

if TYPE_CHECKING:
    from labctl.checks.run import LabState

# What testinfra runs for socket and process checks (testinfra 10): prefetched
# in one exec per node together with hosts.DISCOVERY.
SOCKETS = ("/usr/bin/ss --numeric --listening --tcp", "/usr/bin/ss --numeric --listening --udp",
           "/usr/bin/ss --numeric --listening --tcp --udp")
PROCESSES = ("ps -Aww -o comm:50,pcpu:50,pid:50,pmem:50,lstart:50,args",)


class ListeningCheck(Strict):
    """A port is (or is not) listening on a node, read with ss inside it."""

    node: NodeName
    port: Port
    proto: Proto = "tcp"
    address: str = Field("0.0.0.0", description="Local address; 0.0.0.0 = all IPv4.")
    listening: bool = True


def _listening_title(s: ListeningCheck) -> str:
    verb = "listens" if s.listening else "does not listen"
    return f"{s.node} {verb} on {s.proto} {s.address}:{s.port}"


@check_kind("listening", ListeningCheck, _listening_title, nodes=("node",), prefetch=SOCKETS)
def check_listening(state: LabState, s: ListeningCheck) -> None:
    host = state.hosts[s.node]
    spec = f"{s.proto}://{s.address}:{s.port}"
    listening = host.socket(spec).is_listening
    if listening == s.listening:
        return
    # Docker's embedded DNS (127.0.0.11) listens in every node; it is not the lab's.
    seen = sorted(s for s in host.socket.get_listening_sockets() if "127.0.0.11:" not in s)
    seen_text = ", ".join(seen) or "nothing"
    if s.listening:
        raise Failed(f"nothing listens on {s.proto} {s.address}:{s.port} on {s.node} — is the "
                     f"service started, and on the port the lab expects?",
                     expected=spec, seen=seen_text)
    raise Failed(f"{s.proto} port {s.port} is listening on {s.node}, but should not be",
                 expected=f"not {spec}", seen=seen_text)


class ProcessCheck(Strict):
    node: NodeName
    name: str = Field(min_length=1, description="Process name or a word of its command line.")
    running: bool = True


@check_kind("process", ProcessCheck,
            lambda s: f"process '{s.name}' {'runs' if s.running else 'is not running'} on "
                      f"{s.node}",
            nodes=("node",), prefetch=PROCESSES)
def check_process(state: LabState, s: ProcessCheck) -> None:
    procs = state.hosts[s.node].process.filter()
    found = [p for p in procs if p.comm == s.name or s.name in p.args.split()
             or s.name in p.args]
    if bool(found) == s.running:
        return
    names = ", ".join(sorted({p.comm for p in procs}))
    if s.running:
        raise Failed(f"no process '{s.name}' runs on {s.node}", expected=s.name, seen=names)
    raise Failed(f"process '{s.name}' runs on {s.node} but should not",
                 expected=f"no {s.name}", seen=", ".join(p.args for p in found))


class ReachableCheck(Strict):
    """A TCP connection (or a UDP datagram's lack of ICMP refusal) from one node to another."""

    from_: NodeName = Field(alias="from")
    to: NodeName
    port: Port
    reachable: bool = True


# `nc -z`, from a probe port: a connection labctl opens is not the student's.
_CONNECT = PYTHON_PRELUDE + """
sd = probe_socket()
sd.settimeout(2)
try:
    sd.connect((sys.argv[1], int(sys.argv[2])))
except OSError as exc:
    raise SystemExit(f"{sys.argv[1]}:{sys.argv[2]}: {exc.strerror or exc}")
sd.close()
"""


@check_kind("reachable", ReachableCheck,
            lambda s: f"{s.from_} {'reaches' if s.reachable else 'cannot reach'} {s.to}:{s.port}",
            nodes=("from_", "to"))
def check_reachable(state: LabState, s: ReachableCheck) -> None:
    code, _, err = state.run(s.from_, python_command(_CONNECT, s.to, str(s.port)))
    if (code == 0) == s.reachable:
        return
    if s.reachable:
        raise Failed(f"{s.from_} cannot open a TCP connection to {s.to}:{s.port} — no "
                     "SYN/ACK came back: is a service listening there?",
                     expected="connection accepted", seen=err.strip() or f"exit code {code}")
    raise Failed(f"{s.from_} reached {s.to}:{s.port}, which should be unreachable",
                 expected="no connection", seen="connection accepted")
