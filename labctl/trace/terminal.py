"""Print a trace to the terminal: a summary for big captures, else the detail.

Detail is what the course draws: for each handshake and teardown packet the
sender's layer table (top down) and the receiver's (bottom up), then the
segment list and the ladder. Everything fits the console's width (COLUMNS is
honoured, also in pipes) without cutting a value: a table whose values do not
fit wraps its cells, and one that still does not changes layout (a line per
layer, a line per segment). The text is written a connection at a time, so
`--all` on a big capture streams.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from labctl.console import printable
from labctl.textgrid import Column, atoms, grid, paragraph, table, wrap
from labctl.trace.analysis import Analysis, Conversation
from labctl.trace.views import (
    LAYER_COLUMNS,
    PACKET_COLUMNS,
    SUMMARY_COLUMNS,
    Names,
    conversation_views,
    headline,
    ladder_text,
    packet_rows,
    summary_rows,
)

SUMMARY_ROWS = 50  # lines of the summary table before "... and N more"
UDP_ROWS = 20
MIN_WIDTH = 40

# The course's table: a cell may take two lines (three for bits), never a cut value; below
# that (about 130 columns) a line per layer reads better.
LAYER_SPEC = [Column("Layer", wrap=False), Column("Protocol", lines=2),
              Column("PDU", wrap=False), Column("Info", lines=2, least=17),
              *[Column(c, lines=2) for c in LAYER_COLUMNS[4:]]]
PACKET_SPEC = [Column("#", right=True, wrap=False), Column("Time", wrap=False),
               Column("Direction"), Column("Flags", wrap=False),
               *[Column(c, right=True, wrap=False) for c in PACKET_COLUMNS[4:9]],
               Column("Note")]
SUMMARY_SPEC = [Column("Conn", right=True, wrap=False), Column("Client"), Column("Server"),
                *[Column(c, right=True, wrap=False) for c in SUMMARY_COLUMNS[3:6]],
                Column("Handshake", wrap=False), Column("Teardown", wrap=False),
                Column("Retrans", right=True, wrap=False)]
UDP_SPEC = [Column("#", right=True, wrap=False), Column("Time", wrap=False),
            Column("Len", right=True, wrap=False), Column("Data", fold=True)]


class _Writer:
    """Lines out a connection at a time; headings bold where a person reads them."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.width = max(out.width, MIN_WIDTH)
        self.styled = out.is_terminal
        self.pending: list[str] = []
        self.layers: dict[tuple, list[str]] = {}  # a view's rows -> their lines

    def lines(self, lines: list[str]) -> None:
        self.pending.extend(lines)

    def text(self, text: str) -> None:
        self.pending.extend(paragraph(text, self.width))

    def heading(self, text: str) -> None:
        self._styled(paragraph(text, self.width), "bold")

    def rule(self, title: str) -> None:
        side = self.width - len(title) - 2
        if side >= 4:
            lines = ["─" * (side // 2) + f" {title} " + "─" * (side - side // 2)]
        else:
            lines = ["─" * self.width, *paragraph(title, self.width)]
        self._styled(lines, "bold")

    def _styled(self, lines: list[str], style: str) -> None:
        if not self.styled:
            self.pending.extend(lines)
            return
        self.flush()
        for line in lines:
            self.out.print(Text(line, style=style), crop=False, soft_wrap=True)

    def flush(self) -> None:
        if self.pending:
            self.out.file.write("\n".join(self.pending) + "\n")
            self.pending.clear()


def show(out: Console, analysis: Analysis, names: Names, title: str,
         conversations: list[Conversation], detail: bool, every_packet: bool) -> None:
    w = _Writer(out)
    title = printable(title)  # a file's or a lab's name
    kinds = f"{analysis.format}, " if analysis.format else ""
    w.text(f"{title}: {kinds}{analysis.frames} frames, {len(analysis.packets)} TCP/UDP "
           f"packets, {len(analysis.conversations)} TCP connections, "
           f"{len(analysis.udp_flows)} UDP flows")
    for note in analysis.notes:
        w.text(f"note: {note}")
    if not analysis.conversations and not analysis.udp_flows:
        w.text("No TCP or UDP traffic captured yet: run the lab's steps (or curl) first.")
        w.flush()
        return
    if detail:
        for conv in conversations:
            _detail(w, conv, names, every_packet)
            w.flush()
    else:
        _summary(w, conversations, names)
    _udp(w, analysis, detail)
    w.flush()


def _summary(w: _Writer, conversations: list[Conversation], names: Names) -> None:
    rows = summary_rows(conversations[:SUMMARY_ROWS], names)
    w.heading("TCP connections")
    w.lines(grid(SUMMARY_SPEC, rows, w.width) or _summary_records(rows, w.width))
    more = len(conversations) - len(rows)
    if more > 0:
        w.text(f"... and {more} more connections.")
    w.text("Show one connection with --conn N, or every one in detail with --all.")


def _summary_records(rows: list[list[str]], width: int) -> list[str]:
    lines = []
    for conn, client, server, packets, sent, received, handshake, teardown, retrans in rows:
        pieces = [f"Conn {conn}:", client, "→", f"{server}:", f"{packets} packets,",
                  f"{sent} bytes →,", f"{received} bytes ←,", f"handshake {handshake},",
                  f"teardown {teardown},", f"{retrans} retransmissions"]
        lines.extend(wrap(pieces, width, 4))
    return lines


def _detail(w: _Writer, conv: Conversation, names: Names, every_packet: bool) -> None:
    w.rule(headline(conv, names))
    for view in conversation_views(conv, names.by_ip, names.captured_on, names.matchers,
                                   names.medium, every_packet):
        w.heading(view.title)
        w.lines(_layers(w, view.rows))
    w.heading("Segments (relative sequence and acknowledgement numbers, calculated window)")
    w.lines(segment_lines(conv, names, w.width))
    w.lines(ladder_text(conv, names, max(24, min(64, w.width - 10))).split("\n"))


def segment_lines(conv: Conversation, names: Names, width: int) -> list[str]:
    """The segment list: boxed, plain, or a paragraph per segment, whichever fits."""
    rows = packet_rows(conv, names)
    return (grid(PACKET_SPEC, rows, width, box=True) or grid(PACKET_SPEC, rows, width)
            or _segment_records(rows, width))


def _layers(w: _Writer, rows: list[list[str]]) -> list[str]:
    """The course's seven columns when they fit, else a line per layer (cached: the data
    packets of one direction have the same rows)."""
    key = tuple(map(tuple, rows))
    found = w.layers.get(key)
    if found is None:
        if len(w.layers) > 4096:
            w.layers.clear()
        found = w.layers[key] = (grid(LAYER_SPEC, rows, w.width, box=True)
                                 or _compact(rows, w.width))
    return found


def _compact(rows: list[list[str]], width: int) -> list[str]:
    """A narrow terminal: one line per layer, with only what that layer adds."""
    lines = []
    for layer, protocol, pdu, *fields in rows:
        added = {"Transport Layer": fields[1], "Network Layer": fields[2],
                 "Data Link Layer": fields[3]}.get(layer, " | ".join(fields))
        pieces: list[str] = []
        for piece in [*protocol.split(), f"({pdu}):", *atoms(added)]:
            if piece == "|" and pieces:
                pieces[-1] += " |"
            else:
                pieces.append(piece)
        lines.extend(wrap(pieces, width, 18, f"  {layer:<15} "))
    return lines


def _segment_records(rows: list[list[str]], width: int) -> list[str]:
    """Too narrow for the segment table: a paragraph per segment, every value whole."""
    lines = []
    for number, time, direction, flags, seq, ack, length, window, mss, note in rows:
        pieces = [f"#{number}", time, direction, flags, f"seq={seq}",
                  *([f"ack={ack}"] if ack else []), f"len={length}", f"win={window}",
                  *([f"mss={mss}"] if mss else []), *([note] if note else [])]
        lines.extend(wrap(pieces, width, 6))
    return lines


def _udp(w: _Writer, analysis: Analysis, detail: bool) -> None:
    flows = analysis.udp_flows if detail else analysis.udp_flows[:UDP_ROWS]
    for flow in flows:
        w.rule(f"UDP {flow.src[0]}:{flow.src[1]} → {flow.dst[0]}:{flow.dst[1]}")
        w.text(f"{len(flow.datagrams)} datagrams, no handshake, no acknowledgement")
        if detail or len(analysis.udp_flows) <= UDP_ROWS:
            rows = [[str(p.number), f"{p.time - flow.datagrams[0].time:.6f}", str(p.length),
                     repr(p.payload[:40])] for p in flow.datagrams[:UDP_ROWS]]
            w.lines(table(UDP_SPEC, rows, w.width, box=True))
        w.flush()
    if len(flows) < len(analysis.udp_flows):
        w.text(f"... and {len(analysis.udp_flows) - len(flows)} more UDP flows.")
