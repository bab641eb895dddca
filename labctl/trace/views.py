"""Draw captured conversations the way the course draws them.

Pure functions from an Analysis to: a packet list with relative sequence and
acknowledgement numbers and calculated windows, a ladder diagram (text, SVG,
HTML), a one-line-per-connection summary for big captures, and plain data
for --json. The per-packet layer tables live in trace_layers. Rendering to a
terminal is trace_view's job.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from labctl.console import printable
from labctl.textgrid import wrap
from labctl.trace.analysis import Analysis, Conversation, Segment
from labctl.trace.layers import (
    LAB_MEDIUM,
    LAYER_COLUMNS,
    Matcher,
    View,
    conversation_views,
    info_text,
    layer_rows,
)

__all__ = ["LAB_MEDIUM", "LAYER_COLUMNS", "PACKET_COLUMNS", "SUMMARY_COLUMNS", "Names",
           "Matcher", "View", "conversation_views", "info_text", "layer_rows"]

PACKET_COLUMNS = ["#", "Time", "Direction", "Flags", "Rel seq", "Rel ack", "Len", "Window",
                  "MSS", "Note"]
SUMMARY_COLUMNS = ["Conn", "Client", "Server", "Packets", "Bytes →", "Bytes ←", "Handshake",
                   "Teardown", "Retrans"]


@dataclass(frozen=True)
class Names:
    """Node names by IP, so tables say "client" and "server" where Docker knows them."""

    by_ip: dict[str, str]
    medium: str = ""  # the Physical layer's medium, when known (a lab's veth pairs)
    captured_on: str = ""  # the node whose capture is shown
    matchers: dict[str, Matcher] = field(default_factory=dict)  # other nodes' captures

    def __post_init__(self) -> None:
        # A node's name is shown as it came (a lab, a classroom server), so its control
        # characters are escaped once here, for every view: text, SVG and HTML alike.
        # The other captures' matchers are keyed by the same escaped names.
        set_ = object.__setattr__
        set_(self, "by_ip", {ip: printable(name) for ip, name in self.by_ip.items()})
        set_(self, "medium", printable(self.medium))
        set_(self, "captured_on", printable(self.captured_on))
        set_(self, "matchers", {printable(name): m for name, m in self.matchers.items()})

    def of(self, ip: str, fallback: str) -> str:
        return self.by_ip.get(ip, fallback)


def packet_rows(conv: Conversation, names: Names) -> list[list[str]]:
    start = conv.segments[0].packet.time
    client = names.of(conv.client[0], "client")
    server = names.of(conv.server[0], "server")
    rows = []
    for s in conv.segments:
        p = s.packet
        direction = f"{client} → {server}" if s.from_client else f"{server} → {client}"
        note = s.analysis if s.analysis else (
            "" if s.label in (p.flags_text, "data") else s.label)
        if p.length and not note:
            note = f"{p.length} bytes of data"
        if p.malformed:
            note = f"{note}; malformed: {p.malformed}" if note else f"malformed: {p.malformed}"
        rows.append([str(p.number), f"{p.time - start:.6f}", direction, p.flags_text,
                     str(s.rel_seq), "" if s.rel_ack is None else str(s.rel_ack),
                     str(p.length), str(s.window), "" if p.mss is None else str(p.mss), note])
    return rows


def summary_rows(conversations: list[Conversation], names: Names) -> list[list[str]]:
    """One line per connection: what a big capture holds, at a glance."""
    rows = []
    for c in conversations:
        client = f"{_who(names, c.client[0])}{_endpoint(c.client)}"
        server = f"{_who(names, c.server[0])}{_endpoint(c.server)}"
        rows.append([str(c.stream), client, server, str(len(c.segments)),
                     str(c.bytes_sent(True)), str(c.bytes_sent(False)),
                     "complete" if c.handshake_complete else "no",
                     c.teardown_kind or "open", str(c.retransmissions)])
    return rows


def _who(names: Names, ip: str) -> str:
    node = names.of(ip, "")
    return f"{node} " if node else ""


def _endpoint(endpoint: tuple[str, int]) -> str:
    ip, port = endpoint
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def headline(conv: Conversation, names: Names) -> str:
    client = names.of(conv.client[0], "client")
    server = names.of(conv.server[0], "server")
    state = "complete handshake" if conv.handshake_complete else "no complete handshake"
    end = {"fin": "closed by FIN/ACK in both directions", "fin-half": "half-closed (one FIN)",
           "rst": "aborted by RST", None: "still open"}[conv.teardown_kind]
    retrans = f", {conv.retransmissions} retransmissions" if conv.retransmissions else ""
    return (f"TCP conn {conv.stream}: {client} {_endpoint(conv.client)} → {server} "
            f"{_endpoint(conv.server)}: {state}, {end}{retrans}")


def arrow_label(seg: Segment) -> str:
    p = seg.packet
    parts = [p.flags_text, f"seq={seg.rel_seq}"]
    if seg.rel_ack is not None:
        parts.append(f"ack={seg.rel_ack}")
    if p.length:
        parts.append(f"len={p.length}")
    if p.mss is not None:
        parts.append(f"mss={p.mss}")
    if seg.retransmission or seg.analysis == "out-of-order":
        parts.append(f"({seg.analysis})")
    return " ".join(parts)


def ladder_text(conv: Conversation, names: Names, width: int = 64) -> str:
    """A sequence diagram: the client on the left, the server on the right. An arrow's
    label too long to sit on it goes above it, wrapped, never cut."""
    width = max(width, 24)
    left = f"{names.of(conv.client[0], 'client')} {_endpoint(conv.client)}"
    right = f"{names.of(conv.server[0], 'server')} {_endpoint(conv.server)}"
    if len(left) + len(right) + 2 > width + 2:
        lines = [*wrap(left.split(" "), width + 8, 6, "      "),
                 *(wrap(right.split(" "), width + 8, 6, "      ") if len(right) > width + 2
                   else [f"      {right:>{width + 2}}"])]
    else:
        lines = [f"      {left:<{width // 2}}{right:>{width // 2 + 2}}"]
    room = width - 2
    for s in conv.segments:
        text = arrow_label(s)
        if len(text) + 2 > room - 4:
            for i, part in enumerate(wrap(text.split(" "), room - 2)):
                number = f"{s.packet.number:>4}" if i == 0 else "    "
                lines.append(f"{number}  │ {part:<{room - 2}} │")
            body = "─" * (room - 1) + "▶" if s.from_client else "◀" + "─" * (room - 1)
            lines.append(f"      │{body}│")
            continue
        label = f" {text} "
        dashes = room - len(label)
        lead, tail = dashes // 2, dashes - dashes // 2
        if s.from_client:
            body = "─" * lead + label + "─" * (tail - 1) + "▶"
        else:
            body = "◀" + "─" * (lead - 1) + label + "─" * tail
        lines.append(f"{s.packet.number:>4}  │{body}│")
    return "\n".join(lines)


SVG_WIDTH, LEFT_X, RIGHT_X, STEP = 800, 140, 660, 34


def ladder_svg(conv: Conversation, names: Names, key: str = "") -> str:
    return ladders_svg([conv], names, key=key)


def ladders_svg(conversations: list[Conversation], names: Names, tables: bool = False,
                key: str = "") -> str:
    """Every given connection's ladder, one below the other, in one picture; with `tables`,
    each handshake and teardown packet's layer tables (sender's and receiver's) after it.
    `key` makes the picture's ids its own (several pictures in one page)."""
    body, y, width = [_legend_svg()], 30, SVG_WIDTH
    for conv in conversations:
        part, height = _ladder_group(conv, names, y, key)
        body.append(part)
        y += height
        if tables:
            views = conversation_views(conv, names.by_ip, names.captured_on, names.matchers,
                                       names.medium)
            part, height, table_width = _views_svg(views, y)
            body.append(part)
            y += height
            width = max(width, table_width)
    label = "; ".join(headline(c, names) for c in conversations[:3]) or "no connection"
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" '
        f'viewBox="0 0 {width} {y}" font-family="monospace" font-size="13" role="img" '
        f'aria-label="Ladder: {html.escape(label, quote=True)}">',
        f'<defs><marker id="arrow{key}" markerWidth="10" markerHeight="8" refX="9" refY="4" '
        'orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#333"/></marker></defs>',
        '<rect width="100%" height="100%" fill="white"/>', *body, "</svg>"])


