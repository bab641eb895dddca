"""Craft small pcaps with dpkt: for tests, benchmarks and worked examples.

`Wire` plays two hosts and keeps their sequence numbers, so a conversation
reads like the course's walk-throughs (client ISN x=100, server ISN y=500).
"""

from __future__ import annotations

import io
import socket

import dpkt

from labctl.analysis import ACK, FIN, PSH, RST, SYN


def _mac(text: str) -> bytes:
    return bytes(int(b, 16) for b in text.split(":"))


class Wire:
    def __init__(self, client=("10.0.0.3", 35310, "bc:35:db:cf:1b:03"),
                 server=("10.0.0.2", 80, "bc:f2:b8:57:86:02"), client_isn=100, server_isn=500):
        self.hosts = {"c": client, "s": server}
        self.seq = {"c": client_isn, "s": server_isn}
        self.frames: list[tuple[float, bytes]] = []
        self.time = 1_700_000_000.0

    def tcp(self, side: str, flags: int, data: bytes = b"", ack: int | None = None,
            seq: int | None = None, mss: int | None = None, window: int = 64240,
            advance: bool = True) -> None:
        src, dst = self.hosts[side], self.hosts["s" if side == "c" else "c"]
        opts = b"" if mss is None else bytes([dpkt.tcp.TCP_OPT_MSS, 4]) + mss.to_bytes(2, "big")
        segment = dpkt.tcp.TCP(sport=src[1], dport=dst[1], seq=self.seq[side] if seq is None
                               else seq, ack=ack or 0, flags=flags, win=window, opts=opts,
                               data=data)
        segment.off = 5 + len(opts) // 4
        self._emit(src, dst, dpkt.ip.IP_PROTO_TCP, segment)
        if advance and seq is None:
            self.seq[side] += len(data) + (1 if flags & (SYN | FIN) else 0)

    def udp(self, side: str, data: bytes) -> None:
        src, dst = self.hosts[side], self.hosts["s" if side == "c" else "c"]
        self._emit(src, dst, dpkt.ip.IP_PROTO_UDP,
                   dpkt.udp.UDP(sport=src[1], dport=dst[1], data=data))

    def _emit(self, src, dst, proto, payload) -> None:
        ip = dpkt.ip.IP(src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]), p=proto,
                        ttl=64, data=payload)
        ip.len = len(bytes(ip))
        eth = dpkt.ethernet.Ethernet(src=_mac(src[2]), dst=_mac(dst[2]),
                                     type=dpkt.ethernet.ETH_TYPE_IP, data=ip)
        self.time += 0.001
        self.frames.append((self.time, bytes(eth)))

    def handshake(self, mss: int = 1460) -> None:
        self.tcp("c", SYN, mss=mss)
        self.tcp("s", SYN | ACK, ack=self.seq["c"], mss=mss)
        self.tcp("c", ACK, ack=self.seq["s"])

    def pcap(self) -> bytes:
        out = io.BytesIO()
        writer = dpkt.pcap.Writer(out, linktype=dpkt.pcap.DLT_EN10MB)
        for ts, frame in self.frames:
            writer.writepkt(frame, ts=ts)
        return out.getvalue()


__all__ = ["Wire", "ACK", "FIN", "PSH", "RST", "SYN"]
