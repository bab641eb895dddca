"""Draw captured conversations the way the course draws them.

Pure functions from an Analysis to: the seeds' per-packet layer tables
(Layer | Protocol | PDU | Info | Ports | IPs | MACs), a packet list with
relative sequence/acknowledgement numbers, a ladder diagram (text, SVG,
HTML), and plain data for --json. Rendering to a terminal is the CLI's job.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from labctl.analysis import Analysis, Conversation, Segment

LAYER_COLUMNS = ["Layer", "Protocol", "PDU", "Info", "Ports", "IPs", "MACs"]
PACKET_COLUMNS = ["#", "Time", "Direction", "Flags", "Rel seq", "Rel ack", "Len", "Window",
                  "MSS", "Note"]


@dataclass(frozen=True)
class Names:
    """Node names by IP, so tables say "client" and "server" where Docker knows them."""

    by_ip: dict[str, str]

    def of(self, ip: str, fallback: str) -> str:
        return self.by_ip.get(ip, fallback)


def info_text(seg: Segment) -> str:
    if seg.label in ("SYN", "SYN/ACK") or (seg.label.startswith("ACK") and seg.rel_seq == 1
                                           and seg.rel_ack == 1 and seg.packet.length == 0):
        return f"3-Way handshake ({seg.label})"
    if seg.label.startswith("RST"):
        return f"Connection abort ({seg.label})"
    if "FIN" in seg.label:
        return f"Teardown ({seg.label})"
    if seg.label == "ACK":
        return "Teardown (ACK)"
    return seg.label


def layer_rows(seg: Segment) -> list[list[str]]:
    """The seeds' table: each lower layer carries what the layers above it put in."""
    p = seg.packet
    info = info_text(seg)
    ports = f"Src Port: {p.sport} Dst Port: {p.dport}"
    ips = f"Src IP: {p.src_ip} Dst IP: {p.dst_ip}"
    macs = f"Src MAC: {p.src_mac} Dst MAC: {p.dst_mac}"
    return [
        ["Transport Layer", p.proto.upper(), "Segments", info, ports, "", ""],
        ["Network Layer", "IP", "Packets", info, ports, ips, ""],
        ["Data Link Layer", "Ethernet", "Frames", info, ports, ips, macs],
    ]


def packet_rows(conv: Conversation, names: Names) -> list[list[str]]:
    start = conv.segments[0].packet.time
    client = names.of(conv.client[0], "client")
    server = names.of(conv.server[0], "server")
    rows = []
    for s in conv.segments:
        p = s.packet
        direction = f"{client} → {server}" if s.from_client else f"{server} → {client}"
        note = "retransmission" if s.retransmission else (
            "" if s.label in (p.flags_text, "data") else s.label)
        if p.length and not note:
            note = f"{p.length} bytes of data"
        rows.append([str(p.number), f"{p.time - start:.6f}", direction, p.flags_text,
                     str(s.rel_seq), "" if s.rel_ack is None else str(s.rel_ack),
                     str(p.length), str(p.window), "" if p.mss is None else str(p.mss), note])
    return rows


def headline(conv: Conversation, names: Names) -> str:
    client = names.of(conv.client[0], "client")
    server = names.of(conv.server[0], "server")
    state = "complete handshake" if conv.handshake_complete else "no complete handshake"
    end = {"fin": "closed by FIN/ACK in both directions", "fin-half": "half-closed (one FIN)",
           "rst": "aborted by RST", None: "still open"}[conv.teardown_kind]
    retrans = f", {conv.retransmissions} retransmissions" if conv.retransmissions else ""
    return (f"TCP {client} {conv.client[0]}:{conv.client[1]} → {server} "
            f"{conv.server[0]}:{conv.server[1]}: {state}, {end}{retrans}")


def arrow_label(seg: Segment) -> str:
    p = seg.packet
    parts = [p.flags_text, f"seq={seg.rel_seq}"]
    if seg.rel_ack is not None:
        parts.append(f"ack={seg.rel_ack}")
    if p.length:
        parts.append(f"len={p.length}")
    if p.mss is not None:
        parts.append(f"mss={p.mss}")
    if seg.retransmission:
        parts.append("(retransmission)")
    return " ".join(parts)


def ladder_text(conv: Conversation, names: Names, width: int = 64) -> str:
    """A sequence diagram: the client on the left, the server on the right."""
    left = f"{names.of(conv.client[0], 'client')} {conv.client[0]}:{conv.client[1]}"
    right = f"{names.of(conv.server[0], 'server')} {conv.server[0]}:{conv.server[1]}"
    lines = [f"      {left:<{width // 2}}{right:>{width // 2 + 2}}"]
    for s in conv.segments:
        label = f" {arrow_label(s)} "
        room = width - 2
        label = label[:room - 4]
        dashes = room - len(label)
        lead, tail = dashes // 2, dashes - dashes // 2
        if s.from_client:
            body = "─" * lead + label + "─" * (tail - 1) + "▶"
        else:
            body = "◀" + "─" * (lead - 1) + label + "─" * tail
        lines.append(f"{s.packet.number:>4}  │{body}│")
    return "\n".join(lines)


