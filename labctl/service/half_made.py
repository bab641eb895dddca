"""Half-made labs: what an interrupted `up`, a killed node or a stray `docker rm` left.

Read from the runtime's records alone (no lab file): every lab network is
labelled with the names of all the lab's nodes, so a node that is missing
shows even when the lab file is gone.
"""

from __future__ import annotations

from labctl.errors import repair_hint
from labctl.runtime.base import HOST_DOWN, NetworkInfo, NodeInfo


def half_made(nodes: list[NodeInfo], networks: list[NetworkInfo]
              ) -> dict[tuple[str, str], str]:
    """(lab, instance) -> what is wrong with it, for every lab instance that is broken."""
    labs: dict[tuple[str, str], tuple[list[NodeInfo], list[NetworkInfo]]] = {}
    for node in nodes:
        labs.setdefault((node.lab, node.instance), ([], []))[0].append(node)
    for net in networks:
        labs.setdefault((net.lab, net.instance), ([], []))[1].append(net)
    broken = {}
    for (lab, instance), (lab_nodes, lab_networks) in labs.items():
        problems = _problems(lab_nodes, lab_networks)
        if problems:
            broken[(lab, instance)] = (f"half-made: {'; '.join(problems)}; "
                                       f"{repair_hint(lab, instance)}")
    return broken


def _problems(nodes: list[NodeInfo], networks: list[NetworkInfo]) -> list[str]:
    if not nodes:
        return [f"networks without nodes ({', '.join(sorted(n.name for n in networks))})"]
    present = {n.node for n in nodes}
    expected = {name for net in networks for name in net.nodes}
    problems = []
    missing = sorted(expected - present)
    if missing:
        problems.append(f"missing: {', '.join(missing)}")
    stopped = sorted(n.node for n in nodes if not n.running)
    if stopped:
        # Where the runtime has several hosts, say which (a host that is down says so).
        where = sorted({f"{n.host} ({n.status})" if n.status == HOST_DOWN else n.host
                        for n in nodes if not n.running and n.host})
        problems.append(f"not running: {', '.join(stopped)}"
                        + (f" on {', '.join(where)}" if where else ""))
    have = {n.name for n in networks}
    gone = sorted({net for n in nodes for net in n.addresses} - have)
    if gone:
        problems.append(f"networks missing: {', '.join(gone)}")
    return problems
