"""Copy a running lab's captures to the host; merge them when asked.

Nodes that capture are found by their `labctl.capture` label, so this needs
no YAML. tcpdump writes packet by packet (-U), so a copy taken while it runs
holds every packet captured so far.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import dpkt

from labctl.engine import Engine
from labctl.errors import InvalidInput, NotRunning
from labctl.runtime import NodeInfo


@dataclass(frozen=True)
class CapturedFile:
    node: str
    data: bytes


def collect(engine: Engine, lab: str, instance: str, node: str | None = None
            ) -> tuple[list[CapturedFile], list[NodeInfo]]:
    """The pcaps of the lab's capturing nodes, and the nodes (one listing for both)."""
    nodes = engine.status(lab, instance)
    if not nodes:
        raise NotRunning(f"{lab} is not running (instance '{instance}')")
    capturing = [n for n in nodes if n.capture and n.status == "running"]
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
    files = [CapturedFile(n.node, engine.runtime.read_file(n.container, n.capture))
             for n in capturing]
    return files, nodes


def merge(files: list[CapturedFile]) -> bytes:
    """One time-ordered pcap from several (all Ethernet captures)."""
    records: list[tuple[float, int, bytes]] = []
    snaplen = 262144
    for index, f in enumerate(files):
        try:
            reader = dpkt.pcap.Reader(io.BytesIO(f.data))
        except (ValueError, dpkt.NeedData):
            continue
        snaplen = max(snaplen, reader.snaplen)
        try:
            for ts, frame in reader:
                records.append((ts, index, frame))
        except (dpkt.NeedData, dpkt.UnpackError, ValueError):
            pass
    records.sort(key=lambda r: (r[0], r[1]))
    out = io.BytesIO()
    writer = dpkt.pcap.Writer(out, snaplen=snaplen, linktype=dpkt.pcap.DLT_EN10MB)
    for ts, _, frame in records:
        writer.writepkt(frame, ts=ts)
    return out.getvalue()


def write(files: list[CapturedFile], directory: Path, lab: str, merged: bool) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for f in files:
        path = directory / f"{lab}-{f.node}.pcap"
        path.write_bytes(f.data)
        written.append(path)
    if merged:
        path = directory / f"{lab}-merged.pcap"
        path.write_bytes(merge(files))
        written.append(path)
    return written