def _ladder_group(conv: Conversation, names: Names, y0: int, key: str = ""
                  ) -> tuple[str, int]:
    top = y0 + 90
    height = 90 + STEP * len(conv.segments) + 30
    client = f"{names.of(conv.client[0], 'client')} {_endpoint(conv.client)}"
    server = f"{names.of(conv.server[0], 'server')} {_endpoint(conv.server)}"
    out = [
        f'<g class="connection" id="conn{key}-{conv.stream}">',
        f'<title>{html.escape(headline(conv, names))}</title>',
        f'<text x="20" y="{y0 + 24}" font-weight="bold">{html.escape(headline(conv, names))}'
        '</text>',
        f'<text x="{LEFT_X}" y="{y0 + 54}" text-anchor="middle" font-weight="bold">'
        f'{html.escape(client)}</text>',
        f'<text x="{RIGHT_X}" y="{y0 + 54}" text-anchor="middle" font-weight="bold">'
        f'{html.escape(server)}</text>',
        f'<line x1="{LEFT_X}" y1="{y0 + 65}" x2="{LEFT_X}" y2="{y0 + height - 10}" '
        'stroke="#999"/>',
        f'<line x1="{RIGHT_X}" y1="{y0 + 65}" x2="{RIGHT_X}" y2="{y0 + height - 10}" '
        'stroke="#999"/>',
    ]
    for i, s in enumerate(conv.segments):
        y = top + i * STEP
        x1, x2 = (LEFT_X, RIGHT_X) if s.from_client else (RIGHT_X, LEFT_X)
        colour = _colour(s)
        out.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y + 14}" stroke="{colour}" '
                   f'stroke-width="1.5" marker-end="url(#arrow{key})"/>')
        out.append(f'<text x="{(LEFT_X + RIGHT_X) / 2}" y="{y + 2}" text-anchor="middle" '
                   f'fill="{colour}">{html.escape(arrow_label(s))}</text>')
        out.append(f'<text x="20" y="{y + 10}" fill="#666">#{s.packet.number}</text>')
    out.append("</g>")
    return "\n".join(out), height


