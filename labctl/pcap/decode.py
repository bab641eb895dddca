"""Decode one captured frame into the fields trace and the checks use.

Link layers: Ethernet (with 802.1Q/802.1ad tags and PPPoE sessions), Linux
cooked captures v1 and v2 (`tcpdump -i any`), raw IP, BSD loopback/null and
bare PPPoE. Network: IPv4 and IPv6 (extension headers skipped), with IP
fragments reassembled so a UDP datagram counts once, at its last fragment,
as Wireshark shows it. Transport: TCP and UDP.

Header layouts are dpkt's (`__hdr_fmt__`, `__hdr_len__`, its ethertype and
link-type constants) applied with struct: building a dpkt object per layer
costs ~10 µs a packet, which would make a 240,000-packet capture take
seconds. Lengths come from the IP header, never from the captured bytes,
so a short snaplen or Ethernet padding does not change a segment's length.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

import dpkt
from dpkt import ethernet, pcap

FIN, SYN, RST, PSH, ACK, URG = (dpkt.tcp.TH_FIN, dpkt.tcp.TH_SYN, dpkt.tcp.TH_RST,
                                dpkt.tcp.TH_PUSH, dpkt.tcp.TH_ACK, dpkt.tcp.TH_URG)
_FLAG_NAMES = ((SYN, "SYN"), (FIN, "FIN"), (RST, "RST"), (PSH, "PSH"), (ACK, "ACK"),
               (URG, "URG"))

_IP4 = struct.Struct(dpkt.ip.IP.__hdr_fmt__)
_IP6 = struct.Struct(dpkt.ip6.IP6.__hdr_fmt__)
_TCP = struct.Struct(dpkt.tcp.TCP.__hdr_fmt__)
_UDP = struct.Struct(dpkt.udp.UDP.__hdr_fmt__)
_U16 = struct.Struct(">H")
_ETH_LEN = ethernet.ETH_HDR_LEN
_ETH_IP, _ETH_IP6, _EN10MB = ethernet.ETH_TYPE_IP, ethernet.ETH_TYPE_IP6, pcap.DLT_EN10MB
_NO_MACS = ("", "")
_TCP_PROTO, _UDP_PROTO = dpkt.ip.IP_PROTO_TCP, dpkt.ip.IP_PROTO_UDP
_FRAGMENT_BITS = dpkt.ip.IP_OFFMASK | dpkt.ip.IP_MF
_SLL_LEN = dpkt.sll.SLL.__hdr_len__
_SLL2_LEN = dpkt.sll2.SLL2.__hdr_len__
_PPPOE_LEN = dpkt.pppoe.PPPoE.__hdr_len__
_VLAN_TYPES = {ethernet.ETH_TYPE_8021Q, ethernet.ETH_TYPE_8021AD, 0x9100}
_PPP_TO_ETHERTYPE = {0x0021: ethernet.ETH_TYPE_IP, 0x0057: ethernet.ETH_TYPE_IP6}
_IP6_SKIPPED = {0, 43, 60}  # hop-by-hop, routing, destination options
LINKTYPE_NAMES = {pcap.DLT_EN10MB: "Ethernet", pcap.DLT_LINUX_SLL: "Linux cooked (SLL)",
                  pcap.DLT_LINUX_SLL2: "Linux cooked v2 (SLL2)", pcap.DLT_RAW: "raw IP",
                  pcap.DLT_IPV4: "raw IPv4", pcap.DLT_IPV6: "raw IPv6",
                  pcap.DLT_NULL: "BSD loopback", pcap.DLT_LOOP: "OpenBSD loopback",
                  pcap.DLT_PPP_ETHER: "PPPoE"}


@dataclass(slots=True)
class Packet:
    """One captured TCP segment or UDP datagram, its link, IP and transport fields."""

    number: int  # 1-based, as Wireshark counts
    time: float
    src_mac: str
    dst_mac: str
    src_ip: str
    dst_ip: str
    proto: str  # "tcp" or "udp"
    sport: int
    dport: int
    length: int  # payload bytes, from the IP header
    frame_length: int  # bytes on the wire (the record's original length)
    flags: int = 0
    seq: int = 0
    ack: int = 0
    window: int = 0  # the raw 16-bit field
    mss: int | None = None
    payload: bytes = b""  # the first bytes only: enough to show, not to keep the capture twice
    wscale: int | None = None  # window scale shift from a SYN's option
    interface: int = 0  # index of the capture interface (pcapng), 0 for pcap
    linktype: int = pcap.DLT_EN10MB
    head: bytes = b""  # the frame's leading bytes, for the Physical layer's bits
    ip_version: int = 4
    ns: int = 0  # the capture's timestamp in nanoseconds (exact; `time` is for reading)

    @property
    def flag_names(self) -> list[str]:
        return [name for bit, name in _FLAG_NAMES if self.flags & bit]

    @property
    def flags_text(self) -> str:
        text = _FLAGS_TEXT.get(self.flags)
        if text is None:
            text = _FLAGS_TEXT[self.flags] = "/".join(self.flag_names) or "-"
        return text

    def has(self, bits: int) -> bool:
        return self.flags & bits == bits

    @property
    def src(self) -> tuple[str, int]:
        return self.src_ip, self.sport

    @property
    def dst(self) -> tuple[str, int]:
        return self.dst_ip, self.dport


_FLAGS_TEXT: dict[int, str] = {}
KEPT_PAYLOAD = 64
KEPT_HEAD = 16


class Decoder:
    """Frames in, Packets out; keeps IP fragments until their datagram is whole."""

    def __init__(self) -> None:
        self._fragments: dict[tuple, _Datagram] = {}
        self._addresses: dict[bytes, str] = {}
        self._mac_pairs: dict[bytes, tuple[str, str]] = {}

    def decode(self, number: int, ns: int, frame: bytes, wirelen: int, linktype: int,
               interface: int = 0) -> Packet | None:
        try:
            found = self._link(frame, linktype)
            if found is None:
                return None
            ethertype, offset, macs = found
            if ethertype == _ETH_IP:
                net = self._ipv4(frame, offset)
            elif ethertype == _ETH_IP6:
                net = self._ipv6(frame, offset)
            else:
                return None
            if net is None:
                return None
            version, src, dst, proto, buf, at, length = net
            packet = self._transport(proto, buf, at, length)
        except (struct.error, IndexError, ValueError):
            return None  # a frame too short for its headers: Wireshark marks it malformed
        if packet is None:
            return None
        packet.number, packet.time, packet.ns, packet.frame_length = (number, ns / 1e9, ns,
                                                                      wirelen)
        packet.src_mac, packet.dst_mac = macs
        addresses = self._addresses
        packet.src_ip = addresses.get(src) or self._address(src)
        packet.dst_ip = addresses.get(dst) or self._address(dst)
        packet.interface, packet.linktype, packet.ip_version = interface, linktype, version
        packet.head = frame[:KEPT_HEAD]
        return packet

    def _macs(self, raw: bytes) -> tuple[str, str]:
        macs = self._mac_pairs.get(raw)
        if macs is None:
            macs = self._mac_pairs[raw] = (raw[6:12].hex(":"), raw[0:6].hex(":"))
        return macs

    # -- link layer: (ethertype, offset of the network header, (src MAC, dst MAC)) -----
    def _link(self, frame: bytes, linktype: int) -> tuple[int, int, tuple[str, str]] | None:
        if linktype == _EN10MB:
            ethertype = frame[12] << 8 | frame[13]
            if ethertype == _ETH_IP:
                return _ETH_IP, _ETH_LEN, self._macs(frame[:12])
            offset = _ETH_LEN
            while ethertype in _VLAN_TYPES:
                ethertype = _U16.unpack_from(frame, offset + 2)[0]
                offset += 4
            if ethertype == ethernet.ETH_TYPE_PPPoE:
                ethertype, offset = self._pppoe(frame, offset)
            return ethertype, offset, self._macs(frame[:12])
        if linktype == pcap.DLT_LINUX_SLL:
            hlen = min(_U16.unpack_from(frame, 4)[0], 8)
            return _U16.unpack_from(frame, 14)[0], _SLL_LEN, (frame[6:6 + hlen].hex(":"), "")
        if linktype == pcap.DLT_LINUX_SLL2:
            hlen = min(frame[11], 8)
            return _U16.unpack_from(frame, 0)[0], _SLL2_LEN, (frame[12:12 + hlen].hex(":"), "")
        if linktype in (pcap.DLT_RAW, pcap.DLT_IPV4, pcap.DLT_IPV6, 12, 14):
            return _version_ethertype(frame[0] >> 4), 0, _NO_MACS
        if linktype in (pcap.DLT_NULL, pcap.DLT_LOOP):
            raw = frame[:4]
            # DLT_NULL's family is in the capturing host's byte order; DLT_LOOP's is big-endian.
            family = int.from_bytes(raw, "big" if linktype == pcap.DLT_LOOP or raw[0] == 0
                                    else "little")
            ethertype = (ethernet.ETH_TYPE_IP if family == socket.AF_INET else
                         ethernet.ETH_TYPE_IP6 if family in (10, 24, 28, 30) else 0)
            return ethertype, 4, _NO_MACS
        if linktype == pcap.DLT_PPP_ETHER:
            ethertype, offset = self._pppoe(frame, 0)
            return ethertype, offset, _NO_MACS
        return None

    @staticmethod
    def _pppoe(frame: bytes, offset: int) -> tuple[int, int]:
        protocol = _U16.unpack_from(frame, offset + _PPPOE_LEN)[0]
        return _PPP_TO_ETHERTYPE.get(protocol, 0), offset + _PPPOE_LEN + 2

    # -- network layer: (version, src, dst, protocol, bytes, transport offset, length) ----
    def _ipv4(self, frame: bytes, offset: int):
        v_hl, _, total, ident, off, _, proto, _, src, dst = _IP4.unpack_from(frame, offset)
        header = (v_hl & 0x0F) * 4
        start = offset + header
        # Total length 0 is what a host capturing its own TSO sends shows: use the bytes.
        length = total - header if total else len(frame) - start
        if off & _FRAGMENT_BITS:
            fragment_offset, more = (off & dpkt.ip.IP_OFFMASK) * 8, off & dpkt.ip.IP_MF
            whole = self._reassemble((src, dst, ident, proto), fragment_offset, bool(more),
                                     frame[start:start + length], length)
            if whole is None:
                return None
            return 4, src, dst, proto, whole[0], 0, whole[1]
        return 4, src, dst, proto, frame, start, length

    def _ipv6(self, frame: bytes, offset: int):
        _, plen, nxt, _, src, dst = _IP6.unpack_from(frame, offset)
        start, end = offset + 40, offset + 40 + plen
        while nxt in _IP6_SKIPPED:
            nxt, ext_len = frame[start], (frame[start + 1] + 1) * 8
            start += ext_len
        if nxt == dpkt.ip.IP_PROTO_FRAGMENT:
            nxt, _, offlg, ident = struct.unpack_from(">BBHI", frame, start)
            start += 8
            length = end - start
            whole = self._reassemble((src, dst, ident, nxt), offlg & 0xFFF8, bool(offlg & 1),
                                     frame[start:end], length)
            if whole is None:
                return None
            return 6, src, dst, nxt, whole[0], 0, whole[1]
        return 6, src, dst, nxt, frame, start, end - start

    def _reassemble(self, key: tuple, offset: int, more: bool, body: bytes, length: int):
        if offset == 0 and len(body) < length:
            # Cut short by the snaplen: it can never be reassembled. Wireshark then shows
            # the datagram at its first fragment, from the transport header found there.
            self._fragments[key] = _Datagram(abandoned=True)
            return body, _declared_length(key[3], body, length)
        datagram = self._fragments.setdefault(key, _Datagram())
        if datagram.abandoned:
            if not more:
                del self._fragments[key]
            return None
        datagram.received += length
        if offset == 0:
            datagram.first = body
        if not more:
            datagram.total = offset + length
        if datagram.total is None or datagram.first is None or \
                datagram.received < datagram.total:
            return None
        del self._fragments[key]
        return datagram.first, datagram.total

    # -- transport layer -----------------------------------------------------------------
    @staticmethod
    def _transport(proto: int, buf: bytes, at: int, length: int) -> Packet | None:
        if proto == _TCP_PROTO:
            sport, dport, seq, ack, off_flags, win, _, _ = _TCP.unpack_from(buf, at)
            header, flags = (off_flags >> 12) * 4, off_flags & 0x1FF
            mss = wscale = None
            if flags & SYN and header > 20:
                mss, wscale = _syn_options(buf[at + 20:at + header])
            start = at + header
            return Packet(0, 0.0, "", "", "", "", "tcp", sport, dport, max(length - header, 0),
                          0, flags, seq, ack, win, mss, buf[start:start + KEPT_PAYLOAD],
                          wscale)
        if proto == _UDP_PROTO:
            sport, dport, _, _ = _UDP.unpack_from(buf, at)
            return Packet(0, 0.0, "", "", "", "", "udp", sport, dport, max(length - 8, 0), 0,
                          payload=buf[at + 8:at + 8 + KEPT_PAYLOAD])
        return None

    def _address(self, raw: bytes) -> str:
        text = self._addresses.get(raw)
        if text is None:
            text = socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)
            self._addresses[raw] = text
        return text


@dataclass
class _Datagram:
    received: int = 0
    total: int | None = None
    first: bytes | None = None
    abandoned: bool = False


def _declared_length(proto: int, first: bytes, fallback: int) -> int:
    """A whole UDP datagram's length from its header in the first fragment."""
    if proto == _UDP_PROTO and len(first) >= 8:
        return _UDP.unpack_from(first)[2]
    return fallback


def _version_ethertype(version: int) -> int:
    return {4: ethernet.ETH_TYPE_IP, 6: ethernet.ETH_TYPE_IP6}.get(version, 0)


def _syn_options(opts: bytes) -> tuple[int | None, int | None]:
    mss = wscale = None
    try:
        for kind, data in dpkt.tcp.parse_opts(opts):
            if kind == dpkt.tcp.TCP_OPT_MSS and len(data) == 2:
                mss = int.from_bytes(data, "big")
            elif kind == dpkt.tcp.TCP_OPT_WSCALE and len(data) == 1:
                wscale = min(data[0], 14)
    except (dpkt.UnpackError, IndexError):
        pass
    return mss, wscale
