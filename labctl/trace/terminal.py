"""Print a trace to the terminal with rich: a summary for big captures, else the detail.

Detail is what the course draws: for each handshake and teardown packet the
sender's layer table (top down) and the receiver's (bottom up), then the
segment list and the ladder. Tables and the ladder fit the console's width
(COLUMNS is honoured, also in pipes).
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labctl.console import table
from labctl.trace.analysis import Analysis, Conversation
from labctl.trace.views import (
    LAYER_COLUMNS,
    PACKET_COLUMNS,
    SUMMARY_COLUMNS,
    Names,
    View,
    conversation_views,
    headline,
    ladder_text,
    packet_rows,
    summary_rows,
)

NARROW = 120  # below this many columns the seven-column layer table cannot be read
SUMMARY_ROWS = 50  # lines of the summary table before "... and N more"
UDP_ROWS = 20


def show(out: Console, analysis: Analysis, names: Names, title: str,
         conversations: list[Conversation], detail: bool, every_packet: bool) -> None:
    kinds = f"{analysis.format}, " if analysis.format else ""
    out.print(f"[bold]{escape(title)}[/]: {kinds}{analysis.frames} frames, "
              f"{len(analysis.packets)} TCP/UDP packets, {len(analysis.conversations)} TCP "
              f"connections, {len(analysis.udp_flows)} UDP flows")
    for note in analysis.notes:
        out.print(f"note: {escape(note)}", highlight=False)
    if not analysis.conversations and not analysis.udp_flows:
        out.print("No TCP or UDP traffic captured yet: run the lab's steps (or curl) first.")
        return
    if detail:
        for conv in conversations:
            _detail(out, conv, names, every_packet)
    else:
        _summary(out, conversations, names)
    _udp(out, analysis, detail)


def _summary(out: Console, conversations: list[Conversation], names: Names) -> None:
    """Plain aligned columns: a rich table of 50 rows costs half a second to lay out."""
    rows = summary_rows(conversations[:SUMMARY_ROWS], names)
    widths = [max(len(r[i]) for r in [SUMMARY_COLUMNS, *rows])
              for i in range(len(SUMMARY_COLUMNS))]
    out.print("[bold]TCP connections[/]")
    for row in [SUMMARY_COLUMNS, *rows]:
        line = "  ".join(v.rjust(w) if v.isdigit() else v.ljust(w)
                         for v, w in zip(row, widths, strict=True))
        out.print(escape(line.rstrip()), highlight=False, crop=False)
    more = len(conversations) - len(rows)
    if more > 0:
        out.print(f"... and {more} more connections.")
    out.print("Show one connection with --conn N, or every one in detail with --all.")


def _detail(out: Console, conv: Conversation, names: Names, every_packet: bool) -> None:
    out.rule(escape(headline(conv, names)))
    for view in conversation_views(conv, names.by_ip, names.captured_on, names.matchers,
                                   names.medium, every_packet):
        if out.width < NARROW:
            _compact(out, view)
        else:
            out.print(_layer_table(view))
    out.print(table("Segments (relative sequence and acknowledgement numbers, calculated "
                    "window)", PACKET_COLUMNS, packet_rows(conv, names)))
    width = max(24, min(64, out.width - 10))
    out.print(escape(ladder_text(conv, names, width)), highlight=False, crop=False)


def _layer_table(view: View) -> Table:
    """The course's table; addresses never break mid-way (other columns wrap instead)."""
    t = Table(title=view.title, title_justify="left", header_style="bold")
    for column in LAYER_COLUMNS:
        t.add_column(column, no_wrap=column in ("IPs", "MACs"))
    for row in view.rows:
        t.add_row(*[escape(c) for c in row])
    return t


def _compact(out: Console, view: View) -> None:
    """A narrow terminal: one line per layer, with only what that layer adds."""
    out.print(f"[bold]{escape(view.title)}[/]")
    for layer, protocol, pdu, *fields in view.rows:
        added = {"Transport Layer": fields[1], "Network Layer": fields[2],
                 "Data Link Layer": fields[3]}.get(layer, " | ".join(fields))
        out.print(f"  {layer:<15} {protocol} ({pdu}): {escape(added)}", highlight=False)


def _udp(out: Console, analysis: Analysis, detail: bool) -> None:
    flows = analysis.udp_flows if detail else analysis.udp_flows[:UDP_ROWS]
    for flow in flows:
        out.rule(f"UDP {flow.src[0]}:{flow.src[1]} → {flow.dst[0]}:{flow.dst[1]}")
        out.print(f"{len(flow.datagrams)} datagrams, no handshake, no acknowledgement")
        if detail or len(analysis.udp_flows) <= UDP_ROWS:
            rows = [[str(p.number), f"{p.time - flow.datagrams[0].time:.6f}", str(p.length),
                     repr(p.payload[:40])] for p in flow.datagrams[:UDP_ROWS]]
            out.print(table(None, ["#", "Time", "Len", "Data"], rows))
    if len(flows) < len(analysis.udp_flows):
        out.print(f"... and {len(analysis.udp_flows) - len(flows)} more UDP flows.")
