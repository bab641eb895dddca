"""Captures more than one test module needs, made with labctl.pcap.generate."""

from __future__ import annotations

import dpkt

from labctl.pcap.generate import ACK, SYN, Wire


def malformed_timestamp_syn() -> Wire:
    """The issue's capture: Linux's SYN options with the timestamp's length 13, not 10
    (dpkt's option parser gives up there), then SYN/ACK and ACK."""
    w = Wire()
    w.tcp("c", SYN, mss=1460)
    ts, frame = w.frames[0]
    eth = dpkt.ethernet.Ethernet(frame)
    ip, tcp = eth.data, eth.data.data
    tcp.opts = bytes.fromhex("020405b4040208") + bytes([13]) + bytes(8) + bytes.fromhex(
        "01030307")
    tcp.off, ip.sum, tcp.sum = 5 + len(tcp.opts) // 4, 0, 0
    ip.len = len(bytes(ip))
    w.frames[0] = (ts, bytes(eth))
    w.tcp("s", SYN | ACK, ack=w.seq["c"], mss=1460)
    w.tcp("c", ACK, ack=w.seq["s"])
    return w
