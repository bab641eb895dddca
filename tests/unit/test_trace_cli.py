"""`labctl trace --pcap` as a user runs it: summary or detail, exit codes, pipes, widths."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from clirun import labctl as in_process

from labctl import console
from labctl.pcap.generate import ACK, FIN, PSH, Wire

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def labctl(capsys, monkeypatch):
    """`labctl ARGS...` in this process, optionally at a terminal width of `columns`."""
    def run(*args: str, columns: int | None = None) -> SimpleNamespace:
        if columns:
            monkeypatch.setenv("COLUMNS", str(columns))
        else:
            monkeypatch.delenv("COLUMNS", raising=False)
        monkeypatch.setattr(console.out, "_width", columns)  # rich reads COLUMNS once
        code, out, err = in_process(capsys, *args)
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)
    return run


def capture(tmp_path: Path, connections: int) -> Path:
    w = Wire()
    for c in range(connections):
        w.hosts["c"] = ("10.0.0.3", 30000 + c, "bc:35:db:cf:1b:03")
        w.seq = {"c": 1000 * c, "s": 7000 * c}
        w.handshake()
        w.tcp("c", PSH | ACK, b"GET /", ack=w.seq["s"])
        w.tcp("c", FIN | ACK, ack=w.seq["s"])
        w.tcp("s", FIN | ACK, ack=w.seq["c"])
        w.tcp("c", ACK, ack=w.seq["s"])
    path = tmp_path / f"{connections}.pcap"
    path.write_bytes(w.pcap())
    return path


def test_many_connections_are_summarised(tmp_path: Path, labctl) -> None:
    result = labctl("trace", "--pcap", str(capture(tmp_path, 60)))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "60 TCP connections" in out
    assert re.search(r"^Conn +Client +Server +Packets", out, re.M)
    assert "... and 10 more connections." in out
    assert "Layer" not in out  # no layer tables in a summary
    assert "--conn N" in out


def test_conn_shows_one_connection_in_detail(tmp_path: Path, labctl) -> None:
    result = labctl("trace", "--pcap", str(capture(tmp_path, 60)), "--conn", "42")
    assert result.returncode == 0, result.stderr
    assert "TCP conn 42: client 10.0.0.3:30042 → server 10.0.0.2:80" in result.stdout
    assert "3-Way handshake (SYN): 10.0.0.3 sends" in result.stdout
    missing = labctl("trace", "--pcap", str(capture(tmp_path, 3)), "--conn", "9")
    assert missing.returncode == 2
    assert "no TCP connection 9 (connections are numbered 0 to 2" in missing.stderr


def test_damaged_capture_shows_what_is_sound_then_warns_and_exits_4(tmp_path: Path, labctl) -> None:
    path = capture(tmp_path, 2)
    path.write_bytes(path.read_bytes()[:-20])
    result = labctl("trace", "--pcap", str(path))
    assert result.returncode == 4
    assert "2 TCP connections" in result.stdout
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 1
    assert warnings[0].startswith(f"warning: {path}: capture damaged at byte ")


def test_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "labctl.cli", "trace", "--pcap",
               str(capture(tmp_path, 8))]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    first = proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err
    assert first and err == b""


@pytest.mark.parametrize("columns", [60, 80])
def test_narrow_terminals_get_one_line_per_layer(tmp_path: Path, columns: int, labctl) -> None:
    result = labctl("trace", "--pcap", str(capture(tmp_path, 1)), columns=columns)
    assert result.returncode == 0, result.stderr
    assert "  Data Link Layer Ethernet (Frames):" in result.stdout
    assert "Src MAC: bc:35:db:cf:1b:03" in result.stdout
    ladder = [line for line in result.stdout.splitlines() if "▶│" in line]
    assert ladder and all(len(line) <= columns for line in result.stdout.splitlines())


def test_svg_and_html_do_not_print_the_text_trace(tmp_path: Path, labctl) -> None:
    svg, page = tmp_path / "l.svg", tmp_path / "p.html"
    result = labctl("trace", "--pcap", str(capture(tmp_path, 3)), "--svg", str(svg),
                    "--html", str(page))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert svg.read_text().count('class="connection"') == 3
    assert "Legend" in page.read_text()


def test_json_summarises_big_captures_and_details_small_ones(tmp_path: Path, labctl) -> None:
    big = json.loads(labctl("trace", "--pcap", str(capture(tmp_path, 30)), "--json").stdout)
    assert len(big["tcp"]) == 30 and "segments" not in big["tcp"][0]
    assert big["tcp"][0]["packets"] == 7
    small = json.loads(labctl("trace", "--pcap", str(capture(tmp_path, 2)), "--json").stdout)
    assert small["tcp"][1]["segments"][0]["window"] == 64240
    assert small["tcp"][1]["client"]["isn"] == 1000
