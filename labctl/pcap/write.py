"""Write captures with dpkt's writers: pcap for one link type, pcapng for several.

pcapng keeps which interface each packet came from, each with its own link
type and name, so a merge of several nodes' captures stays faithful
(`tcpdump -i any` frames are Linux cooked, not Ethernet).
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from dpkt import pcap, pcapng

from labctl.pcap.read import Interface

# (time in nanoseconds, interface index, frame bytes, original length), as pcapread gives

Record = tuple[float, int, bytes, int]


def pcap_bytes(linktype: int, records: Iterable[Record], snaplen: int = 262_144) -> bytes:
    out = io.BytesIO()
    writer = pcap.Writer(out, snaplen=snaplen, linktype=linktype)
    for ns, _, frame, _ in records:
        writer.writepkt(frame, ts=ns / 1e9)
    return out.getvalue()


def pcapng_bytes(interfaces: list[Interface], records: Iterable[Record]) -> bytes:
    """One section, one IDB per interface (microsecond timestamps, as dpkt writes them)."""
    out = io.BytesIO()
    idbs = []
    for iface in interfaces:
        opts = []
        if iface.name:
            opts.append(pcapng.PcapngOptionLE(code=pcapng.PCAPNG_OPT_IF_NAME,
                                              data=iface.name.encode()))
        opts.append(pcapng.PcapngOptionLE(code=pcapng.PCAPNG_OPT_ENDOFOPT))
        idbs.append(pcapng.InterfaceDescriptionBlockLE(
            linktype=iface.linktype, snaplen=iface.snaplen or 262_144, opts=opts))
    writer = pcapng.Writer(out, shb=pcapng.SectionHeaderBlockLE(), idb=idbs)
    for ns, index, frame, wirelen in records:
        micros = ns // 1000
        writer.writepkt(pcapng.EnhancedPacketBlockLE(
            iface_id=index, ts_high=micros >> 32, ts_low=micros & 0xFFFFFFFF,
            caplen=len(frame), pkt_len=max(wirelen, len(frame)), pkt_data=frame))
    return out.getvalue()
