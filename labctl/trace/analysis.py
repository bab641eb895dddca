"""Read captured packets and find what the course teaches in them.

From a pcap or pcapng (pcapread), frames decoded by pcapdecode, TCP
conversations as Wireshark splits them into streams, with the handshake
(SYN, SYN/ACK, ACK, each ack = peer seq + 1), data with relative sequence
and acknowledgement numbers and calculated windows (tcpseq, Wireshark's
definitions), teardown by FIN or RST, retransmissions, MSS; and UDP
datagrams, which have no handshake.

`Analyser` takes packets one at a time, so a growing capture can be fed as
it is written; `analyse(data)` is the whole-file shortcut.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from labctl.pcap.decode import ACK, FIN, PSH, RST, SYN, URG, Decoder, Packet, linktype_name
from labctl.pcap.read import Capture, Damage, Interface, UnsupportedVersion
from labctl.trace.tcp_sequence import RETRANSMISSION_KINDS, Sequencer

_SYN_ACK = SYN | ACK

__all__ = ["ACK", "FIN", "PSH", "RST", "SYN", "URG", "Analyser", "Analysis", "Conversation",
           "Damage", "Interface", "Packet", "Segment", "UdpFlow", "analyse", "analyse_packets",
           "read_packets"]

@dataclass(slots=True)
class Segment:
    """A packet as seen in its conversation: direction, relative numbers, analysis."""

    packet: Packet
    from_client: bool
    rel_seq: int
    rel_ack: int | None  # None when the ACK flag is off
    label: str = ""  # "SYN", "SYN/ACK", "ACK" (handshake), "FIN", "RST", "data"
    window: int = 0  # calculated window (raw field shifted by the window scale)
    analysis: str = ""  # Wireshark's kind: "retransmission", "out-of-order", "dup ack", ...
    role: str = ""  # "handshake", "teardown" (a FIN, or the ACK answering one), "abort" or ""

    # Nine slots: a tenth would take each of a capture's segments to the next allocation
    # size (96 to 112 bytes), 6 MB more at 240,000 packets; this one is derived instead.
    @property
    def retransmission(self) -> bool:
        """Any of Wireshark's retransmissions: plain, fast or spurious."""
        return self.analysis in RETRANSMISSION_KINDS


@dataclass
class Conversation:
    """One TCP connection (Wireshark's tcp.stream), oriented client (SYN sender) -> server."""

    client: tuple[str, int]
    server: tuple[str, int]
    client_mac: str
    server_mac: str
    segments: list[Segment] = field(default_factory=list)
    handshake: list[Segment] = field(default_factory=list)  # SYN, SYN/ACK, ACK when complete
    teardown: list[Segment] = field(default_factory=list)
    teardown_kind: str | None = None  # "fin", "rst" or None (still open)
    mss: dict[str, int] = field(default_factory=dict)  # "client"/"server" -> MSS from SYNs
    stream: int = 0  # Wireshark's stream index
    sequencer: Sequencer = field(default_factory=Sequencer, repr=False)

    @property
    def handshake_complete(self) -> bool:
        return len(self.handshake) == 3

    @property
    def retransmissions(self) -> int:
        return sum(1 for s in self.segments if s.retransmission)

    def bytes_sent(self, from_client: bool) -> int:
        return sum(s.packet.length for s in self.segments
                   if s.from_client == from_client and not s.retransmission)

    def isn(self, of_client: bool) -> int | None:
        """The raw initial sequence number, when the side's SYN was captured."""
        syn = next((s for s in self.segments if s.from_client == of_client
                    and s.packet.flags & SYN), None)
        return None if syn is None else syn.packet.seq


@dataclass
class UdpFlow:
    src: tuple[str, int]
    dst: tuple[str, int]
    datagrams: list[Packet] = field(default_factory=list)


