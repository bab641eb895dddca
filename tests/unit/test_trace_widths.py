"""`labctl trace` text at every width from 60 to 250 columns: no line wider than the
terminal, no value cut (no ellipsis, every flag, sequence number and analysis whole)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from clirun import labctl
from rich.console import Console

from labctl import console
from labctl.pcap.generate import ACK, FIN, PSH, SYN, Wire
from labctl.trace import terminal as trace_view
from labctl.trace import views as trace
from labctl.trace.analysis import analyse

DATA = Path(__file__).resolve().parent.parent / "data"
WIDTHS = [60, 80, 100, 120, 150, 190, 250]
TOKENS = re.compile(r"[^\s│┃|=()]+")


def long_connection() -> bytes:
    """Relative numbers of six and ten digits, retransmissions, FIN/PSH/ACK, a lab's names."""
    w = Wire(client_isn=3_000_000_000, server_isn=4_294_967_000)
    w.handshake()
    w.tcp("c", PSH | ACK, b"x" * 1000, ack=w.seq["s"])
    w.tcp("c", PSH | ACK, b"y" * 1000, ack=w.seq["s"], seq=w.seq["c"] + 183_853)
    w.tcp("c", PSH | ACK, b"y" * 1000, ack=w.seq["s"], seq=w.seq["c"] + 183_853)  # again
    w.tcp("s", ACK, ack=w.seq["c"])
    w.tcp("c", PSH | ACK, b"x" * 1000, ack=w.seq["s"], seq=w.seq["c"] - 1000)  # again
    w.tcp("s", PSH | ACK, b"z" * 10, ack=w.seq["c"], seq=w.seq["s"] + 3_999_999_999)
    w.tcp("c", FIN | PSH | ACK, b"bye", ack=w.seq["s"])
    w.tcp("s", FIN | ACK, ack=w.seq["c"])
    w.tcp("c", ACK, ack=w.seq["s"])
    w.udp("c", bytes(range(200)))
    return w.pcap()


def ipv6_cooked() -> bytes:
    w = Wire(client=("fd00:1234:5678:9abc:def0:1234:5678:9abc", 65535, "bc:35:db:cf:1b:03"),
             server=("fd00:1234:5678:9abc:def0:1234:5678:0002", 8080, "bc:f2:b8:57:86:02"),
             link="sll2")
    w.handshake(mss=1220)
    w.tcp("c", SYN | ACK | PSH | FIN, b"odd", ack=w.seq["s"])
    return w.pcap()


def captures(tmp_path: Path) -> dict[str, Path]:
    paths = {"handshake": DATA / "handshake-lab-server.pcap"}
    for name, data in (("long", long_connection()), ("ipv6", ipv6_cooked())):
        paths[name] = tmp_path / f"{name}.pcap"
        paths[name].write_bytes(data)
    return paths


def words_of(text: str) -> set[str]:
    """Whole values: what stands between spaces and rules, without trailing punctuation."""
    return {t.rstrip(",:") for t in TOKENS.findall(text)}


def at_width(monkeypatch, width: int) -> None:
    """COLUMNS, as a user sets it; rich reads it once, when the console is made."""
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setattr(console.out, "_width", width)


def check_lines(text: str, width: int) -> None:
    lines = text.splitlines()
    assert lines
    too_wide = [line for line in lines if len(line) > width]
    assert not too_wide, f"{len(too_wide)} lines wider than {width}: {too_wide[0]!r}"
    assert "…" not in text


@pytest.mark.parametrize("width", WIDTHS)
def test_every_width_keeps_every_value_whole(tmp_path, capsys, monkeypatch, width) -> None:
    at_width(monkeypatch, width)
    for name, path in captures(tmp_path).items():
        code, out, err = labctl(capsys, "trace", "--pcap", str(path), "--all")
        assert (code, err) == (0, ""), name
        check_lines(out, width)
        analysis = analyse(path.read_bytes())
        names = trace.Names({})
        words = words_of(out)
        for conv in analysis.conversations:
            assert trace.headline(conv, names) in " ".join(out.split()), name
            # The segment list alone, then the ladder alone: each shows every value whole.
            table = words_of("\n".join(trace_view.segment_lines(conv, names, width)))
            ladder = words_of(trace.ladder_text(conv, names, max(24, min(64, width - 10))))
            for seg in conv.segments:
                values = {seg.packet.flags_text, str(seg.rel_seq)}
                if seg.rel_ack is not None:
                    values.add(str(seg.rel_ack))
                if seg.analysis:
                    values.update(seg.analysis.split())
                assert values <= table, (name, width, values - table)
                assert values <= ladder, (name, width, values - ladder)
                assert values <= words
        if name == "long":
            assert {"184854", "retransmission", "FIN/PSH/ACK", "4000000000"} <= words
            assert any(s.retransmission for s in analysis.conversations[0].segments)


@pytest.mark.parametrize("width", WIDTHS)
def test_layer_tables_are_wide_only_when_they_fit(tmp_path, capsys, monkeypatch, width):
    at_width(monkeypatch, width)
    code, out, _ = labctl(capsys, "trace", "--pcap", str(DATA / "handshake-lab-server.pcap"))
    assert code == 0
    check_lines(out, width)
    wide = "┃ Layer" in out
    assert wide == (width >= 135)  # the course's seven columns, else a line per layer
    for value in ("Src MAC: 02:42:0a:d5:05:03", "Dst MAC: 02:42:0a:d5:05:02",
                  "Src IP: 10.213.5.3", "Src Port: 46968", "3-Way handshake", "(SYN/ACK)",
                  "Teardown", "(FIN/ACK)", "00000010", "01000010"):
        assert value in out, (width, value)
    if not wide:
        assert "  Data Link Layer Ethernet (Frames):" in out


@pytest.mark.parametrize("width", [60, 80, 250])
def test_summary_keeps_endpoints_whole(tmp_path, capsys, monkeypatch, width) -> None:
    w = Wire(client=("fd00::3", 40000, "bc:35:db:cf:1b:03"),
             server=("fd00:1234:5678:9abc:def0:1234:5678:2", 443, "bc:f2:b8:57:86:02"))
    for c in range(12):
        w.hosts["c"] = ("fd00::3", 40000 + c, "bc:35:db:cf:1b:03")
        w.handshake()
    path = tmp_path / "many.pcap"
    path.write_bytes(w.pcap())
    at_width(monkeypatch, width)
    code, out, _ = labctl(capsys, "trace", "--pcap", str(path))
    assert code == 0
    check_lines(out, width)
    words = words_of(out)
    assert {"[fd00::3]:40011", "[fd00:1234:5678:9abc:def0:1234:5678:2]:443"} <= words


def test_a_terminal_gets_the_same_layout_with_bold_headings(tmp_path) -> None:
    path = captures(tmp_path)["long"]
    analysis = analyse(path.read_bytes())
    buffer = io.StringIO()
    out = Console(file=buffer, force_terminal=True, width=80, highlight=False, soft_wrap=True)
    trace_view.show(out, analysis, trace.Names({}), "long", analysis.conversations, True,
                    False)
    text = buffer.getvalue()
    assert "\x1b[1m" in text  # bold
    check_lines(re.sub(r"\x1b\[[0-9;]*m", "", text), 80)
