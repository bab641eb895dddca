"""labctl's own traffic: the source ports its probes use, and how wire checks ignore them.

Active checks (`http`, `echo`, `udp_delivered`, `reachable`) send from a
source port in PROBE_PORTS. Every node reserves that range with the
namespaced sysctl net.ipv4.ip_local_reserved_ports, so the kernel never
hands it to a student's program as an ephemeral port; only an explicit
bind gets it. Wire checks drop every conversation and UDP flow with an
end in the range, so running `check` again never judges labctl's traffic.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labctl.trace.analysis import Analysis

PROBE_FIRST, PROBE_LAST = 61000, 61999  # above Linux's ephemeral 32768-60999
PROBE_PORTS = range(PROBE_FIRST, PROBE_LAST + 1)
RESERVED_SYSCTL = ("net.ipv4.ip_local_reserved_ports", f"{PROBE_FIRST}-{PROBE_LAST}")
CURL_OPTION = f"--local-port {PROBE_FIRST}-{PROBE_LAST}"

# Python prelude for a probe run in a node: `probe_socket(kind)` is a socket
# bound to a free port of the range (bind fails on a port in use, TIME-WAIT too).
PYTHON_PRELUDE = f"""
import random, socket, sys
def probe_socket(kind=socket.SOCK_STREAM):
    for port in random.sample(range({PROBE_FIRST}, {PROBE_LAST + 1}), 64):
        sd = socket.socket(socket.AF_INET, kind)
        try:
            sd.bind(("", port))
            return sd
        except OSError:
            sd.close()
    raise SystemExit("no free source port in {PROBE_FIRST}-{PROBE_LAST}")
"""


# labctl's own Python in a node. The student is root there and may leave modules in
# /root (the nodes' working directory, which `python3 -c` puts first on sys.path) or
# in root's user site: -I (isolated) keeps the working directory, the user site and
# every PYTHON* variable out of sys.path, the interpreter is named by path, and it
# runs from /. What root in a node can still forge is in docs/isolation.md.
NODE_PYTHON = ("/usr/bin/python3", "-I")


def python_command(script: str, *args: str) -> str:
    """A shell command line running `python -c script args` as labctl's own, isolated.
    (An image of the lab author's own without /usr/bin/python3 gets the one on PATH,
    still isolated.)"""
    quoted = " ".join(shlex.quote(a) for a in ("-c", script, *args))
    return (f"cd / && if [ -x {NODE_PYTHON[0]} ]; then exec {' '.join(NODE_PYTHON)} {quoted};"
            f" else exec python3 -I {quoted}; fi")


def is_probe(port: int) -> bool:
    return PROBE_FIRST <= port <= PROBE_LAST


def without_probes(analysis: Analysis) -> Analysis:
    """The analysis minus every connection, flow and packet with an end in PROBE_PORTS."""
    return replace(
        analysis,
        packets=[p for p in analysis.packets if not (is_probe(p.sport) or is_probe(p.dport))],
        conversations=[c for c in analysis.conversations
                       if not (is_probe(c.client[1]) or is_probe(c.server[1]))],
        udp_flows=[f for f in analysis.udp_flows
                   if not (is_probe(f.src[1]) or is_probe(f.dst[1]))])
