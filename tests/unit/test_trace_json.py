"""`labctl trace --json` is written a connection at a time, byte for byte what
json.dumps(to_data(...), indent=2) printed when the whole document was built first."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from clirun import labctl

from labctl.pcap.generate import ACK, FIN, PSH, RST, SYN, Wire
from labctl.trace import views as trace
from labctl.trace.analysis import analyse

DATA = Path(__file__).resolve().parent.parent / "data"


def mixed_capture() -> bytes:
    """Retransmissions, out-of-order data, ISNs near 2**32, RST, IPv6, UDP, no SYN seen."""
    w = Wire(client_isn=2**32 - 10, server_isn=4_000_000_000)
    w.handshake()
    for _ in range(3):
        w.tcp("c", PSH | ACK, b"x" * 1000, ack=w.seq["s"])
    w.tcp("c", PSH | ACK, b"x" * 1000, ack=w.seq["s"], seq=w.seq["c"] - 1000)  # again
    w.tcp("s", ACK, ack=w.seq["c"])
    w.tcp("c", FIN | PSH | ACK, b"bye", ack=w.seq["s"])
    w.tcp("s", RST | ACK, ack=w.seq["c"])
    w.udp("c", "héllo ☃".encode())
    w.hosts = {"c": ("fd00::3", 40000, "bc:35:db:cf:1b:03"),
               "s": ("fd00::2", 443, "bc:f2:b8:57:86:02")}
    w.handshake()
    w.tcp("s", PSH | ACK, b"y" * 10, ack=w.seq["c"])
    w.hosts["c"] = ("fd00::3", 40001, "bc:35:db:cf:1b:03")
    w.tcp("c", ACK, b"mid-stream", ack=1234)  # no SYN captured
    w.tcp("c", SYN, mss=536)
    return w.pcap()


def reference(analysis, names, conversations=None, segments=True) -> str:
    """What `labctl trace --json` printed before it streamed."""
    return json.dumps(trace.to_data(analysis, names, conversations, segments), indent=2) + "\n"


def streamed(analysis, names, conversations=None, segments=True) -> str:
    out = io.StringIO()
    trace.write_json(out.write, analysis, names, conversations, segments)
    return out.getvalue()


@pytest.mark.parametrize("segments", [True, False])
@pytest.mark.parametrize("names", [{}, {"10.0.0.3": "clïent", "fd00::2": "server \"2\""}])
def test_streamed_json_is_the_whole_documents_bytes(segments: bool, names: dict) -> None:
    analysis = analyse(mixed_capture())
    assert any(s.retransmission for c in analysis.conversations for s in c.segments)
    view = trace.Names(names)
    assert streamed(analysis, view, None, segments) == reference(analysis, view, None, segments)
    one = analysis.conversations[1:2]
    assert streamed(analysis, view, one, segments) == reference(analysis, view, one, segments)
    assert streamed(analysis, view, [], segments) == reference(analysis, view, [], segments)


def test_damaged_and_empty_captures_keep_their_shape() -> None:
    data = mixed_capture()
    damaged = analyse(data[:-7])
    damaged.damage = damaged.damage or pytest.fail("the cut capture reads as sound")
    names = trace.Names({})
    assert streamed(damaged, names) == reference(damaged, names)
    empty = analyse(Wire().pcap())
    assert streamed(empty, names) == reference(empty, names)
    assert json.loads(streamed(empty, names))["tcp"] == []


def test_cli_json_is_todays_output_for_the_handshake_capture(capsys) -> None:
    """The file was written by `labctl trace --json --all` as a whole document (before the
    output streamed; since regenerated once, when time_ns, malformed and tunnel joined)."""
    expected = (DATA / "handshake-lab-server.trace.json").read_text()
    pcap = str(DATA / "handshake-lab-server.pcap")
    for args in ((), ("--all",), ("--conn", "0")):
        code, out, err = labctl(capsys, "trace", "--pcap", pcap, "--json", *args)
        assert (code, err) == (0, "")
        assert out == expected
