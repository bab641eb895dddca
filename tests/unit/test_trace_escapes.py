"""Text taken from a capture or passed in with it (a pcapng's interface name, a file's
name, a node's name) reaches no output of `labctl trace` with its control characters
raw: text and --all, --follow, and the SVG and HTML (which must stay well-formed).
JSON escapes them itself (json.dumps)."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import dpkt
import pytest
from clirun import labctl as in_process
from rich.console import Console

from labctl import console
from labctl.pcap.generate import ACK, FIN, Wire
from labctl.pcap.read import Interface
from labctl.pcap.write import pcapng_bytes
from labctl.trace import command, terminal, views
from labctl.trace.analysis import analyse
from labctl.trace.follow import follow

EVIL = "\x1b]0;PWNED\x07\x1b[2J\x9b31m"
SHOWN = "\\x1b]0;PWNED\\x07\\x1b[2J\\x9b31m"
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _wire() -> Wire:
    w = Wire()
    w.handshake()
    w.tcp("c", FIN | ACK, ack=w.seq["s"])
    w.tcp("s", FIN | ACK, ack=w.seq["c"])
    w.tcp("c", ACK, ack=w.seq["s"])
    w.udp("c", EVIL.encode())
    return w


def _pcapng(w: Wire) -> bytes:
    records = [(round(ts * 1e9), 0, frame, len(frame)) for ts, frame in w.frames]
    return pcapng_bytes([Interface(dpkt.pcap.DLT_EN10MB, f"eth0{EVIL}", 65535)], records)


def _clean(text: str) -> None:
    assert not CONTROLS.search(text), repr(CONTROLS.search(text).group())


@pytest.fixture
def evil_file(tmp_path: Path) -> Path:
    data = _pcapng(_wire())
    assert analyse(data).interfaces[0].name == f"eth0{EVIL}"  # read as it was written
    path = tmp_path / f"capture{EVIL}.pcapng"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("args", [[], ["--all"], ["--json"], ["--json", "--all"]])
def test_trace_of_a_file_prints_no_control_character(evil_file, capsys, monkeypatch, args):
    monkeypatch.setattr(console.out, "_width", 300)  # the path on one line
    code, out, err = in_process(capsys, "trace", "--pcap", str(evil_file), *args)
    assert code == 0, err
    _clean(out)
    _clean(err)
    if not args or args == ["--all"]:
        assert f"capture{SHOWN}.pcapng" in out  # shown, escaped, in the heading


def test_svg_and_html_written_for_a_file_are_well_formed(evil_file, tmp_path, capsys):
    svg, page = tmp_path / "out.svg", tmp_path / "out.html"
    code, out, err = in_process(capsys, "trace", "--pcap", str(evil_file), "--svg", str(svg),
                                "--html", str(page))
    assert code == 0, err
    _clean(err)
    _clean(svg.read_text())
    _clean(page.read_text())
    ET.fromstring(svg.read_text())
    assert f"capture{SHOWN}.pcapng" in page.read_text()


def _lab_source() -> command.Source:
    """A lab whose nodes' names carry escapes (as a classroom server could send them)."""
    data = _wire().pcap()
    client, server = f"client{EVIL}", f"server{EVIL}"
    files = [SimpleNamespace(node=client, data=data), SimpleNamespace(node=server, data=data)]
    nodes = [SimpleNamespace(node=client, ip="10.0.0.3", addresses={}),
             SimpleNamespace(node=server, ip="10.0.0.2", addresses={})]
    return command.from_lab(files, nodes, f"lab{EVIL}", None)


def test_node_names_are_escaped_in_every_view():
    source = _lab_source()
    buffer = io.StringIO()
    for width in (200, 80, 40):
        out = Console(file=buffer, width=width, force_terminal=False)
        terminal.show(out, source.analysis, source.names, source.title,
                      source.analysis.conversations, detail=True, every_packet=True)
    text = buffer.getvalue()
    _clean(text)
    assert f"client{SHOWN} sends (captured on client{SHOWN}" in text.replace("\n", " ")
    # Both nodes captured: each packet is drawn as its sender sent it and as its receiver
    # got it, as for any lab (the escaped names still find each node's capture).
    assert f"server{SHOWN} receives" in text.replace("\n", " ")
    conversations = source.analysis.conversations
    svg = views.ladders_svg(conversations, source.names, tables=True)
    _clean(svg)
    ET.fromstring(svg)
    page = views.html_page(source.analysis, source.names, source.title)
    _clean(page)
    assert f"lab{SHOWN}" in page


def test_follow_escapes_node_names():
    data = _wire().pcap()
    lines: list[str] = []
    follow([data], {"10.0.0.3": f"client{EVIL}"}, write=lines.append)
    _clean("\n".join(lines))
    assert lines[0].split()[3] == f"client{SHOWN}:35310"
