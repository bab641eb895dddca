"""`labctl trace LAB --follow`: each TCP segment as it is captured, in its connection,
with the relative numbers and Wireshark's analysis (labctl/trace/analysis.py's Analyser.add).

A line that does not fit the width (the terminal's, COLUMNS, 80 in a pipe) wraps between
its values, as the rest of trace does (labctl/textgrid.py), never inside one.
`Live` is the same for the web page: a line per packet, and the connections each chunk
touched, labelled anew so their ladders can be drawn again as they grow."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from labctl.console import printable
from labctl.pcap.decode import Decoder, linktype_name
from labctl.pcap.stream import PcapStream
from labctl.textgrid import paragraph, wrap
from labctl.trace.analysis import Analyser, Conversation, relabel

MIN_WIDTH = 40  # as trace's text (terminal.MIN_WIDTH)
INDENT = 7  # continuation lines start under "conn", past "#12345 "
LIVE_PACKETS = 20_000  # a live view stops analysing beyond this (the trace page has all)


def follow(chunks: Iterable[bytes], names: dict[str, str], port: int | None = None,
           write=print, width: int = 80) -> None:
    """Write a segment's line (UDP: a datagram's) as it comes, until the stream ends: one
    `write` a packet, its lines joined by newlines when it wraps."""
    stream, decoder, analyser = PcapStream(), Decoder(), Analyser()
    names = {ip: printable(name) for ip, name in names.items()}  # as a lab or server sent them
    width = max(width, MIN_WIDTH)
    number = 0
    for chunk in chunks:
        for ns, frame, wirelen in stream.feed(chunk):
            number += 1
            linktype = stream.linktype or 1
            malformed = len(decoder.malformed)
            packet = decoder.decode(number, ns, frame, wirelen, linktype)
            if number == 1 and decoder.unknown_links:
                write("\n".join(paragraph(f"warning: link type {linktype_name(linktype)} is "
                                          "not one labctl decodes: no packet of this "
                                          "capture can be shown", width)))
            if packet is None:
                # A frame whose headers could not be read: said, though its ports are not
                # known (so not under --port, which it may not concern).
                if len(decoder.malformed) > malformed and port is None:
                    why = decoder.malformed[-1][1]
                    write(_fit([f"#{number:<5}", "malformed", "frame,", "not", "shown:",
                                *why.split()], width))
                continue
            if port is not None and port not in (packet.sport, packet.dport):
                continue
            write(_fit(pieces(analyser, packet, names), width))


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
        self.names = {ip: printable(name) for ip, name in names.items()}
        self.limit, self.number = limit, 0
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


def _fit(parts: list[str], width: int) -> str:
    text = " ".join(parts)
    if len(text) <= width:
        return text
    parts = [p.strip() for p in parts]
    # Continuation lines indented, less when a value would not fit after the indent (a
    # long node name): only a value longer than the whole width is ever broken.
    indent = max(0, min(INDENT, width - max(map(len, parts))))
    return "\n".join(wrap(parts, width, indent))


def _who(ip: str, port: int, names: dict[str, str]) -> str:
    name = names.get(ip)
    if name is not None:
        return f"{name}:{port}"
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"  # as trace's tables write it


def describe(analyser: Analyser, packet, names: dict[str, str]
             ) -> tuple[str, Conversation | None]:
    """The packet's line, and its TCP connection (None for UDP)."""
    parts, conv = _pieces(analyser, packet, names)
    return " ".join(parts), conv


def pieces(analyser: Analyser, packet, names: dict[str, str]) -> list[str]:
    """The packet's line as the values it may wrap between (joined by spaces, the line as
    it reads when it fits: padded columns, two spaces between groups)."""
    return _pieces(analyser, packet, names)[0]


def _pieces(analyser: Analyser, packet, names: dict[str, str]
            ) -> tuple[list[str], Conversation | None]:
    segment = analyser.add(packet)
    src = _who(packet.src_ip, packet.sport, names)
    dst = f"→ {_who(packet.dst_ip, packet.dport, names)}"
    if segment is None:
        return [f"#{packet.number:<5}", "udp ", src, f"{dst} ", f"len={packet.length}"], None
    conv = next(c for c in reversed(analyser.conversations)
                if c.segments and c.segments[-1] is segment)
    out = [f"#{packet.number:<5}", f"conn {conv.stream} ", src, f"{dst} ",
           f"{packet.flags_text:<9}", f"seq={segment.rel_seq}"]
    if segment.rel_ack is not None:
        out.append(f"ack={segment.rel_ack}")
    out += [f"win={segment.window}", f"len={packet.length}"]
    if segment.analysis:
        out[-1] += " "
        out.append(f"[{segment.analysis}]")
    if packet.malformed:
        out[-1] += " "
        out += ["[malformed:", *packet.malformed.split()[:-1],
                f"{packet.malformed.split()[-1]}]"]
    return out, conv
