"""A live pcap stream cut anywhere still yields every record once, and `trace --follow`
prints each segment with its connection and relative numbers."""

from __future__ import annotations

import pytest

from labctl.pcap.generate import Wire
from labctl.pcap.read import Capture
from labctl.pcap.stream import PcapStream
from labctl.trace.follow import follow


def _capture() -> bytes:
    w = Wire()
    w.handshake()
    return w.pcap()


@pytest.mark.parametrize("size", [1, 7, 16, 23, 25, 100, 10_000])
def test_a_stream_cut_into_any_pieces_yields_the_same_records(size):
    data = _capture()
    stream = PcapStream()
    got = []
    for start in range(0, len(data), size):
        got += stream.feed(data[start:start + size])
    whole = [(ns, frame, wirelen) for ns, _, frame, wirelen in Capture(data).records()]
    assert got == whole and len(got) == 3
    assert stream.linktype == 1


def test_a_stream_that_is_not_a_pcap_is_refused():
    with pytest.raises(ValueError, match="not a pcap"):
        PcapStream().feed(b"x" * 30)


def test_follow_prints_the_handshake_as_it_comes():
    data = _capture()
    lines: list[str] = []
    follow([data[:40], data[40:]], {"10.0.0.3": "client"}, write=lines.append)
    assert [line.split()[6] for line in lines] == ["SYN", "SYN/ACK", "ACK"]
    assert lines[0].startswith("#1     conn 0  client:35310 → ")
    assert "seq=1 ack=1" in lines[2]
