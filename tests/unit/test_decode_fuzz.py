"""No capture makes `labctl trace` fail: a seeded fuzz over frames and files (issue 22).

Random frames on every link type trace reads (and one it does not), real frames of
every link type and tunnel mutated byte by byte, and whole pcap and pcapng files
mutated, all go through the reader, the decoder, the analyser and the renderings
(text, JSON, SVG). The only exception allowed is the ValueError that `trace` reports
as bad input (exit 2: not a capture, a pcapng version or link type it does not read);
anything else would be an internal error (exit 3). Derandomized: the same examples
every run, a few seconds in all.
"""

from __future__ import annotations

import io
import json

import dpkt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from sample_captures import malformed_timestamp_syn

from labctl.pcap.generate import ACK, FIN, LINKTYPES, PSH, SYN, TUNNELS, Wire
from labctl.pcap.read import Interface
from labctl.pcap.write import pcap_bytes, pcapng_bytes
from labctl.trace import terminal as trace_view
from labctl.trace.analysis import Analysis, analyse
from labctl.trace.views import (
    Names,
    conversation_views,
    headline,
    ladder_text,
    ladders_svg,
    packet_rows,
    summary_rows,
    to_data,
)

# Every link type decoded, under each of its numbers, and one that is not (USER0).
LINKS = sorted(set(LINKTYPES.values()) | {dpkt.pcap.DLT_IPV4, dpkt.pcap.DLT_IPV6,
                                          dpkt.pcap.DLT_LOOP, 14, 147})
FUZZ = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _conversation(link: str, tunnel: str = "", v6: bool = False) -> Wire:
    client, server = (("fd00::3", 35310, "bc:35:db:cf:1b:03"), ("fd00::2", 80,
                                                                 "bc:f2:b8:57:86:02")) \
        if v6 else (("10.0.0.3", 35310, "bc:35:db:cf:1b:03"), ("10.0.0.2", 80,
                                                                 "bc:f2:b8:57:86:02"))
    w = Wire(client=client, server=server, link=link, tunnel=tunnel)
    w.tcp("c", SYN, mss=1460, wscale=7)
    w.tcp("s", SYN | ACK, ack=w.seq["c"], mss=1400, wscale=9)
    w.tcp("c", PSH | ACK, b"x" * 40, ack=w.seq["s"])
    w.udp("c", b"u" * 60, fragment=0 if v6 or tunnel else 32)
    w.tcp("s", FIN | ACK, ack=w.seq["c"])
    return w


SEEDS = [(LINKTYPES[link], [f for _, f in _conversation(link, "", v6).frames])
         for link in sorted(LINKTYPES) for v6 in (False, True)]
SEEDS += [(dpkt.pcap.DLT_EN10MB, [f for _, f in _conversation("ethernet", t, v6).frames])
          for t in TUNNELS for v6 in (False, True)]


_SHOWN = {"count": 0}
RICH_EVERY = 12  # rich lays out a detailed trace in ~40 ms: the text's content is made for
# every example (rows, ladders, layer tables), its layout on a console for one in 12


def render(analysis: Analysis) -> None:
    """Every rendering trace makes of an analysis (text, JSON, SVG), thrown away."""
    names = Names({})
    json.dumps(to_data(analysis, names))
    summary_rows(analysis.conversations, names)
    for conv in analysis.conversations:
        headline(conv, names)
        packet_rows(conv, names)
        ladder_text(conv, names)
        conversation_views(conv, {}, "", {}, "", every_packet=True)
    ladders_svg(analysis.conversations, names, tables=True)
    assert all(isinstance(line, str) for line in analysis.notes + analysis.warnings)
    _SHOWN["count"] += 1
    if _SHOWN["count"] % RICH_EVERY == 1:
        out = Console(file=io.StringIO(), width=160)
        trace_view.show(out, analysis, names, "fuzz", analysis.conversations, detail=True,
                        every_packet=True)


def trace(data: bytes) -> None:
    """As `labctl trace --pcap` reads and shows a file."""
    try:
        analysis = analyse(data)
        analysis.check_readable()
    except ValueError:
        return  # said as bad input (exit 2), not an internal error
    render(analysis)


def mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Each edit: (where, what, byte): overwrite, delete up to 8 bytes, insert, or cut."""
    out = bytearray(data)
    for where, what, byte in edits:
        at = where % (len(out) + 1)
        if what == 0 and at < len(out):
            out[at] = byte
        elif what == 1:
            del out[at:at + 1 + byte % 8]
        elif what == 2:
            out[at:at] = bytes([byte]) * (1 + byte % 3)
        elif what == 3:
            del out[at:]
    return bytes(out)


EDITS = st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 3), st.integers(0, 255)),
                 min_size=1, max_size=6)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(LINKS) - 1), st.binary(max_size=96)),
                min_size=1, max_size=8))
def test_random_frames_on_every_link_type(frames: list[tuple[int, bytes]]) -> None:
    interfaces = [Interface(link, f"if{link}", 65535) for link in LINKS]
    records = [(1_700_000_000_000_000_000 + i * 1000, index, frame, len(frame))
               for i, (index, frame) in enumerate(frames)]
    trace(pcapng_bytes(interfaces, records))


@FUZZ
@given(st.integers(0, len(SEEDS) - 1), st.lists(st.tuples(st.integers(0, 5), EDITS),
                                                 min_size=1, max_size=3))
def test_mutated_real_frames(seed: int, changes: list[tuple[int, list]]) -> None:
    linktype, frames = SEEDS[seed]
    frames = list(frames)
    for which, edits in changes:
        which %= len(frames)
        frames[which] = mutate(frames[which], edits)
    records = [(1_700_000_000_000_000_000 + i * 1_000_000, 0, f, len(f))
               for i, f in enumerate(frames)]
    trace(pcap_bytes(linktype, records))


# TCP options as they come: NOP, EOL, a known kind with any length byte, or a lone byte.
OPTION = st.one_of(st.just(b"\x01"), st.just(b"\x00"), st.binary(min_size=1, max_size=1),
                   st.builds(lambda kind, size, body: bytes([kind, size]) + body,
                             st.sampled_from([2, 3, 4, 5, 8, 30, 254]), st.integers(0, 14),
                             st.binary(max_size=10)))
OPTIONS = st.lists(OPTION, max_size=8).map(lambda parts: b"".join(parts)[:40])


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 0xFFF), st.one_of(st.none(), st.integers(0, 15)),
                          OPTIONS), min_size=1, max_size=6), st.booleans())
def test_random_tcp_headers_and_options(segments: list[tuple[int, int | None, bytes]],
                                        v6: bool) -> None:
    """Sound IP, TCP with any flags, a data offset that fits (or any) and any options."""
    w = _conversation("ethernet", "", v6)
    frames = [f for _, f in w.frames[:2]]
    for flags, offset, opts in segments:
        if offset is None:
            opts += bytes(-len(opts) % 4)
            offset = 5 + len(opts) // 4
        w.frames = []
        w.tcp("c", flags & 0x1FF, b"d" * (flags % 7))
        eth = dpkt.ethernet.Ethernet(w.frames[0][1])
        ip = eth.data
        raw = bytearray(bytes(ip.data))
        raw[12:14] = ((offset << 12) | flags).to_bytes(2, "big")
        raw[20:20] = opts
        ip.data = bytes(raw)
        if v6:
            ip.plen = len(raw)
        else:
            ip.len, ip.sum = 20 + len(raw), 0
        frames.append(eth.pack_hdr() + bytes(ip))
    records = [(1_700_000_000_000_000_000 + i * 1_000_000, 0, f, len(f))
               for i, f in enumerate(frames)]
    trace(pcap_bytes(dpkt.pcap.DLT_EN10MB, records))


@FUZZ
@given(st.integers(0, len(SEEDS) - 1), st.booleans(), EDITS)
def test_mutated_files(seed: int, ng: bool, edits: list[tuple[int, int, int]]) -> None:
    linktype, frames = SEEDS[seed]
    records = [(1_700_000_000_000_000_000 + i * 1_000_000, 0, f, len(f))
               for i, f in enumerate(frames)]
    data = (pcapng_bytes([Interface(linktype, "eth0", 65535)], records) if ng
            else pcap_bytes(linktype, records))
    # Edits land in the file's headers as often as in its packets.
    trace(mutate(data, [(where % 120 if what % 2 else where, what, byte)
                        for where, what, byte in edits]))


def test_a_syn_with_a_malformed_timestamp_option_is_shown_as_malformed() -> None:
    """The issue's capture: Linux's SYN options with the timestamp's length 13, not 10."""
    w = malformed_timestamp_syn()
    result = analyse(w.pcap())
    syn = result.conversations[0].segments[0].packet
    assert syn.mss == 1460  # read before the bad option, as Wireshark keeps it
    assert syn.malformed == "TCP option timestamps: length 13, should be 10"
    assert result.malformed == [(1, syn.malformed)]
    assert result.conversations[0].handshake_complete
    assert "#1 (TCP option timestamps: length 13, should be 10)" in result.notes[0]
    render(result)


def test_frames_cut_short_are_named_with_the_header_they_lack() -> None:
    w = Wire()
    w.handshake()
    frames = [f for _, f in w.frames]
    records = [(i, 0, f, len(f)) for i, f in enumerate([frames[0][:30], frames[1][:40],
                                                        frames[2], b"\x00" * 5])]
    result = analyse(pcap_bytes(dpkt.pcap.DLT_EN10MB, records))
    assert result.malformed == [(1, "IPv4 header cut short"), (2, "TCP header cut short"),
                                (4, "Ethernet header cut short")]
    assert [p.number for p in result.packets] == [3]