CHAR_WIDTH, ROW_HEIGHT = 7.9, 20  # 13px monospace


def _views_svg(views: list[View], y0: int) -> tuple[str, int, int]:
    """The course's tables as SVG text grids: (markup, height, width)."""
    out, y, widest = [], y0 + 10, 0
    for view in views:
        rows = [LAYER_COLUMNS, *view.rows]
        widths = [max(len(r[i]) for r in rows) * CHAR_WIDTH + 12 for i in range(len(rows[0]))]
        xs = [20.0]
        for w in widths:
            xs.append(xs[-1] + w)
        widest = max(widest, int(xs[-1]) + 20)
        out.append(f'<text x="20" y="{y + 14}" font-weight="bold">{html.escape(view.title)}'
                   "</text>")
        y += ROW_HEIGHT + 4
        for index, row in enumerate(rows):
            fill = "#f3f3f3" if index == 0 else "white"
            out.append(f'<rect x="20" y="{y}" width="{xs[-1] - 20:.0f}" height="{ROW_HEIGHT}" '
                       f'fill="{fill}" stroke="#ccc"/>')
            weight = ' font-weight="bold"' if index == 0 else ""
            for x, cell in zip(xs, row, strict=False):
                out.append(f'<text x="{x + 6:.0f}" y="{y + 14}"{weight}>{html.escape(cell)}'
                           "</text>")
            y += ROW_HEIGHT
        y += 16
    return "\n".join(out), y - y0, widest


