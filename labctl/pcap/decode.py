"""Decode one captured frame into the fields trace and the checks use.

Link layers: Ethernet (with 802.1Q/802.1ad tags and PPPoE sessions), Linux
cooked captures v1 and v2 (`tcpdump -i any`), raw IP (link types 101, 12, 14,
228, 229: `tcpdump -i tun0`), BSD loopback/null and bare PPPoE. Another link
type is counted by number (`Decoder.unknown_links`), never taken for an empty
capture. Network: IPv4 and IPv6 (extension headers skipped), with IP
fragments reassembled so a UDP datagram counts once, at its last fragment,
as Wireshark shows it. Transport: TCP and UDP.

Tunnels: a packet that carries IP inside IP-in-IP (4), IPv6-in-IP (41), GRE
(47; Ethernet, IP and PPTP's PPP payloads), VXLAN (udp/4789), GENEVE
(udp/6081) or L2TPv2 data (udp/1701) is decoded as the innermost TCP/UDP
packet, as Wireshark lists it, named by its tunnel (`Packet.tunnel`); the
outer link's MACs stay. A tunnel carrying anything else (PPP or L2TP control,
ARP) is shown as itself. A tunnel not decoded here (GRE of another protocol,
L2TPv3, IPsec ESP, more than four levels) is counted (`Decoder.tunnelled`).

A malformed frame never raises: a header cut short or impossible (an IPv4
header under 20 bytes, a TCP data offset under 5) is recorded in
`Decoder.malformed` with its reason and the frame is not analysed; a bad TCP
option (a length that cannot be, past the end of the options) keeps the
segment and notes it in `Packet.malformed`, keeping the options read before
it, as Wireshark does ("option length should be 10").

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
ECE, CWR, AE = dpkt.tcp.TH_ECE, dpkt.tcp.TH_CWR, 0x100  # AE: RFC 3540's NS, AccECN's AE
# Wireshark's names and order (packet-tcp.c: "[SYN, ECE, CWR]"); bit 8 is "AE" since 3.6.
_FLAG_NAMES = ((FIN, "FIN"), (SYN, "SYN"), (RST, "RST"), (PSH, "PSH"), (ACK, "ACK"),
               (URG, "URG"), (ECE, "ECE"), (CWR, "CWR"), (AE, "AE"))

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
LINKTYPE_RAW = 101  # what libpcap writes for DLT_RAW (`tcpdump -i tun0`); 12 and 14 are
# DLT_RAW's values on some systems, and some writers put them in files unmapped
_RAW_LINKS = (LINKTYPE_RAW, pcap.DLT_RAW, pcap.DLT_IPV4, pcap.DLT_IPV6, 12, 14)
LINKTYPE_NAMES = {pcap.DLT_EN10MB: "Ethernet", pcap.DLT_LINUX_SLL: "Linux cooked (SLL)",
                  pcap.DLT_LINUX_SLL2: "Linux cooked v2 (SLL2)", pcap.DLT_RAW: "raw IP",
                  LINKTYPE_RAW: "raw IP", 14: "raw IP",
                  pcap.DLT_IPV4: "raw IPv4", pcap.DLT_IPV6: "raw IPv6",
                  pcap.DLT_NULL: "BSD loopback", pcap.DLT_LOOP: "OpenBSD loopback",
                  pcap.DLT_PPP_ETHER: "PPPoE"}
# Names of the link types not decoded, for saying which one a capture holds (dpkt's DLT_
# constants, which are the pcap LINKTYPE_ numbers from 100 up; first name wins).
_OTHER_LINK_NAMES: dict[int, str] = {}
for _name in sorted(n for n in dir(pcap) if n.startswith("DLT_")):
    _OTHER_LINK_NAMES.setdefault(getattr(pcap, _name), _name[4:])
_OTHER_LINK_NAMES[253] = "NETLINK"  # dpkt gives 253 to Bluetooth's monitor too (254)


def linktype_name(linktype: int) -> str:
    """`raw IP (101)`, `USER0 (147)`: a link type by name and number."""
    name = LINKTYPE_NAMES.get(linktype) or _OTHER_LINK_NAMES.get(linktype) or "unknown"
    return f"{name} ({linktype})"


def decoded(linktype: int) -> bool:
    return linktype in LINKTYPE_NAMES


# IP protocols and UDP ports of the tunnels decoded here, and of those only counted.
_IPIP, _IPV6_IN_IP, _GRE, _ESP, _L2TPV3 = 4, 41, 47, 50, 115
_TUNNEL_PROTOS = {_IPIP, _IPV6_IN_IP, _GRE, _ESP, _L2TPV3}
_VXLAN_PORT, _GENEVE_PORT, _L2TP_PORT = 4789, 6081, 1701
_UDP_TUNNELS = {_VXLAN_PORT: "VXLAN", _GENEVE_PORT: "GENEVE", _L2TP_PORT: "L2TP"}
_TUNNEL_DEPTH = 4
_GRE_PPP = 0x880B  # PPTP's enhanced GRE (version 1)
_NO_TUNNEL = object()  # a UDP "tunnel" port whose datagram holds no IP: the datagram stands
_TCP_OPTION_LENGTHS = {dpkt.tcp.TCP_OPT_MSS: 4, dpkt.tcp.TCP_OPT_WSCALE: 3,
                       dpkt.tcp.TCP_OPT_SACKOK: 2, dpkt.tcp.TCP_OPT_TIMESTAMP: 10}


class Malformed(ValueError):
    """A header that cannot be (Wireshark's "Malformed Packet" or "Bogus ..." marks)."""


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
    malformed: str = ""  # what is malformed in a header still read (a bad TCP option)
    tunnel: str = ""  # the tunnel it came out of ("GRE", "VXLAN", "IPv4 in IPv4", ...)

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
    """Frames in, Packets out; keeps IP fragments until their datagram is whole.

    What was not decoded is counted, so a capture never looks emptier than it is:
    `malformed` (frame number, why), `unknown_links` (link type: frames),
    `tunnelled` (tunnel: packets inside it not analysed).
    """

    def __init__(self) -> None:
        self._fragments: dict[tuple, _Datagram] = {}
        self._addresses: dict[bytes, str] = {}
        self._mac_pairs: dict[bytes, tuple[str, str]] = {}
        self.malformed: list[tuple[int, str]] = []
        self.unknown_links: dict[int, int] = {}
        self.tunnelled: dict[str, int] = {}
        self._layer = ""  # the header being read, to say which one was cut short

    def decode(self, number: int, ns: int, frame: bytes, wirelen: int, linktype: int,
               interface: int = 0) -> Packet | None:
        self._layer = "link-layer"
        try:
            found = self._link(frame, linktype)
            if found is None:
                self.unknown_links[linktype] = self.unknown_links.get(linktype, 0) + 1
                return None
            ethertype, offset, macs = found
            packet = self._network(ethertype, frame, offset, 0, "")
        except Malformed as exc:
            self.malformed.append((number, str(exc)))
            return None
        except (struct.error, IndexError, ValueError):
            # A frame too short for its headers: Wireshark marks it malformed.
            self.malformed.append((number, f"{self._layer} header cut short"))
            return None
        if packet is None:
            return None
        packet.number, packet.time, packet.ns, packet.frame_length = (number, ns / 1e9, ns,
                                                                      wirelen)
        packet.src_mac, packet.dst_mac = macs
        packet.interface, packet.linktype = interface, linktype
        packet.head = frame[:KEPT_HEAD]
        if packet.malformed:
            self.malformed.append((number, packet.malformed))
        return packet

    def _network(self, ethertype: int, buf: bytes, offset: int, depth: int,
                 tunnel: str) -> Packet | None:
        if ethertype == _ETH_IP:
            net = self._ipv4(buf, offset)
        elif ethertype == _ETH_IP6:
            net = self._ipv6(buf, offset)
        else:
            return None
        if net is None:
            return None
        version, src, dst, proto, data, at, length = net
        packet = self._transport(proto, data, at, length, depth)
        if packet is None or packet.src_ip:  # nothing, or what a tunnel in it carried
            return packet
        addresses = self._addresses
        packet.src_ip = addresses.get(src) or self._address(src)
        packet.dst_ip = addresses.get(dst) or self._address(dst)
        packet.ip_version, packet.tunnel = version, tunnel
        return packet

    def _macs(self, raw: bytes) -> tuple[str, str]:
        macs = self._mac_pairs.get(raw)
        if macs is None:
            macs = self._mac_pairs[raw] = (raw[6:12].hex(":"), raw[0:6].hex(":"))
        return macs

    # -- link layer: (ethertype, offset of the network header, (src MAC, dst MAC)) -----
    def _link(self, frame: bytes, linktype: int) -> tuple[int, int, tuple[str, str]] | None:
        if linktype == _EN10MB:
            self._layer = "Ethernet"
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
            self._layer = "Linux cooked"
            hlen = min(_U16.unpack_from(frame, 4)[0], 8)
            return _U16.unpack_from(frame, 14)[0], _SLL_LEN, (frame[6:6 + hlen].hex(":"), "")
        if linktype == pcap.DLT_LINUX_SLL2:
            self._layer = "Linux cooked v2"
            hlen = min(frame[11], 8)
            return _U16.unpack_from(frame, 0)[0], _SLL2_LEN, (frame[12:12 + hlen].hex(":"), "")
        if linktype in _RAW_LINKS:
            self._layer = "IP"
            return _version_ethertype(frame[0] >> 4), 0, _NO_MACS
        if linktype in (pcap.DLT_NULL, pcap.DLT_LOOP):
            self._layer = "loopback"
            raw = frame[:4]
            if len(raw) < 4:
                raise IndexError
            # DLT_NULL's family is in the capturing host's byte order; DLT_LOOP's is big-endian.
            family = int.from_bytes(raw, "big" if linktype == pcap.DLT_LOOP or raw[0] == 0
                                    else "little")
            ethertype = (ethernet.ETH_TYPE_IP if family == socket.AF_INET else
                         ethernet.ETH_TYPE_IP6 if family in (10, 24, 28, 30) else 0)
            return ethertype, 4, _NO_MACS
        if linktype == pcap.DLT_PPP_ETHER:
            self._layer = "PPPoE"
            ethertype, offset = self._pppoe(frame, 0)
            return ethertype, offset, _NO_MACS
        return None

    @staticmethod
    def _pppoe(frame: bytes, offset: int) -> tuple[int, int]:
        protocol = _U16.unpack_from(frame, offset + _PPPOE_LEN)[0]
        return _PPP_TO_ETHERTYPE.get(protocol, 0), offset + _PPPOE_LEN + 2

    # -- network layer: (version, src, dst, protocol, bytes, transport offset, length) ----
    def _ipv4(self, frame: bytes, offset: int):
        self._layer = "IPv4"
        v_hl, _, total, ident, off, _, proto, _, src, dst = _IP4.unpack_from(frame, offset)
        header = (v_hl & 0x0F) * 4
        if v_hl >> 4 != 4 or header < 20:
            raise Malformed(f"bogus IPv4 header: version {v_hl >> 4}, header length "
                            f"{header}; must be 4 and at least 20")
        if total and total < header:
            raise Malformed(f"bogus IPv4 total length {total}, under its header's {header}")
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
        self._layer = "IPv6"
        flow, plen, nxt, _, src, dst = _IP6.unpack_from(frame, offset)
        if flow >> 28 != 6:
            raise Malformed(f"bogus IPv6 version {flow >> 28}, must be 6")
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
    def _transport(self, proto: int, buf: bytes, at: int, length: int,
                   depth: int) -> Packet | None:
        if proto == _TCP_PROTO:
            self._layer = "TCP"
            sport, dport, seq, ack, off_flags, win, _, _ = _TCP.unpack_from(buf, at)
            header, flags = (off_flags >> 12) * 4, off_flags & 0x1FF
            if header < 20 or header > length:
                raise Malformed(f"bogus TCP header length {header}, must be at least 20"
                                + ("" if header < 20 else f" and at most the segment's "
                                                          f"{length} bytes"))
            mss = wscale = None
            problem = ""
            if header > 20:
                opts = buf[at + 20:at + header]
                # Most segments carry NOP, NOP, timestamps: nothing to check or keep.
                if flags & SYN or header != 32 or opts[:4] != _NOP_NOP_TIMESTAMP:
                    found_mss, found_wscale, problem = _tcp_options(opts)
                    if flags & SYN:
                        mss, wscale = found_mss, found_wscale
            start = at + header
            packet = Packet(0, 0.0, "", "", "", "", "tcp", sport, dport, length - header,
                            0, flags, seq, ack, win, mss, buf[start:start + KEPT_PAYLOAD],
                            wscale)
            if problem:
                packet.malformed = problem
            return packet
        if proto == _UDP_PROTO:
            self._layer = "UDP"
            sport, dport, _, _ = _UDP.unpack_from(buf, at)
            # As Wireshark, the lower port names the protocol.
            kind = _UDP_TUNNELS.get(sport if sport < dport else dport)
            if kind is not None:
                inner = self._udp_tunnel(kind, buf, at + 8, depth)
                if inner is not _NO_TUNNEL:
                    return inner
            return Packet(0, 0.0, "", "", "", "", "udp", sport, dport, max(length - 8, 0), 0,
                          payload=buf[at + 8:at + 8 + KEPT_PAYLOAD])
        if proto in _TUNNEL_PROTOS:
            return self._ip_tunnel(proto, buf, at, depth)
        return None

    # -- tunnels: the packet inside, decoded as the outer one was -------------------------
    def _not_analysed(self, kind: str):
        self.tunnelled[kind] = self.tunnelled.get(kind, 0) + 1
        return None

    def _ip_tunnel(self, proto: int, buf: bytes, at: int, depth: int) -> Packet | None:
        if proto == _ESP:
            return self._not_analysed("IPsec ESP (encrypted)")
        if proto == _L2TPV3:
            return self._not_analysed("L2TPv3")
        if depth >= _TUNNEL_DEPTH:
            return self._not_analysed(f"tunnels nested deeper than {_TUNNEL_DEPTH}")
        if proto == _IPIP:
            return self._network(_ETH_IP, buf, at, depth + 1, "IP in IP")
        if proto == _IPV6_IN_IP:
            return self._network(_ETH_IP6, buf, at, depth + 1, "IPv6 in IP")
        self._layer = "GRE"
        flags, ptype = struct.unpack_from(">HH", buf, at)
        offset, version = at + 4, flags & 0x7
        if version == 0:
            if flags & dpkt.gre.GRE_RP:
                return self._not_analysed("GRE with source routing")
            offset += 4 * (bool(flags & dpkt.gre.GRE_CP) + bool(flags & dpkt.gre.GRE_KP)
                           + bool(flags & dpkt.gre.GRE_SP))
        elif version == 1:  # PPTP: payload length and call ID, then sequence and ack
            offset += 4 + 4 * (bool(flags & dpkt.gre.GRE_SP) + bool(flags & dpkt.gre.GRE_AP))
        else:
            return self._not_analysed(f"GRE version {version}")
        if ptype in (_ETH_IP, _ETH_IP6):
            return self._network(ptype, buf, offset, depth + 1, "GRE")
        if ptype == ethernet.ETH_TYPE_TEB:
            return self._ethernet_inside(buf[offset:], depth, "GRE")
        if ptype == _GRE_PPP:
            if offset == len(buf):
                return None  # PPTP's bare acknowledgement
            ethertype, offset = _ppp(buf, offset)
            return self._network(ethertype, buf, offset, depth + 1, "GRE (PPTP)")
        return self._not_analysed(f"GRE carrying 0x{ptype:04x}")

    def _udp_tunnel(self, kind: str, buf: bytes, start: int, depth: int):
        """The tunnel's packet; _NO_TUNNEL when it carries no IP (the datagram stands)."""
        if depth >= _TUNNEL_DEPTH:
            self._not_analysed(f"tunnels nested deeper than {_TUNNEL_DEPTH}")
            return _NO_TUNNEL
        self._layer = kind
        if kind == "VXLAN":
            return self._ethernet_inside(buf[start + 8:], depth, kind, _NO_TUNNEL)
        if kind == "GENEVE":
            options, ptype = (buf[start] & 0x3F) * 4, _U16.unpack_from(buf, start + 2)[0]
            offset = start + 8 + options
            if ptype == ethernet.ETH_TYPE_TEB:
                return self._ethernet_inside(buf[offset:], depth, kind, _NO_TUNNEL)
            if ptype in (_ETH_IP, _ETH_IP6):
                return self._network(ptype, buf, offset, depth + 1, kind)
            return _NO_TUNNEL
        flags = _U16.unpack_from(buf, start)[0]  # L2TP
        if flags & 0xF != 2:
            self._not_analysed(f"L2TP version {flags & 0xF}")
            return _NO_TUNNEL
        if flags & 0x8000:
            return _NO_TUNNEL  # a control message
        offset = start + 2 + (2 if flags & 0x4000 else 0) + 4 + (4 if flags & 0x0800 else 0)
        if flags & 0x0200:
            offset += 2 + _U16.unpack_from(buf, offset)[0]
        ethertype, offset = _ppp(buf, offset)
        if ethertype not in (_ETH_IP, _ETH_IP6):
            return _NO_TUNNEL  # PPP's own negotiation
        return self._network(ethertype, buf, offset, depth + 1, "L2TP")

    def _ethernet_inside(self, inner: bytes, depth: int, kind: str, other=None):
        """An Ethernet frame a tunnel carries: its IP packet, else `other`."""
        ethertype, offset, _ = self._link(inner, _EN10MB)
        if ethertype not in (_ETH_IP, _ETH_IP6):
            return other
        return self._network(ethertype, inner, offset, depth + 1, kind)

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


def _ppp(buf: bytes, offset: int) -> tuple[int, int]:
    """(ethertype of a PPP frame's payload, its offset): address and control (ff 03) and
    a compressed protocol field are optional."""
    if buf[offset:offset + 2] == b"\xff\x03":
        offset += 2
    if buf[offset] & 1:
        return _PPP_TO_ETHERTYPE.get(buf[offset], 0), offset + 1
    return _PPP_TO_ETHERTYPE.get(_U16.unpack_from(buf, offset)[0], 0), offset + 2


_NOP_NOP_TIMESTAMP = bytes([dpkt.tcp.TCP_OPT_NOP, dpkt.tcp.TCP_OPT_NOP,
                            dpkt.tcp.TCP_OPT_TIMESTAMP, 10])
_OPTION_NAMES = {dpkt.tcp.TCP_OPT_MSS: "maximum segment size",
                 dpkt.tcp.TCP_OPT_WSCALE: "window scale",
                 dpkt.tcp.TCP_OPT_SACKOK: "SACK permitted",
                 dpkt.tcp.TCP_OPT_TIMESTAMP: "timestamps"}


def _tcp_options(opts: bytes) -> tuple[int | None, int | None, str]:
    """(MSS, window scale shift, what is malformed or ""), read as Wireshark reads them:
    an option of the wrong length is noted and skipped by the length it gives; one whose
    length byte is missing, under 2 or past the end stops the reading."""
    mss = wscale = None
    problem = ""
    at, end = 0, len(opts)
    while at < end:
        kind = opts[at]
        if kind == dpkt.tcp.TCP_OPT_EOL:
            break
        if kind == dpkt.tcp.TCP_OPT_NOP:
            at += 1
            continue
        name = _OPTION_NAMES.get(kind, f"kind {kind}")
        if at + 1 == end:
            return mss, wscale, problem or f"TCP option {name}: length byte past the end " \
                                           "of the options"
        size = opts[at + 1]
        if size < 2 or at + size > end:
            return mss, wscale, problem or f"TCP option {name}: length {size} " + (
                "is invalid" if size < 2 else "goes past the end of the options")
        expected = _TCP_OPTION_LENGTHS.get(kind)
        if expected is not None and size != expected:
            problem = problem or f"TCP option {name}: length {size}, should be {expected}"
        elif kind == dpkt.tcp.TCP_OPT_MSS:
            mss = opts[at + 2] << 8 | opts[at + 3]
        elif kind == dpkt.tcp.TCP_OPT_WSCALE:
            wscale = min(opts[at + 2], 14)
        at += size
    return mss, wscale, problem