@dataclass
class Analysis:
    packets: list[Packet]
    conversations: list[Conversation]
    udp_flows: list[UdpFlow]
    frames: int = 0  # every record read, TCP/UDP or not
    damage: Damage | None = None
    interfaces: list[Interface] = field(default_factory=list)
    format: str = ""
    # What was read but not analysed, so a capture never looks emptier than it is:
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (frame number, why)
    tunnelled: dict[str, int] = field(default_factory=dict)  # tunnel -> packets not analysed
    unknown_links: dict[int, int] = field(default_factory=dict)  # link type -> frames

    @property
    def notes(self) -> list[str]:
        """What was read but not analysed, one line each (shown under the packet counts)."""
        notes = []
        if self.malformed:
            shown = ", ".join(f"#{n} ({why})" for n, why in self.malformed[:5])
            more = f" and {len(self.malformed) - 5} more" if len(self.malformed) > 5 else ""
            notes.append(f"{_count(len(self.malformed), 'frame')} with a malformed header "
                         f"(shown as far as it could be read, if at all): {shown}{more}")
        if self.tunnelled:
            kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.tunnelled.items()))
            notes.append(f"{_count(sum(self.tunnelled.values()), 'packet')} inside a tunnel "
                         f"labctl does not decode, not analysed ({kinds})")
        return notes

    @property
    def warnings(self) -> list[str]:
        """Why part of the capture could not be read: damage, link types not decoded."""
        warnings = [str(self.damage)] if self.damage else []
        for linktype, frames in sorted(self.unknown_links.items()):
            warnings.append(f"{_count(frames, 'frame')} of link type "
                            f"{linktype_name(linktype)} not read: labctl does not decode "
                            "that link layer")
        return warnings

    def check_readable(self) -> None:
        """Raise ValueError when frames were captured but none could be read at all."""
        if self.unknown_links and sum(self.unknown_links.values()) == self.frames:
            names = ", ".join(linktype_name(t) for t in sorted(self.unknown_links))
            raise ValueError(f"link type {names} is not one labctl decodes (Ethernet, "
                             "Linux cooked v1/v2, raw IP, loopback, PPPoE): none of its "
                             f"{_count(self.frames, 'frame')} could be read")

    def find(self, server_port: int | None = None, client_ip: str | None = None,
             server_ip: str | None = None) -> list[Conversation]:
        return [c for c in self.conversations
                if (server_port is None or c.server[1] == server_port)
                and (client_ip is None or c.client[0] == client_ip)
                and (server_ip is None or c.server[0] == server_ip)]


class Analyser:
    """Packets in (in capture order), conversations and UDP flows out."""

    def __init__(self) -> None:
        self.packets: list[Packet] = []
        self.conversations: list[Conversation] = []
        self.udp: dict[tuple, UdpFlow] = {}
        # (src ip, src port, dst ip, dst port) -> (its connection, sent by the client?)
        self._streams: dict[tuple, tuple[Conversation, bool]] = {}

    def add(self, p: Packet) -> Segment | None:
        self.packets.append(p)
        if not p.ns:  # made by hand, not read from a capture
            p.ns = round(p.time * 1e9)
        if p.proto != "tcp":
            key = (p.src_ip, p.sport, p.dst_ip, p.dport)
            flow = self.udp.get(key)
            if flow is None:
                flow = self.udp[key] = UdpFlow(p.src, p.dst)
            flow.datagrams.append(p)
            return None
        key = (p.src_ip, p.sport, p.dst_ip, p.dport)
        found = self._streams.get(key)
        if found is None or (p.flags & _SYN_ACK == SYN and self._new_connection(found, p)):
            conv = Conversation(client=(p.src_ip, p.sport), server=(p.dst_ip, p.dport),
                                client_mac=p.src_mac, server_mac=p.dst_mac,
                                stream=len(self.conversations))
            found = (conv, True)
            self._streams[key] = found
            self._streams[(p.dst_ip, p.dport, p.src_ip, p.sport)] = (conv, False)
            self.conversations.append(conv)
        conv, from_client = found
        rel_seq, rel_ack, window, kind = conv.sequencer.feed(p, from_client)
        seg = Segment(p, from_client, rel_seq, rel_ack, "", window, kind)
        conv.segments.append(seg)
        if p.mss is not None and p.flags & SYN:
            conv.mss.setdefault("client" if from_client else "server", p.mss)
        return seg

    @staticmethod
    def _new_connection(found: tuple[Conversation, bool], p: Packet) -> bool:
        """Wireshark's port reuse: a SYN whose ISN differs from this direction's base."""
        base = found[0].sequencer.base_of(found[1])
        return base is not None and base != p.seq

    def result(self) -> Analysis:
        for conv in self.conversations:
            _finish(conv)
        return Analysis(self.packets, self.conversations, list(self.udp.values()))


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"


def read_packets(data: bytes) -> list[Packet]:
    """Every TCP or UDP packet of a pcap or pcapng."""
    return _read(data)[0]


def _read(data: bytes) -> tuple[list[Packet], Capture, int, Decoder]:
    capture = Capture(data)
    try:
        records = capture.records()
    except UnsupportedVersion:
        raise
    except ValueError as exc:
        raise ValueError(f"not a pcap or pcapng file: {exc}") from None
    decoder = Decoder()
    decode = decoder.decode
    packets = []
    number = 0
    linktypes = None
    for ns, iface, frame, wirelen in records:
        number += 1
        if linktypes is None or iface >= len(linktypes):
            linktypes = [i.linktype for i in capture.interfaces]
        packet = decode(number, ns, frame, wirelen, linktypes[iface], iface)
        if packet is not None:
            packets.append(packet)
    return packets, capture, number, decoder


