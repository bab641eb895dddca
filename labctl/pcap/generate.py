"""Craft small pcaps with dpkt: for tests, benchmarks and worked examples.

`Wire` plays two hosts and keeps their sequence numbers, so a conversation
reads like the course's walk-throughs (client ISN x=100, server ISN y=500).
It frames them in any link type trace reads (Ethernet, VLAN, PPPoE, Linux
cooked v1/v2, raw IP, loopback), over IPv4 or IPv6, with dpkt's classes, and
optionally inside a tunnel (`tunnel=`: one of TUNNELS) between two routers.
"""

from __future__ import annotations

import io
import socket
import struct

import dpkt

from labctl.pcap.decode import ACK, FIN, PSH, RST, SYN


def _mac(text: str) -> bytes:
    return bytes(int(b, 16) for b in text.split(":"))


class Wire:
    def __init__(self, client=("10.0.0.3", 35310, "bc:35:db:cf:1b:03"),
                 server=("10.0.0.2", 80, "bc:f2:b8:57:86:02"), client_isn=100, server_isn=500,
                 link: str = "ethernet", tunnel: str = ""):
        self.hosts = {"c": client, "s": server}
        self.link = link
        self.tunnel = tunnel
        self.seq = {"c": client_isn, "s": server_isn}
        self.frames: list[tuple[float, bytes]] = []
        self.time = 1_700_000_000.0

    def tcp(self, side: str, flags: int, data: bytes = b"", ack: int | None = None,
            seq: int | None = None, mss: int | None = None, window: int = 64240,
            advance: bool = True, wscale: int | None = None) -> None:
        src, dst = self.hosts[side], self.hosts["s" if side == "c" else "c"]
        opts = b"" if mss is None else bytes([dpkt.tcp.TCP_OPT_MSS, 4]) + mss.to_bytes(2, "big")
        if wscale is not None:
            opts += bytes([dpkt.tcp.TCP_OPT_NOP, dpkt.tcp.TCP_OPT_WSCALE, 3, wscale])
        segment = dpkt.tcp.TCP(sport=src[1], dport=dst[1],
                               seq=(self.seq[side] if seq is None else seq) % 2**32,
                               ack=(ack or 0) % 2**32, flags=flags, win=window, opts=opts,
                               data=data)
        segment.off = 5 + len(opts) // 4
        self._emit(src, dst, dpkt.ip.IP_PROTO_TCP, segment)
        if advance and seq is None:
            self.seq[side] = (self.seq[side] + len(data)
                              + (1 if flags & (SYN | FIN) else 0)) % 2**32

    def udp(self, side: str, data: bytes, fragment: int = 0) -> None:
        """A datagram; with `fragment`, IPv4 fragments of that many payload bytes each."""
        src, dst = self.hosts[side], self.hosts["s" if side == "c" else "c"]
        datagram = dpkt.udp.UDP(sport=src[1], dport=dst[1], data=data)
        datagram.ulen = len(bytes(datagram))
        if not fragment:
            self._emit(src, dst, dpkt.ip.IP_PROTO_UDP, datagram)
            return
        whole, ident = bytes(datagram), len(self.frames) + 1
        for start in range(0, len(whole), fragment):
            more = start + fragment < len(whole)
            off = (start // 8) | (dpkt.ip.IP_MF if more else 0)
            self._emit(src, dst, dpkt.ip.IP_PROTO_UDP, whole[start:start + fragment],
                       ident=ident, off=off)

    def _emit(self, src, dst, proto, payload, ident: int = 0, off: int = 0) -> None:
        if ":" in src[0]:
            ip = dpkt.ip6.IP6(src=socket.inet_pton(socket.AF_INET6, src[0]),
                              dst=socket.inet_pton(socket.AF_INET6, dst[0]), nxt=proto,
                              hlim=64, data=payload)
            ip.plen = len(bytes(payload))
            ethertype = dpkt.ethernet.ETH_TYPE_IP6
        else:
            ip = dpkt.ip.IP(src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]), p=proto,
                            ttl=64, data=payload, id=ident)
            ip._flags_offset = off  # MF flag and offset in 8-byte units, as on the wire
            ip.len = len(bytes(ip))
            ethertype = dpkt.ethernet.ETH_TYPE_IP
        self.time += 0.001
        packet = bytes(ip)
        if self.tunnel:
            ethertype, packet = self._encapsulate(src, dst, ethertype, packet)
        self.frames.append((self.time, self._frame(src, dst, ethertype, packet)))

    def _encapsulate(self, src, dst, ethertype: int, ip: bytes) -> tuple[int, bytes]:
        """The packet inside an IPv4 packet between two routers (192.0.2.1 and .2)."""
        inner_ethernet = bytes(dpkt.ethernet.Ethernet(src=_mac(src[2]), dst=_mac(dst[2]),
                                                      type=ethertype)) + ip
        match self.tunnel:
            case "ipip":
                proto = 4 if ethertype == dpkt.ethernet.ETH_TYPE_IP else 41
                payload = ip
            case "gre":  # with a key, so the optional fields are skipped as they must be
                proto = dpkt.ip.IP_PROTO_GRE
                payload = struct.pack(">HHI", dpkt.gre.GRE_KP, ethertype, 7) + ip
            case "gre-ethernet":
                proto = dpkt.ip.IP_PROTO_GRE
                payload = struct.pack(">HH", 0, dpkt.ethernet.ETH_TYPE_TEB) + inner_ethernet
            case "vxlan":
                proto = dpkt.ip.IP_PROTO_UDP
                payload = _udp(54321, 4789, struct.pack(">II", 0x08000000, 42 << 8)
                               + inner_ethernet)
            case "geneve":
                proto = dpkt.ip.IP_PROTO_UDP
                payload = _udp(54321, 6081, struct.pack(">HHI", 0, dpkt.ethernet.ETH_TYPE_TEB,
                                                        42 << 8) + inner_ethernet)
            case "l2tp":  # L2TPv2 data, PPP with address and control
                ppp = 0x0021 if ethertype == dpkt.ethernet.ETH_TYPE_IP else 0x0057
                proto = dpkt.ip.IP_PROTO_UDP
                payload = _udp(1701, 1701, struct.pack(">HHHHH", 0x0002, 1, 2, 0xFF03, ppp)
                               + ip)
            case _:
                raise ValueError(f"unknown tunnel {self.tunnel}")
        outer = dpkt.ip.IP(src=socket.inet_aton("192.0.2.1"), dst=socket.inet_aton("192.0.2.2"),
                           p=proto, ttl=64, data=payload)
        outer.len = len(bytes(outer))
        return dpkt.ethernet.ETH_TYPE_IP, bytes(outer)

    def _frame(self, src, dst, ethertype: int, ip: bytes) -> bytes:
        smac, dmac = _mac(src[2]), _mac(dst[2])
        match self.link:
            case "ethernet":
                return bytes(dpkt.ethernet.Ethernet(src=smac, dst=dmac, type=ethertype)) + ip
            case "vlan":
                tag = dpkt.ethernet.VLANtag8021Q(id=10, type=ethertype)
                return bytes(dpkt.ethernet.Ethernet(src=smac, dst=dmac,
                                                    type=dpkt.ethernet.ETH_TYPE_8021Q)) \
                    + bytes(tag) + ip
            case "pppoe" | "ppp_ether":
                ppp = 0x0021 if ethertype == dpkt.ethernet.ETH_TYPE_IP else 0x0057
                session = bytes(dpkt.pppoe.PPPoE(code=0, session=1, len=len(ip) + 2)) \
                    + ppp.to_bytes(2, "big") + ip
                if self.link == "ppp_ether":
                    return session
                return bytes(dpkt.ethernet.Ethernet(src=smac, dst=dmac,
                                                    type=dpkt.ethernet.ETH_TYPE_PPPoE)) + session
            case "sll":
                return bytes(dpkt.sll.SLL(type=4, hrd=1, hlen=6, hdr=smac + b"\0\0",
                                          ethtype=ethertype)) + ip
            case "sll2":
                return bytes(dpkt.sll2.SLL2(ethtype=ethertype, intindex=2, hrd=1, type=4,
                                            hlen=6, hdr=smac + b"\0\0")) + ip
            case "raw" | "tun":
                return ip
            case "null":  # family in the capturing host's byte order (little-endian here)
                family = 2 if ethertype == dpkt.ethernet.ETH_TYPE_IP else 30
                return family.to_bytes(4, "little") + ip
        raise ValueError(f"unknown link {self.link}")

    def handshake(self, mss: int = 1460) -> None:
        self.tcp("c", SYN, mss=mss)
        self.tcp("s", SYN | ACK, ack=self.seq["c"], mss=mss)
        self.tcp("c", ACK, ack=self.seq["s"])

    @property
    def linktype(self) -> int:
        return LINKTYPES[self.link]

    def pcap(self, nano: bool = False) -> bytes:
        out = io.BytesIO()
        writer = dpkt.pcap.Writer(out, linktype=self.linktype, nano=nano)
        for ts, frame in self.frames:
            writer.writepkt(frame, ts=ts)
        return out.getvalue()


def _udp(sport: int, dport: int, data: bytes) -> bytes:
    datagram = dpkt.udp.UDP(sport=sport, dport=dport, data=data)
    datagram.ulen = len(bytes(datagram))
    return bytes(datagram)


TUNNELS = ("ipip", "gre", "gre-ethernet", "vxlan", "geneve", "l2tp")
LINKTYPES = {"ethernet": dpkt.pcap.DLT_EN10MB, "vlan": dpkt.pcap.DLT_EN10MB,
             "pppoe": dpkt.pcap.DLT_EN10MB, "ppp_ether": dpkt.pcap.DLT_PPP_ETHER,
             "sll": dpkt.pcap.DLT_LINUX_SLL, "sll2": dpkt.pcap.DLT_LINUX_SLL2,
             "raw": dpkt.pcap.DLT_RAW, "null": dpkt.pcap.DLT_NULL,
             "tun": 101}  # LINKTYPE_RAW, what `tcpdump -i tun0` writes


__all__ = ["Wire", "ACK", "FIN", "PSH", "RST", "SYN", "TUNNELS"]
