#!/usr/bin/env python3
"""Time the pcap analysis of a 10,000-packet capture.

Usage: python bench/bench_analysis.py [--packets 10000] [--runs 5]
The capture is crafted with labctl.pcap.generate: 100 connections, each a
handshake, request/response data with ACKs, and a FIN teardown.
"""

from __future__ import annotations

import argparse
import statistics
import time

from labctl.pcap.generate import ACK, FIN, PSH, Wire
from labctl.trace.analysis import analyse


def capture(packets: int) -> bytes:
    w = Wire()
    per_conn = 100
    for c in range(packets // per_conn):
        w.hosts["c"] = ("10.0.0.3", 20000 + c, "bc:35:db:cf:1b:03")
        w.seq = {"c": 1000 * c, "s": 5000 * c}
        w.handshake()
        for _ in range((per_conn - 7) // 2):
            w.tcp("c", PSH | ACK, b"x" * 100, ack=w.seq["s"])
            w.tcp("s", ACK, ack=w.seq["c"])
        w.tcp("c", FIN | ACK, ack=w.seq["s"])
        w.tcp("s", FIN | ACK, ack=w.seq["c"])
        w.tcp("c", ACK, ack=w.seq["s"])
        while len(w.frames) % per_conn:
            w.tcp("s", ACK, ack=w.seq["c"])
    return w.pcap()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    data = capture(args.packets)
    samples = []
    for _ in range(args.runs):
        start = time.perf_counter()
        result = analyse(data)
        samples.append(time.perf_counter() - start)
    print(f"analyse {len(result.packets)} packets, {len(result.conversations)} conversations: "
          f"median {statistics.median(samples):.3f} s  min {min(samples):.3f} s  "
          f"max {max(samples):.3f} s  (n={args.runs})")


if __name__ == "__main__":
    main()
