"""A live pcap stream cut anywhere still yields every record once, and `trace --follow`
prints each segment with its connection and relative numbers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from clirun import labctl as in_process
from sample_captures import malformed_timestamp_syn

from labctl import console
from labctl.pcap.generate import ACK, PSH, Wire
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


LONG = Wire(client=("2001:db8:ffff:1234::3", 35310, "bc:35:db:cf:1b:03"),
            server=("2001:db8:ffff:1234::2", 8080, "bc:f2:b8:57:86:02"))
LONG_NAMES = {"2001:db8:ffff:1234::3": "client-of-the-course-lab"}


def _long_capture() -> bytes:
    w = Wire(client=LONG.hosts["c"], server=LONG.hosts["s"])
    w.handshake()
    w.tcp("c", PSH | ACK, b"GET / HTTP/1.0\r\n\r\n", ack=w.seq["s"])
    w.tcp("s", ACK, ack=w.seq["c"])
    w.tcp("s", ACK, ack=w.seq["c"])  # a duplicate ACK: Wireshark's "dup ack"
    return w.pcap()


def _followed(data: bytes, width: int, size: int = 7, **kwargs) -> list[str]:
    """follow()'s output lines, the capture fed in pieces of `size` bytes."""
    written: list[str] = []
    follow([data[i:i + size] for i in range(0, len(data), size)], LONG_NAMES,
           write=written.append, width=width, **kwargs)
    return [line for text in written for line in text.split("\n")]


@pytest.mark.parametrize("width", [120, 80, 60, 40])
def test_follow_lines_fit_the_width_without_cutting_a_value(width):
    data = _long_capture()
    whole = _followed(data, 10_000)
    assert len(whole) == 6 and "[dup ack]" in whole[-1]
    assert max(map(len, whole)) > 100  # these lines need wrapping below that
    lines = _followed(data, width)
    assert all(len(line) <= width for line in lines), lines
    # Wrapped only between values: the same words in the same order, none cut.
    assert " ".join(lines).split() == " ".join(whole).split()
    # A segment's continuation lines are indented under its first.
    starts = [line for line in lines if line.startswith("#")]
    assert len(starts) == 6


def test_follow_lines_that_fit_are_one_line_as_before():
    lines = _followed(_capture(), 80)
    assert len(lines) == 3 and all(line.startswith("#") for line in lines)


def test_an_undecoded_link_type_is_warned_about_once():
    data = bytearray(_capture())
    data[20:24] = (147).to_bytes(4, "little")  # USER0
    lines = _followed(bytes(data), 80, size=5)
    assert lines == ["warning: link type USER0 (147) is not one labctl decodes: no packet of "
                     "this", "  capture can be shown"]


def test_malformed_segments_are_marked_and_the_stream_goes_on():
    w = malformed_timestamp_syn()
    w.tcp("s", ACK, ack=w.seq["c"])
    frames = [f for _, f in w.frames]
    bad = bytearray(frames[3])
    bad[14 + 20 + 12] = 0x30  # the data offset: 3 words, under the minimum 5
    w.frames[3] = (w.frames[3][0], bytes(bad))
    lines = _followed(w.pcap(), 200)
    assert len(lines) == 4
    assert lines[0].startswith("#1     conn 0  10.0.0.3:35310 → 10.0.0.2:80  SYN")
    assert lines[0].endswith("[malformed: TCP option timestamps: length 13, should be 10]")
    assert "SYN/ACK" in lines[1] and "seq=1 ack=1" in lines[2]
    assert lines[3] == ("#4     malformed frame, not shown: bogus TCP header length 12, must "
                        "be at least 20")
    # Filtered by port, a frame whose ports could not be read is not shown.
    assert len(_followed(w.pcap(), 200, port=80)) == 3


class _Backend:
    remote = True

    def __init__(self, data: bytes) -> None:
        self.data = data

    def status(self, lab, instance):
        node = SimpleNamespace(node="client-of-the-course-lab", capture=True,
                               ip=LONG.hosts["c"][0], addresses={})
        return SimpleNamespace(labs=[SimpleNamespace(nodes=[node])])

    def live_capture(self, lab, instance, node):
        data = self.data
        return iter([data[i:i + 100] for i in range(0, len(data), 100)])


@pytest.mark.parametrize("columns", [None, 64])
def test_trace_follow_wraps_to_the_terminal_width(capsys, monkeypatch, columns):
    """COLUMNS honoured, 80 in a pipe without it, as the rest of trace."""
    monkeypatch.setattr("labctl.cli.backends.chosen", lambda: _Backend(_long_capture()))
    if columns:
        monkeypatch.setenv("COLUMNS", str(columns))
    else:
        monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(console.out, "_width", columns)
    code, out, err = in_process(capsys, "trace", "lab", "--follow")
    assert code == 0, err
    lines = out.splitlines()
    assert len([line for line in lines if line.startswith("#")]) == 6
    assert max(map(len, lines)) <= (columns or 80)
    assert max(map(len, lines)) > (columns or 80) - 12  # wrapped to it, not far short
    assert "client-of-the-course-lab:35310" in out