LEGEND = [("#1f6feb", "3-way handshake (SYN, SYN/ACK, ACK)"),
          ("#8e44ad", "teardown (FIN, its ACK) or abort (RST)"),
          ("#c0392b", "retransmission, fast or spurious retransmission, out-of-order"),
          ("#333", "data and acknowledgements")]


def _legend_svg() -> str:
    out, x = ['<g class="legend">'], 20
    for colour, text in LEGEND:
        out.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 18}" y="19" font-size="11">{html.escape(text)}</text>')
        x += 30 + int(len(text) * 6.7)
    out.append("</g>")
    return "\n".join(out)


def _colour(seg: Segment) -> str:
    if seg.retransmission or seg.analysis == "out-of-order":
        return "#c0392b"
    if seg.role == "handshake":
        return "#1f6feb"
    if seg.role in ("teardown", "abort"):
        return "#8e44ad"
    return "#333"


TRACE_CSS = (
    "body{font:16px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1b}"
    "main{padding:1em;max-width:1400px}h1{font-size:1.5em}h2{font-size:1.15em;margin:0}"
    "summary{cursor:pointer;padding:.4em 0}details{border-top:1px solid #ccc;padding:.3em 0}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
    "padding:4px 8px;font-size:13px;white-space:nowrap;text-align:left}th{background:#f3f3f3}"
    ".scroll{overflow-x:auto;max-width:100%}.scroll:focus-visible{outline:3px solid #f9a825}"
    "svg{max-width:100%;height:auto}"
    ".swatch{display:inline-block;width:1em;height:1em;margin-right:.5em;"
    "vertical-align:middle}.legend{list-style:none;padding:0}")
OPEN_CONNECTIONS = 3  # the first ones are shown open; the others are one line until opened


