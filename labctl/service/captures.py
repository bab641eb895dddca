"""Copy a running lab's captures to the host; merge them when asked.

Nodes that capture are found by their `labctl.capture` label, so this needs
no YAML. tcpdump writes packet by packet (-U), so a copy taken while it runs
holds every packet captured so far. A merge is a pcapng with one interface
per node, named after it and with that capture's own link type, so Wireshark
(frame.interface_name) and trace still know which node saw each packet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labctl.errors import FileTooBig, InvalidInput, NotRunning
from labctl.pcap.read import Capture, Interface
from labctl.pcap.write import pcapng_bytes
from labctl.runtime import NodeInfo
from labctl.runtime.base import READ_LIMIT
from labctl.service.engine import Engine, not_running


@dataclass(frozen=True)
class CapturedFile:
    node: str
    data: bytes


def collect(engine: Engine, lab: str, instance: str, node: str | None = None
            ) -> tuple[list[CapturedFile], list[NodeInfo]]:
    """The pcaps of the lab's capturing nodes, and the nodes (one listing for both)."""
    nodes = engine.status(lab, instance)
    if not nodes:
        raise NotRunning(not_running(lab, instance))
    capturing = [n for n in nodes if n.capture and n.running]
    if node is not None:
        if node not in {n.node for n in nodes}:
            raise InvalidInput(f"{lab} has no node '{node}' (nodes: "
                               f"{', '.join(n.node for n in nodes)})")
        capturing = [n for n in capturing if n.node == node]
        if not capturing:
            raise InvalidInput(f"node '{node}' of {lab} captures nothing: add "
                               f"`capture: {{}}` to it in the lab file")
    if not capturing:
        raise InvalidInput(f"no node of {lab} captures packets: add `capture: {{}}` to a node")
    files, left = [], READ_LIMIT  # one answer holds READ_LIMIT bytes of captures in all
    for n in capturing:
        try:
            data = engine.runtime.read_file(n.container, n.capture, limit=left)
        except FileTooBig as refused:
            if left == READ_LIMIT:
                raise
            raise FileTooBig(f"the captures of {lab} hold more than {READ_LIMIT >> 20} MiB "
                              "in all (labctl reads at most that at once): ask for one "
                              f"node's (node {n.node} and on were not read)") from refused
        files.append(CapturedFile(n.node, data))
        left -= len(data)
    return files, nodes


def live(engine: Engine, lab: str, instance: str, node: str):
    """The node's pcap from its start, then each packet as tcpdump writes it."""
    files_node = _capturing_node(engine, lab, instance, node)
    return engine.runtime.follow_file(files_node.container, files_node.capture)


def _capturing_node(engine: Engine, lab: str, instance: str, node: str) -> NodeInfo:
    info = engine.find_node(lab, instance, node)
    if not info.capture:
        raise InvalidInput(f"node '{node}' of {lab} captures nothing: add "
                           f"`capture: {{}}` to it in the lab file")
    return info


def collect_all(engine: Engine, lab: str, instance: str, node: str | None = None
                ) -> tuple[list[CapturedFile], list[NodeInfo]]:
    """Every capturing node's pcap (the named node's first), checking `node` as collect does."""
    files, nodes = collect(engine, lab, instance)
    if node is not None:
        if node not in {f.node for f in files}:
            collect(engine, lab, instance, node)  # raises the precise error
        files.sort(key=lambda f: f.node != node)
    return files, nodes


def merge(files: list[CapturedFile]) -> bytes:
    """One time-ordered pcapng: an interface per node and link type, as captured."""
    interfaces: list[Interface] = []
    records: list[tuple[float, int, bytes, int]] = []
    for f in files:
        capture = Capture(f.data)
        try:
            walked = list(capture.records())
        except ValueError:
            continue  # not a capture (an empty file from a node that just started)
        first = len(interfaces)
        for iface in capture.interfaces:
            label = f"{f.node}" if not iface.name else f"{f.node}:{iface.name}"
            interfaces.append(Interface(iface.linktype, label, iface.snaplen))
        records += [(ts, first + index, frame, wirelen)
                    for ts, index, frame, wirelen in walked]
    records.sort(key=lambda r: (r[0], r[1]))
    return pcapng_bytes(interfaces, records)


def write(files: list[CapturedFile], directory: Path, lab: str, merged: bool) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for f in files:
        path = directory / f"{lab}-{f.node}.pcap"
        path.write_bytes(f.data)
        written.append(path)
    if merged:
        path = directory / f"{lab}-merged.pcapng"
        path.write_bytes(merge(files))
        written.append(path)
    return written
