"""Captures that are not plain (issue 22): each is said for what it is, never taken for an
empty capture or an internal error. Link types not decoded, 0-byte files, pcapng
versions, malformed headers, damage under `| head -1`, nanosecond times in JSON."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import dpkt
import pytest
from clirun import labctl as in_process
from sample_captures import malformed_timestamp_syn

from labctl.pcap.generate import ACK, FIN, PSH, Wire
from labctl.pcap.read import Interface
from labctl.pcap.write import pcap_bytes, pcapng_bytes
from labctl.trace.analysis import analyse

ROOT = Path(__file__).resolve().parent.parent.parent
USER0 = 147  # LINKTYPE_USER0: a link type labctl does not decode


@pytest.fixture
def labctl(capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)

    def run(*args: str):
        # Text wraps at the width (80 in a pipe): what is said matters here, not where
        # the line breaks, so runs of white space read as one space.
        code, out, err = in_process(capsys, *args)
        return code, " ".join(out.split()), " ".join(err.split())
    return run


def records(w: Wire) -> list[tuple[int, int, bytes, int]]:
    return [(round(ts * 1e9), 0, frame, len(frame)) for ts, frame in w.frames]


def handshake(link: str = "ethernet") -> Wire:
    w = Wire(link=link)
    w.handshake()
    w.tcp("c", PSH | ACK, b"GET /", ack=w.seq["s"])
    return w


def test_linktype_raw_101_is_read_as_raw_ip(tmp_path: Path, labctl) -> None:
    """What `tcpdump -i tun0` writes; it showed "0 TCP/UDP packets ... run the lab's steps"."""
    path = tmp_path / "tun0.pcap"
    path.write_bytes(pcap_bytes(101, records(handshake("raw"))))
    code, out, err = labctl("trace", "--pcap", str(path))
    assert code == 0, err
    assert "4 frames, 4 TCP/UDP packets, 1 TCP connections" in out
    assert analyse(path.read_bytes()).conversations[0].handshake_complete


def test_a_link_type_not_decoded_is_named_not_shown_as_empty(tmp_path: Path, labctl) -> None:
    path = tmp_path / "user0.pcap"
    path.write_bytes(pcap_bytes(USER0, records(handshake("raw"))))
    code, out, err = labctl("trace", "--pcap", str(path))
    assert code == 2  # nothing could be read: bad input, as a file that is no capture
    assert out == ""
    assert "link type USER0 (147) is not one labctl decodes" in err
    assert "none of its 4 frames could be read" in err
    assert "run the lab's steps" not in out + err


def test_an_interface_of_a_link_type_not_decoded_is_a_warning(tmp_path: Path, labctl) -> None:
    """A pcapng with one interface labctl reads and one it does not: what it reads is
    shown, then a warning naming the other by name and number, exit 4."""
    eth = records(handshake())
    other = [(ns + 1, 1, frame, wirelen) for ns, _, frame, wirelen in records(handshake("raw"))]
    path = tmp_path / "mixed.pcapng"
    path.write_bytes(pcapng_bytes([Interface(dpkt.pcap.DLT_EN10MB, "eth0", 65535),
                                   Interface(USER0, "usb0", 65535)], sorted(eth + other)))
    code, out, err = labctl("trace", "--pcap", str(path))
    assert code == 4
    assert "8 frames, 4 TCP/UDP packets, 1 TCP connections" in out
    assert err.strip() == (f"warning: {path}: 4 frames of link type USER0 (147) not read: "
                           "labctl does not decode that link layer")
    data = json.loads(labctl("trace", "--pcap", str(path), "--json")[1])
    assert data["unknown_link_types"] == {"147": 4}


def test_a_zero_byte_file_is_an_empty_capture(tmp_path: Path, labctl) -> None:
    """tcpdump's file before its first packet: tshark reads it as empty (it said "unknown
    magic number", exit 2)."""
    result = analyse(b"")
    assert (result.frames, result.packets, result.damage) == (0, [], None)
    path = tmp_path / "empty.pcap"
    path.write_bytes(b"")
    code, out, err = labctl("trace", "--pcap", str(path))
    assert code == 0, err
    assert "empty file, 0 frames, 0 TCP/UDP packets" in out


def _with_version(data: bytes, major: int, minor: int) -> bytes:
    out = bytearray(data)
    struct.pack_into("<HH", out, 12, major, minor)  # the SHB's version, after its byte order
    return bytes(out)