def ladder_svg(conv: Conversation, names: Names) -> str:
    left_x, right_x, top, step = 140, 660, 70, 34
    height = top + step * len(conv.segments) + 30
    client = f"{names.of(conv.client[0], 'client')} {conv.client[0]}:{conv.client[1]}"
    server = f"{names.of(conv.server[0], 'server')} {conv.server[0]}:{conv.server[1]}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="800" height="{height}" '
        f'viewBox="0 0 800 {height}" font-family="monospace" font-size="13">',
        '<defs><marker id="arrow" markerWidth="10" markerHeight="8" refX="9" refY="4" '
        'orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#333"/></marker></defs>',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{left_x}" y="30" text-anchor="middle" font-weight="bold">'
        f'{html.escape(client)}</text>',
        f'<text x="{right_x}" y="30" text-anchor="middle" font-weight="bold">'
        f'{html.escape(server)}</text>',
        f'<line x1="{left_x}" y1="45" x2="{left_x}" y2="{height - 10}" stroke="#999"/>',
        f'<line x1="{right_x}" y1="45" x2="{right_x}" y2="{height - 10}" stroke="#999"/>',
    ]
    for i, s in enumerate(conv.segments):
        y = top + i * step
        x1, x2 = (left_x, right_x) if s.from_client else (right_x, left_x)
        colour = _colour(s)
        out.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y + 14}" stroke="{colour}" '
                   f'stroke-width="1.5" marker-end="url(#arrow)"/>')
        out.append(f'<text x="{(left_x + right_x) / 2}" y="{y + 2}" text-anchor="middle" '
                   f'fill="{colour}">{html.escape(arrow_label(s))}</text>')
        out.append(f'<text x="20" y="{y + 10}" fill="#666">#{s.packet.number}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _colour(seg: Segment) -> str:
    if seg.retransmission:
        return "#c0392b"
    if info_text(seg).startswith("3-Way"):
        return "#1f6feb"
    if "FIN" in seg.label or "RST" in seg.label:
        return "#8e44ad"
    return "#333"


def html_page(analysis: Analysis, names: Names, title: str) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
             "</title><style>body{font-family:sans-serif;margin:2em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
             "padding:4px 8px;font-size:13px}th{background:#f3f3f3}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    for conv in analysis.conversations:
        parts.append(f"<h2>{html.escape(headline(conv, names))}</h2>")
        for seg in conv.handshake + conv.teardown:
            parts.append(f"<h3>#{seg.packet.number} {html.escape(info_text(seg))}</h3>")
            parts.append(_html_table(LAYER_COLUMNS, layer_rows(seg)))
        parts.append(_html_table(PACKET_COLUMNS, packet_rows(conv, names)))
        parts.append(ladder_svg(conv, names))
    for flow in analysis.udp_flows:
        parts.append(f"<h2>UDP {flow.src[0]}:{flow.src[1]} → {flow.dst[0]}:{flow.dst[1]}: "
                     f"{len(flow.datagrams)} datagrams, no handshake</h2>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _html_table(columns: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def to_data(analysis: Analysis, names: Names) -> dict:
    """Everything trace shows, as plain data for --json."""
    def segment(s: Segment) -> dict:
        p = s.packet
        return {"number": p.number, "time": p.time, "from": "client" if s.from_client else
                "server", "flags": p.flag_names, "seq": p.seq, "ack": p.ack,
                "rel_seq": s.rel_seq, "rel_ack": s.rel_ack, "length": p.length,
                "window": p.window, "mss": p.mss, "label": s.label,
                "retransmission": s.retransmission, "src_mac": p.src_mac,
                "dst_mac": p.dst_mac, "src_ip": p.src_ip, "dst_ip": p.dst_ip,
                "src_port": p.sport, "dst_port": p.dport}

    return {
        "packets": len(analysis.packets),
        "tcp": [{
            "client": {"node": names.of(c.client[0], ""), "ip": c.client[0],
                       "port": c.client[1], "mac": c.client_mac},
            "server": {"node": names.of(c.server[0], ""), "ip": c.server[0],
                       "port": c.server[1], "mac": c.server_mac},
            "handshake_complete": c.handshake_complete,
            "handshake": [s.packet.number for s in c.handshake],
            "teardown": c.teardown_kind,
            "teardown_packets": [s.packet.number for s in c.teardown],
            "mss": c.mss,
            "retransmissions": c.retransmissions,
            "segments": [segment(s) for s in c.segments],
        } for c in analysis.conversations],
        "udp": [{"src": {"ip": f.src[0], "port": f.src[1]},
                 "dst": {"ip": f.dst[0], "port": f.dst[1]},
                 "datagrams": len(f.datagrams)} for f in analysis.udp_flows],
    }
