"""tshark as the oracle: the fields trace shows, compared frame by frame.

`compare(path)` runs `tshark -T fields` and labctl's analysis on the same file
and returns every disagreement as a line naming frame and field (an empty list
means they agree). Documented differences, kept out of the comparison:
- tshark also decodes protocols above TCP (HTTP reassembly does not change the
  TCP fields compared here); frames that are neither TCP nor UDP are skipped.
- labctl reports UDP datagrams, so a fragmented datagram is compared at the
  frame where tshark reassembles it (its last fragment); a datagram whose
  first fragment the snaplen cut short is shown at that first fragment, as
  tshark does.
- Duplicate ACKs in captures cut short by a snaplen: tshark 4.0 stops marking
  some after segments it could not dissect whole (the payload dissector fails
  on the cut bytes); labctl applies the definition to every segment. Those
  captures are compared without that field (`ignore`).
- Wireshark's other expert marks (window update, window full, zero window
  probe, ACKed unseen segment, previous segment not captured) are not
  computed by labctl; the course does not use them. Retransmission, fast and
  spurious retransmission, out-of-order, duplicate ACK and keep-alive are.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from labctl.trace.analysis import Analysis, analyse

FIELDS = ["frame.number", "tcp.stream", "tcp.flags", "tcp.seq", "tcp.ack", "tcp.len",
          "tcp.window_size", "tcp.options.mss_val", "tcp.analysis.retransmission",
          "tcp.analysis.fast_retransmission", "tcp.analysis.spurious_retransmission",
          "tcp.analysis.out_of_order", "tcp.analysis.duplicate_ack",
          "tcp.analysis.keep_alive", "udp.length", "udp.srcport"]


def require_tshark() -> str:
    path = shutil.which("tshark")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("tshark is not installed: the trace oracle tests need it in CI")
        pytest.skip("tshark is not installed")
    return path


_read: dict[tuple[str, bytes], dict[int, dict[str, str]]] = {}  # prefetched rows


def prefetch(paths: Iterable[Path]) -> None:
    """tshark over many files side by side (each run is mostly tshark's own start-up);
    tshark_rows answers from what was read while a file is unchanged."""
    paths = list(paths)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for path, rows in zip(paths, pool.map(_run_tshark, paths), strict=True):
            _read[str(path), path.read_bytes()] = rows


def tshark_rows(path: Path) -> dict[int, dict[str, str]]:
    key = (str(path), path.read_bytes())
    if key not in _read:
        _read[key] = _run_tshark(path)
    return _read[key]


def _run_tshark(path: Path) -> dict[int, dict[str, str]]:
    args = [require_tshark(), "-r", str(path), "-T", "fields", "-E", "separator=\t",
            "-E", "occurrence=f", "-o", "tcp.relative_sequence_numbers:TRUE",
            "-o", "tcp.analyze_sequence_numbers:TRUE"]
    for f in FIELDS:
        args += ["-e", f]
    # tshark exits 2 on a damaged file after printing what it read: keep that.
    out = subprocess.run(args, capture_output=True, text=True, check=False).stdout
    rows = {}
    for line in out.splitlines():
        values = dict(zip(FIELDS, line.split("\t"), strict=False))
        if values.get("tcp.stream") or values.get("udp.length"):
            rows[int(values["frame.number"])] = values
    return rows


def ours(result: Analysis) -> dict[int, dict[str, str]]:
    rows: dict[int, dict[str, str]] = {}
    for conv in result.conversations:
        for s in conv.segments:
            p = s.packet
            kind = s.analysis
            rows[p.number] = {
                "tcp.stream": str(conv.stream), "tcp.flags": f"0x{p.flags:04x}",
                "tcp.seq": str(s.rel_seq), "tcp.ack": "" if s.rel_ack is None else str(s.rel_ack),
                "tcp.len": str(p.length), "tcp.window_size": str(s.window),
                "tcp.options.mss_val": "" if p.mss is None else str(p.mss),
                "tcp.analysis.retransmission": "1" if s.retransmission else "",
                "tcp.analysis.fast_retransmission": "1" if kind == "fast retransmission" else "",
                "tcp.analysis.spurious_retransmission":
                    "1" if kind == "spurious retransmission" else "",
                "tcp.analysis.out_of_order": "1" if kind == "out-of-order" else "",
                "tcp.analysis.duplicate_ack": "1" if kind == "dup ack" else "",
                "tcp.analysis.keep_alive": "1" if kind == "keep-alive" else ""}
    for flow in result.udp_flows:
        for p in flow.datagrams:
            rows[p.number] = {"udp.length": str(p.length + 8), "udp.srcport": str(p.sport)}
    return rows


def compare(path: Path, result: Analysis | None = None, ignore: tuple[str, ...] = ()
            ) -> list[str]:
    result = result or analyse(path.read_bytes())
    theirs, mine = tshark_rows(path), ours(result)
    problems = []
    for number in sorted(set(theirs) | set(mine)):
        t, m = theirs.get(number), mine.get(number)
        if t is None or m is None:
            problems.append(f"frame {number}: only {'labctl' if t is None else 'tshark'} "
                            "decodes it as TCP/UDP")
            continue
        for field, value in m.items():
            if field in ignore:
                continue
            expected = t.get(field, "")
            if field == "tcp.ack" and value == "":
                continue  # no ACK flag: tshark still prints the raw field's relative value
            if value != expected:
                problems.append(f"frame {number}: {field}: labctl {value!r}, tshark {expected!r}")
    return problems
