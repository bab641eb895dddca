"""Read captured packets and find what the course teaches in them.

Built on dpkt (no hand-parsed bytes). From a pcap: TCP conversations by
4-tuple with their handshake (SYN, SYN/ACK, ACK, each ack = peer seq + 1),
data with relative sequence and acknowledgement numbers (as the seeds'
x=100, y=500 walk-through counts them), teardown by FIN or RST,
retransmissions, MSS and window; and UDP datagrams, which have no handshake.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

import dpkt

FIN, SYN, RST, PSH, ACK, URG = (dpkt.tcp.TH_FIN, dpkt.tcp.TH_SYN, dpkt.tcp.TH_RST,
                                dpkt.tcp.TH_PUSH, dpkt.tcp.TH_ACK, dpkt.tcp.TH_URG)
_FLAG_NAMES = ((SYN, "SYN"), (FIN, "FIN"), (RST, "RST"), (PSH, "PSH"), (ACK, "ACK"),
               (URG, "URG"))


@dataclass
class Packet:
    """One captured frame, its Ethernet, IP and transport fields."""

    number: int  # 1-based, as Wireshark counts
    time: float
    src_mac: str
    dst_mac: str
    src_ip: str
    dst_ip: str
    proto: str  # "tcp" or "udp"
    sport: int
    dport: int
    length: int  # payload bytes of the segment or datagram
    frame_length: int
    flags: int = 0
    seq: int = 0
    ack: int = 0
    window: int = 0
    mss: int | None = None
    payload: bytes = b""

    @property
    def flag_names(self) -> list[str]:
        return [name for bit, name in _FLAG_NAMES if self.flags & bit]

    @property
    def flags_text(self) -> str:
        return "/".join(self.flag_names) or "-"

    def has(self, bits: int) -> bool:
        return self.flags & bits == bits

    @property
    def src(self) -> tuple[str, int]:
        return self.src_ip, self.sport

    @property
    def dst(self) -> tuple[str, int]:
        return self.dst_ip, self.dport


@dataclass
class Segment:
    """A packet as seen in its conversation: direction and relative numbers."""

    packet: Packet
    from_client: bool
    rel_seq: int
    rel_ack: int | None  # None when the ACK flag is off
    retransmission: bool = False
    label: str = ""  # "SYN", "SYN/ACK", "ACK" (handshake), "FIN", "RST", "data"


@dataclass
class Conversation:
    """One TCP connection, oriented client (the SYN sender) -> server."""

    client: tuple[str, int]
    server: tuple[str, int]
    client_mac: str
    server_mac: str
    segments: list[Segment] = field(default_factory=list)
    handshake: list[Segment] = field(default_factory=list)  # SYN, SYN/ACK, ACK when complete
    teardown: list[Segment] = field(default_factory=list)
    teardown_kind: str | None = None  # "fin", "rst" or None (still open)
    mss: dict[str, int] = field(default_factory=dict)  # "client"/"server" -> MSS from SYNs

    @property
    def handshake_complete(self) -> bool:
        return len(self.handshake) == 3

    @property
    def retransmissions(self) -> int:
        return sum(1 for s in self.segments if s.retransmission)

    def bytes_sent(self, from_client: bool) -> int:
        return sum(s.packet.length for s in self.segments
                   if s.from_client == from_client and not s.retransmission)


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

    def find(self, server_port: int | None = None, client_ip: str | None = None,
             server_ip: str | None = None) -> list[Conversation]:
        return [c for c in self.conversations
                if (server_port is None or c.server[1] == server_port)
                and (client_ip is None or c.client[0] == client_ip)
                and (server_ip is None or c.server[0] == server_ip)]


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _mss(tcp: dpkt.tcp.TCP) -> int | None:
    for kind, data in dpkt.tcp.parse_opts(tcp.opts):
        if kind == dpkt.tcp.TCP_OPT_MSS and len(data) == 2:
            return int.from_bytes(data, "big")
    return None


def read_packets(data: bytes) -> list[Packet]:
    """Every IPv4 TCP or UDP frame of a pcap (Ethernet or Linux cooked capture)."""
    packets: list[Packet] = []
    try:
        reader = dpkt.pcap.Reader(io.BytesIO(data))
    except (ValueError, dpkt.NeedData) as exc:
        raise ValueError(f"not a pcap file: {exc}") from None
    linktype = reader.datalink()
    number = 0
    try:
        for ts, frame in reader:
            number += 1
            packet = _decode(number, ts, frame, linktype)
            if packet is not None:
                packets.append(packet)
    except (dpkt.NeedData, dpkt.UnpackError, ValueError):
        pass  # a capture still being written may end mid-record: keep what is whole
    return packets


def _decode(number: int, ts: float, frame: bytes, linktype: int) -> Packet | None:
    try:
        if linktype == dpkt.pcap.DLT_LINUX_SLL:
            link = dpkt.sll.SLL(frame)
            src_mac, dst_mac = _mac(link.hdr[: link.hlen]), ""
        else:
            link = dpkt.ethernet.Ethernet(frame)
            src_mac, dst_mac = _mac(link.src), _mac(link.dst)
    except (dpkt.UnpackError, dpkt.NeedData):
        return None
    ip = link.data
    if not isinstance(ip, dpkt.ip.IP):
        return None
    transport = ip.data
    common = dict(number=number, time=ts, src_mac=src_mac, dst_mac=dst_mac,
                  src_ip=socket.inet_ntoa(ip.src), dst_ip=socket.inet_ntoa(ip.dst),
                  frame_length=len(frame))
    if isinstance(transport, dpkt.tcp.TCP):
        return Packet(**common, proto="tcp", sport=transport.sport, dport=transport.dport,
                      length=len(transport.data), flags=transport.flags, seq=transport.seq,
                      ack=transport.ack, window=transport.win, mss=_mss(transport),
                      payload=bytes(transport.data))
    if isinstance(transport, dpkt.udp.UDP):
        return Packet(**common, proto="udp", sport=transport.sport, dport=transport.dport,
                      length=len(transport.data), payload=bytes(transport.data))
    return None


def analyse(data: bytes) -> Analysis:
    return analyse_packets(read_packets(data))


def analyse_packets(packets: Iterable[Packet]) -> Analysis:
    packets = sorted(packets, key=lambda p: (p.time, p.number))
    tcp: dict[frozenset, list[Packet]] = {}
    udp: dict[tuple, UdpFlow] = {}
    for p in packets:
        if p.proto == "tcp":
            tcp.setdefault(frozenset((p.src, p.dst)), []).append(p)
        else:
            flow = udp.setdefault((p.src, p.dst), UdpFlow(p.src, p.dst))
            flow.datagrams.append(p)
    conversations = []
    for group in tcp.values():
        conversations.extend(_split_connections(group))
    conversations.sort(key=lambda c: c.segments[0].packet.time)
    return Analysis(packets, conversations, list(udp.values()))


def _split_connections(packets: list[Packet]) -> list[Conversation]:
    """One 4-tuple may carry several connections in turn (port reuse): split at new SYNs."""
    runs: list[list[Packet]] = []
    for p in packets:
        fresh_syn = p.has(SYN) and not p.has(ACK)
        if runs and fresh_syn and _closed(runs[-1]) and not _same_syn(runs[-1], p):
            runs.append([p])
        elif runs:
            runs[-1].append(p)
        else:
            runs.append([p])
    return [_conversation(run) for run in runs]


def _closed(run: list[Packet]) -> bool:
    return any(p.flags & (FIN | RST) for p in run)


def _same_syn(run: list[Packet], p: Packet) -> bool:
    return any(q.has(SYN) and not q.has(ACK) and q.seq == p.seq for q in run)


def _conversation(packets: list[Packet]) -> Conversation:
    first_syn = next((p for p in packets if p.has(SYN) and not p.has(ACK)), None)
    opener = first_syn or packets[0]
    client, server = opener.src, opener.dst
    conv = Conversation(client=client, server=server, client_mac=opener.src_mac,
                        server_mac=opener.dst_mac)
    isn: dict[bool, int] = {}
    seen: dict[bool, set[tuple[int, int, int]]] = {True: set(), False: set()}
    for p in packets:
        from_client = p.src == client
        if from_client is False and not conv.server_mac:
            conv.server_mac = p.src_mac
        if p.has(SYN) or from_client not in isn:
            isn.setdefault(from_client, p.seq)
        if p.mss is not None and p.has(SYN):
            conv.mss.setdefault("client" if from_client else "server", p.mss)
        peer_isn = isn.get(not from_client)
        rel_ack = ((p.ack - peer_isn) % 2**32 if peer_isn is not None else p.ack) \
            if p.has(ACK) else None
        rel_seq = (p.seq - isn[from_client]) % 2**32
        # A segment that occupies sequence space (data, SYN, FIN) and was seen before.
        span = p.length + (1 if p.flags & (SYN | FIN) else 0)
        key = (p.seq, span, p.flags & (SYN | FIN))
        retrans = span > 0 and key in seen[from_client]
        if span > 0:
            seen[from_client].add(key)
        conv.segments.append(Segment(p, from_client, rel_seq, rel_ack, retrans))
    _label_handshake(conv)
    _label_teardown(conv)
    for s in conv.segments:
        if not s.label:
            s.label = "data" if s.packet.length else s.packet.flags_text
    return conv


def _label_handshake(conv: Conversation) -> None:
    syn = next((s for s in conv.segments if s.from_client and s.packet.has(SYN)
                and not s.packet.has(ACK)), None)
    if syn is None:
        return
    syn_ack = next((s for s in conv.segments if not s.from_client and s.packet.has(SYN | ACK)
                    and s.packet.ack == (syn.packet.seq + 1) % 2**32), None)
    if syn_ack is None:
        syn.label = "SYN"
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


def _label_teardown(conv: Conversation) -> None:
    rst = next((s for s in conv.segments if s.packet.flags & RST), None)
    fins = [s for s in conv.segments if s.packet.flags & FIN and not s.retransmission]
    if rst is not None and (not fins or rst.packet.time < fins[0].packet.time):
        rst.label = "RST" if not rst.packet.has(ACK) else "RST/ACK"
        conv.teardown = [rst]
        conv.teardown_kind = "rst"
        return
    if not fins:
        return
    for s in fins:
        s.label = "FIN/ACK" if s.packet.has(ACK) else "FIN"
    conv.teardown = list(fins)
    # The final ACK of each FIN: an ACK from the other side acknowledging FIN seq + 1.
    for fin in fins:
        want = (fin.packet.seq + fin.packet.length + 1) % 2**32
        final = next((s for s in conv.segments if s.from_client != fin.from_client
                      and s.packet.has(ACK) and s.packet.ack == want
                      and s.packet.time >= fin.packet.time and s not in conv.teardown), None)
        if final is not None:
            if not final.label:
                final.label = "ACK"
            conv.teardown.append(final)
    conv.teardown.sort(key=lambda s: (s.packet.time, s.packet.number))
    sides = {s.from_client for s in fins}
    conv.teardown_kind = "fin" if sides == {True, False} else "fin-half"
    if rst is not None:
        rst.label = "RST" if not rst.packet.has(ACK) else "RST/ACK"
        conv.teardown.append(rst)
        conv.teardown_kind = "rst"
