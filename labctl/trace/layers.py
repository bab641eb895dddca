"""The course's per-packet layer tables, drawn twice: as sent and as received.

The sender's table reads top down (Transport, Network, Data Link, Physical),
the receiver's bottom up (Physical first), as the course draws them. The
Physical row shows the frame's leading bits, spread over the columns the way
the course spreads them (three bytes, then two per column). The receiver's
table comes from the receiving node's own capture: the same packet is found
there by its addresses, ports, sequence and acknowledgement numbers and
flags, so its MACs and bits are what that node really saw.
"""

from __future__ import annotations

from dataclasses import dataclass

from dpkt import pcap

from labctl.pcap.decode import LINKTYPE_NAMES
from labctl.trace.analysis import Analysis, Conversation, Packet, Segment

LAYER_COLUMNS = ["Layer", "Protocol", "PDU", "Info", "Ports", "IPs", "MACs"]
LAB_MEDIUM = "veth pair, Linux bridge"
UNKNOWN_MEDIUM = "medium unknown"


def info_text(seg: Segment) -> str:
    """The packet's title, as the analysis placed it (Segment.role): the handshake's three,
    the teardown's FINs and the ACKs answering them, the RST that aborts; any other
    segment by its label ("data", "ACK"), with Wireshark's analysis when it has one."""
    match seg.role:
        case "handshake":
            return f"3-Way handshake ({seg.label})"
        case "teardown":
            return f"Teardown ({seg.label})"
        case "abort":
            return f"Connection abort ({seg.label})"
    return f"{seg.label} ({seg.analysis})" if seg.analysis else seg.label


def bits(head: bytes) -> list[str]:
    """The first nine bytes as bits, in the course's four groups (3, 2, 2, 2 bytes)."""
    key = head[:9]
    found = _BITS.get(key)
    if found is None:
        groups, start = [], 0
        for size in (3, 2, 2, 2):
            chunk = head[start:start + size]
            groups.append(" ".join(f"{b:08b}" for b in chunk))
            start += size
        if len(_BITS) > 4096:
            _BITS.clear()
        found = _BITS[key] = groups
    return list(found)


_BITS: dict[bytes, list[str]] = {}  # a capture's frames start with a few MAC pairs


def link_name(p: Packet) -> str:
    if p.linktype == pcap.DLT_EN10MB:
        return "Ethernet"
    return LINKTYPE_NAMES.get(p.linktype, f"link type {p.linktype}")


def layer_rows(seg: Segment, medium: str = "", bottom_up: bool = False) -> list[list[str]]:
    """Each lower layer carries what the layers above it put in; Physical carries bits."""
    p = seg.packet
    info = info_text(seg)
    ports = f"Src Port: {p.sport} Dst Port: {p.dport}"
    ips = f"Src IP: {p.src_ip} Dst IP: {p.dst_ip}"
    macs = f"Src MAC: {p.src_mac or '-'} Dst MAC: {p.dst_mac or '-'}"
    if p.linktype != pcap.DLT_EN10MB and not p.dst_mac:
        macs = f"Src MAC: {p.src_mac or '-'} (a cooked capture keeps no Dst MAC)"
    rows = [
        ["Transport Layer", p.proto.upper(), "Segments", info, ports, "", ""],
        ["Network Layer", f"IPv{p.ip_version}" + (f" in {p.tunnel}" if p.tunnel else ""),
         "Packets", info, ports, ips, ""],
        ["Data Link Layer", link_name(p), "Frames", info, ports, ips, macs],
        ["Physical Layer", medium or UNKNOWN_MEDIUM, "Bits", *bits(p.head)],
    ]
    if p.linktype != pcap.DLT_EN10MB:
        # The capture kept no wire frame (a cooked or raw capture): say whose bits these are.
        rows[3][3] = f"({link_name(p)} header, not the wire) {rows[3][3]}"
    return rows[::-1] if bottom_up else rows


@dataclass(frozen=True)
class View:
    """One table: who sends or receives the packet, where it was captured."""

    title: str
    rows: list[list[str]]
    node: str  # the capture it comes from ("" for a file)
    number: int  # frame number in that capture


def _key(p: Packet) -> tuple:
    return (p.src_ip, p.sport, p.dst_ip, p.dport, p.seq, p.ack, p.flags)


class Matcher:
    """Finds a packet of one capture in another capture (built once per capture)."""

    def __init__(self, analysis: Analysis) -> None:
        self.index: dict[tuple, list[Packet]] = {}
        for conv in analysis.conversations:
            for s in conv.segments:
                self.index.setdefault(_key(s.packet), []).append(s.packet)
        self.segments = {s.packet.number: s for c in analysis.conversations
                         for s in c.segments}

    def find(self, p: Packet) -> Segment | None:
        found = self.index.get(_key(p))
        return self.segments[found[0].number] if found else None


def views(seg: Segment, node_of: dict[str, str], captured_on: str,
          matchers: dict[str, Matcher], medium: str) -> list[View]:
    """The sender's table (top down), then the receiver's (bottom up) when it captured too."""
    p = seg.packet
    sender, receiver = node_of.get(p.src_ip, p.src_ip), node_of.get(p.dst_ip, p.dst_ip)
    info = info_text(seg)
    out = []
    sent = seg
    sent_on = captured_on
    if sender in matchers and sender != captured_on:
        other = matchers[sender].find(p)
        if other is not None:
            sent, sent_on = other, sender
    where = f" (captured on {sent_on}, #{sent.packet.number})" if sent_on else ""
    out.append(View(f"#{p.number} {info}: {sender} sends{where}",
                    layer_rows(sent, medium), sent_on, sent.packet.number))
    if receiver in matchers:
        got = seg if receiver == captured_on else matchers[receiver].find(p)
        if got is not None:
            out.append(View(f"#{p.number} {info}: {receiver} receives (captured on {receiver}, "
                            f"#{got.packet.number})", layer_rows(got, medium, bottom_up=True),
                            receiver, got.packet.number))
    return out


def conversation_views(conv: Conversation, node_of: dict[str, str], captured_on: str,
                       matchers: dict[str, Matcher], medium: str,
                       every_packet: bool = False) -> list[View]:
    shown = conv.segments if every_packet else conv.handshake + conv.teardown
    return [v for seg in shown for v in views(seg, node_of, captured_on, matchers, medium)]
