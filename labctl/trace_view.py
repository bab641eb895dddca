"""Print a trace to the terminal with rich: tables, then the ladder."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from labctl.analysis import Analysis
from labctl.console import table
from labctl.trace import (
    LAYER_COLUMNS,
    PACKET_COLUMNS,
    Names,
    headline,
    info_text,
    ladder_text,
    layer_rows,
    packet_rows,
)


def show(out: Console, analysis: Analysis, names: Names, title: str, every_packet: bool) -> None:
    out.print(f"[bold]{escape(title)}[/]: {len(analysis.packets)} packets")
    if not analysis.conversations and not analysis.udp_flows:
        out.print("No TCP or UDP traffic captured yet: run the lab's steps (or curl) first.")
        return
    for conv in analysis.conversations:
        out.rule(escape(headline(conv, names)))
        shown = conv.segments if every_packet else conv.handshake + conv.teardown
        for seg in shown:
            out.print(table(f"#{seg.packet.number} {info_text(seg)}", LAYER_COLUMNS,
                            layer_rows(seg)))
        out.print(table("Segments (relative sequence and acknowledgement numbers)",
                        PACKET_COLUMNS, packet_rows(conv, names)))
        out.print(escape(ladder_text(conv, names)), highlight=False)
    for flow in analysis.udp_flows:
        out.rule(f"UDP {flow.src[0]}:{flow.src[1]} → {flow.dst[0]}:{flow.dst[1]}")
        out.print(f"{len(flow.datagrams)} datagrams, no handshake, no acknowledgement")
        rows = [[str(p.number), f"{p.time - flow.datagrams[0].time:.6f}", str(p.length),
                 repr(p.payload[:40])] for p in flow.datagrams[:20]]
        out.print(table(None, ["#", "Time", "Len", "Data"], rows))
