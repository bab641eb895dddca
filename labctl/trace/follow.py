"""`labctl trace LAB --follow`: each TCP segment as it is captured, in its connection,
with the relative numbers and Wireshark's analysis (labctl/trace/analysis.py's Analyser.add).
`Live` is the same for the web page: a line per packet, and the connections each chunk
touched, labelled anew so their ladders can be drawn again as they grow."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from labctl.pcap.decode import Decoder, linktype_name
from labctl.pcap.stream import PcapStream
from labctl.trace.analysis import Analyser, Conversation, relabel

LIVE_PACKETS = 20_000  # a live view stops analysing beyond this (the trace page has all)


def follow(chunks: Iterable[bytes], names: dict[str, str], port: int | None = None,
           write=print) -> None:
    """Print a line per TCP segment (UDP: per datagram) until the stream ends."""
    stream, decoder, analyser = PcapStream(), Decoder(), Analyser()
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


@dataclass
class Batch:
    """What one chunk of a live capture added."""

    lines: list[str] = field(default_factory=list)
    touched: list[Conversation] = field(default_factory=list)  # in stream order
    note: str = ""  # a warning, or why the view stopped


class Live:
    """A growing capture fed chunk by chunk (bounded: LIVE_PACKETS)."""

    def __init__(self, names: dict[str, str], limit: int = LIVE_PACKETS):
        self.stream, self.decoder, self.analyser = PcapStream(), Decoder(), Analyser()
        self.names, self.limit, self.number = names, limit, 0
        self.stopped = False

    def feed(self, chunk: bytes) -> Batch:
        batch, touched = Batch(), {}
        if self.stopped:
            return batch
        for ns, frame, wirelen in self.stream.feed(chunk):
            self.number += 1
            if self.number > self.limit:
                self.stopped = True
                batch.note = (f"more than {self.limit:,} packets: the live view stops here "
                              "(the trace has every one)")
                break
            packet = self.decoder.decode(self.number, ns, frame, wirelen,
                                         self.stream.linktype or 1)
            if self.number == 1 and self.decoder.unknown_links:
                batch.note = (f"link type {linktype_name(self.stream.linktype or 1)} is not "
                              "one labctl decodes: no packet of this capture can be shown")
            if packet is None:
                continue
            text, conv = describe(self.analyser, packet, self.names)
            batch.lines.append(text)
            if conv is not None:
                touched[conv.stream] = conv
        for conv in touched.values():
            relabel(conv)
        batch.touched = [touched[k] for k in sorted(touched)]
        return batch


def _who(ip: str, names: dict[str, str]) -> str:
    return names.get(ip, ip)


def line(analyser: Analyser, packet, names: dict[str, str]) -> str:
    return describe(analyser, packet, names)[0]


def describe(analyser: Analyser, packet, names: dict[str, str]
             ) -> tuple[str, Conversation | None]:
    """The packet's line, and its TCP connection (None for UDP)."""
    segment = analyser.add(packet)
    src = f"{_who(packet.src_ip, names)}:{packet.sport}"
    dst = f"{_who(packet.dst_ip, names)}:{packet.dport}"
    if segment is None:
        return f"#{packet.number:<5} udp  {src} → {dst}  len={packet.length}", None
    conv = next(c for c in reversed(analyser.conversations)
                if c.segments and c.segments[-1] is segment)
    ack = "" if segment.rel_ack is None else f" ack={segment.rel_ack}"
    note = f"  [{segment.analysis}]" if segment.analysis else ""
    if packet.malformed:
        note += f"  [malformed: {packet.malformed}]"
    return (f"#{packet.number:<5} conn {conv.stream}  {src} → {dst}  "
            f"{packet.flags_text:<9} seq={segment.rel_seq}{ack} win={segment.window} "
            f"len={packet.length}{note}"), conv
