"""`labctl trace LAB --follow`: each TCP segment as it is captured, in its connection,
with the relative numbers and Wireshark's analysis (labctl/trace/analysis.py's Analyser.add)."""

from __future__ import annotations

from collections.abc import Iterable

from labctl.console import printable
from labctl.pcap.decode import Decoder, linktype_name
from labctl.pcap.stream import PcapStream
from labctl.trace.analysis import Analyser


def follow(chunks: Iterable[bytes], names: dict[str, str], port: int | None = None,
           write=print) -> None:
    """Print a line per TCP segment (UDP: per datagram) until the stream ends."""
    stream, decoder, analyser = PcapStream(), Decoder(), Analyser()
    names = {ip: printable(name) for ip, name in names.items()}  # as a lab or server sent them
    number = 0
    for chunk in chunks:
        for ns, frame, wirelen in stream.feed(chunk):
            number += 1
            packet = decoder.decode(number, ns, frame, wirelen, stream.linktype or 1)
            if number == 1 and decoder.unknown_links:
                write(f"warning: link type {linktype_name(stream.linktype or 1)} is not one "
                      "labctl decodes: no packet of this capture can be shown")
            if packet is None or (port is not None and port not in (packet.sport,
                                                                    packet.dport)):
                continue
            write(line(analyser, packet, names))


def _who(ip: str, names: dict[str, str]) -> str:
    return names.get(ip, ip)


def line(analyser: Analyser, packet, names: dict[str, str]) -> str:
    segment = analyser.add(packet)
    src = f"{_who(packet.src_ip, names)}:{packet.sport}"
    dst = f"{_who(packet.dst_ip, names)}:{packet.dport}"
    if segment is None:
        return f"#{packet.number:<5} udp  {src} → {dst}  len={packet.length}"
    conv = next(c for c in reversed(analyser.conversations)
                if c.segments and c.segments[-1] is segment)
    ack = "" if segment.rel_ack is None else f" ack={segment.rel_ack}"
    note = f"  [{segment.analysis}]" if segment.analysis else ""
    if packet.malformed:
        note += f"  [malformed: {packet.malformed}]"
    return (f"#{packet.number:<5} conn {conv.stream}  {src} → {dst}  "
            f"{packet.flags_text:<9} seq={segment.rel_seq}{ack} win={segment.window} "
            f"len={packet.length}{note}")
