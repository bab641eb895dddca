"""`labctl trace LAB --follow`: each TCP segment as it is captured, in its connection,
with the relative numbers and Wireshark's analysis (labctl/trace/analysis.py's Analyser.add).

A line that does not fit the width (the terminal's, COLUMNS, 80 in a pipe) wraps between
its values, as the rest of trace does (labctl/textgrid.py), never inside one."""

from __future__ import annotations

from collections.abc import Iterable

from labctl.console import printable
from labctl.pcap.decode import Decoder, linktype_name
from labctl.pcap.stream import PcapStream
from labctl.textgrid import paragraph, wrap
from labctl.trace.analysis import Analyser

MIN_WIDTH = 40  # as trace's text (terminal.MIN_WIDTH)
INDENT = 7  # continuation lines start under "conn", past "#12345 "


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


def pieces(analyser: Analyser, packet, names: dict[str, str]) -> list[str]:
    """The packet's line as the values it may wrap between (joined by spaces, the line as
    it reads when it fits: padded columns, two spaces between groups)."""
    segment = analyser.add(packet)
    src = _who(packet.src_ip, packet.sport, names)
    dst = f"→ {_who(packet.dst_ip, packet.dport, names)}"
    if segment is None:
        return [f"#{packet.number:<5}", "udp ", src, f"{dst} ", f"len={packet.length}"]
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
    return out