def test_pcapng_of_a_version_not_read_is_refused(tmp_path: Path, labctl) -> None:
    """As tshark: "pcapng: unknown SHB version 2.0". 1.2 is read as 1.0 is."""
    good = pcapng_bytes([Interface(dpkt.pcap.DLT_EN10MB, "eth0", 65535)], records(handshake()))
    assert len(analyse(_with_version(good, 1, 2)).packets) == 4
    path = tmp_path / "v2.pcapng"
    path.write_bytes(_with_version(good, 2, 0))
    code, out, err = labctl("trace", "--pcap", str(path))
    assert code == 2 and out == ""
    assert "pcapng section of version 2.0: labctl reads versions 1.0 and 1.2" in err
    # A later section of an unknown version: what came before is shown, then a warning.
    path.write_bytes(good + _with_version(good, 2, 0))
    code, out, err = labctl("trace", "--pcap", str(path))
    assert code == 4
    assert "4 frames, 4 TCP/UDP packets" in out
    assert f"capture damaged at byte {len(good)}: pcapng section of version 2.0" in err


def test_a_damaged_capture_exits_4_even_when_the_reader_goes_away(tmp_path: Path) -> None:
    """`labctl trace --pcap damaged.pcap | head -1` exited 0 (the broken pipe won)."""
    w = Wire()
    for c in range(40):
        w.hosts["c"] = ("10.0.0.3", 30000 + c, "bc:35:db:cf:1b:03")
        w.handshake()
        w.tcp("c", FIN | ACK, ack=w.seq["s"])
        w.tcp("s", FIN | ACK, ack=w.seq["c"])
        w.tcp("c", ACK, ack=w.seq["s"])
    path = tmp_path / "damaged.pcap"
    path.write_bytes(w.pcap()[:-20])
    command = [sys.executable, "-m", "labctl.cli", "trace", "--pcap", str(path), "--all"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    first = proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 4, err
    assert first.startswith(str(path).encode())
    assert err.startswith(f"warning: {path}: capture damaged at byte ")


def test_json_keeps_nanoseconds(tmp_path: Path, labctl) -> None:
    """A float of seconds since 1970 holds about a quarter of a microsecond: time_ns is the
    capture's integer nanoseconds, beside the old float `time`."""
    w = handshake()
    ns = [1_700_000_000_123_456_789 + i * 1001 for i in range(len(w.frames))]
    path = tmp_path / "nano.pcap"
    writer_records = [(t, 0, f, len(f)) for t, (_, f) in zip(ns, w.frames, strict=True)]
    path.write_bytes(_nano_pcap(writer_records))
    code, out, err = labctl("trace", "--pcap", str(path), "--json")
    assert code == 0, err
    segments = json.loads(out)["tcp"][0]["segments"]
    assert [s["time_ns"] for s in segments] == ns
    assert segments[0]["time"] == pytest.approx(ns[0] / 1e9)


def _nano_pcap(recs: list[tuple[int, int, bytes, int]]) -> bytes:
    header = struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, dpkt.pcap.DLT_EN10MB)
    body = b"".join(struct.pack("<IIII", ns // 10**9, ns % 10**9, len(f), wirelen) + f
                    for ns, _, f, wirelen in recs)
    return header + body


def test_malformed_headers_are_noted_and_the_capture_goes_on(tmp_path: Path, labctl) -> None:
    w = handshake()
    w.tcp("s", ACK, ack=w.seq["c"])
    frames = [f for _, f in w.frames]
    bad = bytearray(frames[0])
    bad[14 + 20 + 12] = 0x30  # the SYN's data offset: 3 words, under the minimum 5
    frames[0] = bytes(bad)
    frames[4] = frames[4][:14 + 20 + 10]  # a frame cut in its TCP header
    path = tmp_path / "malformed.pcap"
    path.write_bytes(pcap_bytes(dpkt.pcap.DLT_EN10MB, [(i, 0, f, len(f))
                                                       for i, f in enumerate(frames)]))
    code, out, err = labctl("trace", "--pcap", str(path))
    assert code == 0, err
    assert ("note: 2 frames with a malformed header (shown as far as it could be read, if at "
            "all): #1 (bogus TCP header length 12, must be at least 20), #5 (TCP header cut "
            "short)") in out
    assert "1 TCP connections" in out  # the rest of the capture goes on
    data = json.loads(labctl("trace", "--pcap", str(path), "--json")[1])
    assert [m["number"] for m in data["malformed"]] == [1, 5]


def test_a_syn_with_a_malformed_option_is_shown_not_an_internal_error(tmp_path: Path,
                                                                     labctl) -> None:
    """The issue's case: `internal error: TypeError: cannot unpack non-iterable NoneType`."""
    w = malformed_timestamp_syn()
    path = tmp_path / "badopt.pcap"
    path.write_bytes(w.pcap())
    code, out, err = labctl("trace", "--pcap", str(path))
    assert code == 0, err
    assert "#1 (TCP option timestamps: length 13, should be 10)" in out
    assert "complete handshake" in out
    segment = json.loads(labctl("trace", "--pcap", str(path), "--json")[1])["tcp"][0][
        "segments"][0]
    assert segment["malformed"] == "TCP option timestamps: length 13, should be 10"
    assert segment["mss"] == 1460