def html_page(analysis: Analysis, names: Names, title: str,
              conversations: list[Conversation] | None = None) -> str:
    """A page on its own (lang, viewport, one main landmark, unique ids): each connection
    is a disclosure, its wide tables and ladder scroll sideways on a phone."""
    conversations = analysis.conversations if conversations is None else conversations
    title = printable(title)  # a file's or a lab's name
    legend = "".join(f'<li><span class="swatch" style="background:{colour}"></span>'
                     f"{html.escape(text)}</li>" for colour, text in LEGEND)
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             "<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>{html.escape(title)}</title><style>{TRACE_CSS}</style></head><body>"
             f"<main><h1>{html.escape(title)}</h1>",
             "<h2>Legend</h2><ul class='legend'>", legend, "</ul>",
             "<p>Sequence and acknowledgement numbers are relative, as Wireshark shows them: "
             "counted from each side's initial sequence number (ISN), whose raw value is in the "
             "ISN column and on hover. Window is the calculated window (the field shifted by "
             "the window scale agreed in the SYNs). The sender's table reads top down, the "
             "receiver's bottom up, as the course draws them; the Physical row shows the "
             "frame's leading bits.</p>"]
    if not conversations and not analysis.udp_flows:
        parts.append("<p>No TCP connection or UDP datagram captured yet.</p>")
    for index, conv in enumerate(conversations):
        opened = " open" if index < OPEN_CONNECTIONS else ""
        parts.append(f"<details{opened}><summary><h2 id='conn-{conv.stream}' "
                     f"style='display:inline'>{html.escape(headline(conv, names))}</h2>"
                     "</summary>")
        isns = _isn_text(conv, names)
        parts.append(f"<p>Raw initial sequence numbers: {html.escape(isns)}</p>")
        for view in conversation_views(conv, names.by_ip, names.captured_on, names.matchers,
                                       names.medium):
            parts.append(f"<h3>{html.escape(view.title)}</h3>")
            parts.append(_scroll(_html_table(LAYER_COLUMNS, view.rows), view.title))
        parts.append(_scroll(_segments_table(conv, names), f"segments of connection "
                                                          f"{conv.stream}"))
        parts.append(_scroll(ladders_svg([conv], names, key=f"-ladder-{conv.stream}"),
                             f"ladder of connection {conv.stream}"))
        parts.append("</details>")
    for flow in analysis.udp_flows:
        parts.append(f"<h2>UDP {_endpoint(flow.src)} → {_endpoint(flow.dst)}: "
                     f"{len(flow.datagrams)} datagrams, no handshake</h2>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _scroll(inner: str, label: str) -> str:
    """A wide table or picture that scrolls sideways on a narrow screen (and by keyboard)."""
    return (f"<div class='scroll' role='region' tabindex='0' "
            f"aria-label='{html.escape(label, quote=True)}'>{inner}</div>")


def _isn_text(conv: Conversation, names: Names) -> str:
    parts = []
    for of_client, endpoint in ((True, conv.client), (False, conv.server)):
        isn = conv.isn(of_client)
        who = names.of(endpoint[0], "client" if of_client else "server")
        parts.append(f"{who} {'not captured (no SYN)' if isn is None else isn}")
    return ", ".join(parts)


def _segments_table(conv: Conversation, names: Names) -> str:
    """The packet list with a raw-number column, and the raw numbers on hover."""
    head = "".join(f"<th scope='col'>{html.escape(c)}</th>"
                   for c in [*PACKET_COLUMNS, "Raw seq / ack"])
    body = []
    for seg, row in zip(conv.segments, packet_rows(conv, names), strict=True):
        p = seg.packet
        raw = f"{p.seq} / {p.ack}" if seg.rel_ack is not None else f"{p.seq} / -"
        isn = conv.isn(seg.from_client)
        hover = f"raw seq {p.seq}, raw ack {p.ack}" + ("" if isn is None else f", ISN {isn}")
        cells = "".join(f"<td>{html.escape(v)}</td>" for v in [*row, raw])
        body.append(f"<tr title='{html.escape(hover)}'>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _html_table(columns: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th scope='col'>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def to_data(analysis: Analysis, names: Names,
            conversations: list[Conversation] | None = None, segments: bool = True) -> dict:
    """Everything trace shows, as plain data for --json (segments only in detail)."""
    conversations = analysis.conversations if conversations is None else conversations
    return {
        "packets": len(analysis.packets),
        "frames": analysis.frames,
        "damage": None if analysis.damage is None else {
            "offset": analysis.damage.offset, "reason": analysis.damage.reason},
        "malformed": [{"number": n, "reason": why} for n, why in analysis.malformed],
        "tunnelled_not_analysed": analysis.tunnelled,
        "unknown_link_types": {str(t): n for t, n in sorted(analysis.unknown_links.items())},
        "tcp": [_conversation_data(c, names, segments) for c in conversations],
        "udp": [{"src": {"ip": f.src[0], "port": f.src[1]},
                 "dst": {"ip": f.dst[0], "port": f.dst[1]},
                 "datagrams": len(f.datagrams)} for f in analysis.udp_flows],
    }


def _conversation_data(c: Conversation, names: Names, segments: bool) -> dict:
    return {
        "stream": c.stream,
        "client": {"node": names.of(c.client[0], ""), "ip": c.client[0],
                   "port": c.client[1], "mac": c.client_mac, "isn": c.isn(True)},
        "server": {"node": names.of(c.server[0], ""), "ip": c.server[0],
                   "port": c.server[1], "mac": c.server_mac, "isn": c.isn(False)},
        "handshake_complete": c.handshake_complete,
        "handshake": [s.packet.number for s in c.handshake],
        "teardown": c.teardown_kind,
        "teardown_packets": [s.packet.number for s in c.teardown],
        "mss": c.mss,
        "retransmissions": c.retransmissions,
        "packets": len(c.segments),
        "bytes": {"client": c.bytes_sent(True), "server": c.bytes_sent(False)},
        **({"segments": [_segment_data(s) for s in c.segments]} if segments else {}),
    }


def _segment_data(s: Segment) -> dict:
    p = s.packet
    return {"number": p.number, "time": p.time, "time_ns": p.ns,
            "from": "client" if s.from_client else
            "server", "flags": p.flag_names, "seq": p.seq, "ack": p.ack,
            "rel_seq": s.rel_seq, "rel_ack": s.rel_ack, "length": p.length,
            "window": s.window, "window_field": p.window, "mss": p.mss,
            "label": s.label, "retransmission": s.retransmission,
            "analysis": s.analysis or None, "src_mac": p.src_mac,
            "dst_mac": p.dst_mac, "src_ip": p.src_ip, "dst_ip": p.dst_ip,
            "src_port": p.sport, "dst_port": p.dport, "interface": p.interface,
            "malformed": p.malformed or None, "tunnel": p.tunnel or None}


def write_json(write: Callable[[str], object], analysis: Analysis, names: Names,
               conversations: list[Conversation] | None = None, segments: bool = True) -> None:
    """to_data's document, written as `json.dumps(..., indent=2)` writes it, byte for byte,
    one connection at a time: a 240,000-packet capture never exists as one dict or string.

    The connections' heads go through json.dumps; each segment, the bulk, through a
    template of the same text (the indenting encoder is pure Python, 40 µs a segment)."""
    conversations = analysis.conversations if conversations is None else conversations
    skeleton = json.dumps(to_data(analysis, names, [], segments=False), indent=2)
    before, after = skeleton.split('\n  "tcp": [],\n')
    if not conversations:
        write(skeleton + "\n")
        return
    write(before + '\n  "tcp": [\n')
    segment_text = _SegmentJson()
    for index, conv in enumerate(conversations):
        head = json.dumps(_conversation_data(conv, names, False), indent=2)
        text = "    " + head.replace("\n", "\n    ")
        if segments:
            body = ",\n".join(map(segment_text, conv.segments))
            text = (text[:-6] + ',\n      "segments": ' +
                    (f"[\n{body}\n      ]" if body else "[]") + "\n    }")
        write(text + (",\n" if index < len(conversations) - 1 else "\n"))
    write("  ],\n" + after + "\n")


class _SegmentJson:
    """One segment as json.dumps(_segment_data(s), indent=2) writes it 8 spaces in."""

    def __init__(self) -> None:
        self.strings: dict[str | None, str] = {None: "null"}
        self.flags: dict[int, str] = {}

    def text(self, value: str | None) -> str:
        found = self.strings.get(value)
        if found is None:
            found = self.strings[value] = _json_string(value)
        return found

    def flag_list(self, p) -> str:
        found = self.flags.get(p.flags)
        if found is None:
            names = p.flag_names
            found = self.flags[p.flags] = ("[\n" + ",\n".join(
                f"            {_json_string(n)}" for n in names) + "\n          ]"
                if names else "[]")
        return found

    def __call__(self, s: Segment) -> str:
        p, text = s.packet, self.text
        return _SEGMENT.format(
            p.number, _number(p.time), p.ns, "client" if s.from_client else "server",
            self.flag_list(p), p.seq, p.ack, s.rel_seq, _int_or_null(s.rel_ack), p.length,
            s.window, p.window, _int_or_null(p.mss), text(s.label),
            "true" if s.retransmission else "false", text(s.analysis or None),
            text(p.src_mac), text(p.dst_mac), text(p.src_ip), text(p.dst_ip), p.sport,
            p.dport, p.interface, text(p.malformed or None), text(p.tunnel or None))


_SEGMENT = "\n".join(["        {{", *[f'          "{key}": {{}},' for key in (
    "number", "time", "time_ns", "from", "flags", "seq", "ack", "rel_seq", "rel_ack",
    "length", "window", "window_field", "mss", "label", "retransmission", "analysis",
    "src_mac", "dst_mac", "src_ip", "dst_ip", "src_port", "dst_port", "interface",
    "malformed")], '          "tunnel": {}', "        }}"]).replace('"from": {},', '"from": "{}",')
_json_string = json.encoder.encode_basestring_ascii


def _int_or_null(value: int | None) -> str:
    return "null" if value is None else int.__repr__(value)


def _number(value: float) -> str:
    finite = type(value) is float and value - value == 0  # not NaN nor infinite
    return float.__repr__(value) if finite else json.dumps(value)