def analyse(data: bytes) -> Analysis:
    with _no_cycle_collection():
        packets, capture, frames, decoder = _read(data)
        result = analyse_packets(packets)
    result.frames, result.damage = frames, capture.damage
    result.interfaces, result.format = capture.interfaces, capture.format
    result.malformed, result.tunnelled = decoder.malformed, decoder.tunnelled
    result.unknown_links = decoder.unknown_links
    return result


def analyse_packets(packets: Iterable[Packet]) -> Analysis:
    analyser = Analyser()
    add = analyser.add
    for p in packets:
        add(p)
    return analyser.result()


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Hundreds of thousands of acyclic objects: the cycle collector would only rescan them.

    Off while they are made, then frozen out of its view (gc.freeze), or the next
    collections would each walk all of them again (half a second a time at 240,000
    packets). Reference counting still frees them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def relabel(conv: Conversation) -> None:
    """Label a connection anew after more of its segments came in (a live capture)."""
    _finish(conv)


def _finish(conv: Conversation) -> None:
    """Orientation, handshake and teardown labels: decided once a connection's segments are in."""
    first_syn = next((s for s in conv.segments if s.packet.flags & _SYN_ACK == SYN), None)
    if first_syn is not None and not first_syn.from_client:
        conv.client, conv.server = conv.server, conv.client
        conv.client_mac, conv.server_mac = conv.server_mac, conv.client_mac
        for s in conv.segments:
            s.from_client = not s.from_client
        conv.mss = {("server" if k == "client" else "client"): v for k, v in conv.mss.items()}
    if not conv.server_mac:
        conv.server_mac = next((s.packet.src_mac for s in conv.segments
                                if not s.from_client), "")
    if conv.handshake or conv.teardown:  # finished before: a growing capture, label anew
        for s in conv.segments:
            s.label = s.role = ""
    conv.handshake, conv.teardown, conv.teardown_kind = [], [], None
    _label_handshake(conv)
    _label_teardown(conv)
    for s in conv.segments:
        if not s.label:
            s.label = "data" if s.packet.length else s.packet.flags_text


def _label_handshake(conv: Conversation) -> None:
    syn = next((s for s in conv.segments if s.from_client and s.packet.has(SYN)
                and not s.packet.has(ACK)), None)
    if syn is None:
        return
    syn_ack = next((s for s in conv.segments if not s.from_client and s.packet.has(SYN | ACK)
                    and s.packet.ack == (syn.packet.seq + 1) % 2**32), None)
    if syn_ack is None:
        syn.label, syn.role = "SYN", "handshake"
        conv.handshake = [syn]
        return
    ack = next((s for s in conv.segments if s.from_client and s.packet.has(ACK)
                and not s.packet.flags & SYN and s.packet.time >= syn_ack.packet.time
                and s.packet.ack == (syn_ack.packet.seq + 1) % 2**32), None)
    syn.label, syn_ack.label = "SYN", "SYN/ACK"
    conv.handshake = [syn, syn_ack]
    if ack is not None:
        if not ack.label:
            ack.label = "ACK" if not ack.packet.length else "ACK+data"
        conv.handshake.append(ack)
    for s in conv.handshake:
        s.role = "handshake"


def _label_teardown(conv: Conversation) -> None:
    rst = next((s for s in conv.segments if s.packet.flags & RST), None)
    fins = [s for s in conv.segments if s.packet.flags & FIN and not s.retransmission]
    if rst is not None and (not fins or rst.packet.time < fins[0].packet.time):
        rst.label = "RST" if not rst.packet.has(ACK) else "RST/ACK"
        rst.role = "abort"
        conv.teardown = [rst]
        conv.teardown_kind = "rst"
        return
    if not fins:
        return
    for s in fins:
        s.label = "FIN/ACK" if s.packet.has(ACK) else "FIN"
        s.role = "teardown"
    conv.teardown = list(fins)
    # The final ACK of each FIN: an ACK from the other side acknowledging FIN seq + 1.
    for fin in fins:
        want = (fin.packet.seq + fin.packet.length + 1) % 2**32
        final = next((s for s in conv.segments if s.from_client != fin.from_client
                      and s.packet.has(ACK) and s.packet.ack == want
                      and s.packet.time >= fin.packet.time and s not in conv.teardown), None)
        if final is not None:
            if not final.label:  # (the handshake's ACK keeps its name)
                final.label, final.role = "ACK", "teardown"
            conv.teardown.append(final)
    conv.teardown.sort(key=lambda s: (s.packet.time, s.packet.number))
    sides = {s.from_client for s in fins}
    conv.teardown_kind = "fin" if sides == {True, False} else "fin-half"
    if rst is not None:
        rst.label = "RST" if not rst.packet.has(ACK) else "RST/ACK"
        rst.role = "abort"
        conv.teardown.append(rst)
        conv.teardown_kind = "rst"
