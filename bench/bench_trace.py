#!/usr/bin/env python3
"""`labctl trace` on a 240,000-packet capture, side by side with tshark on the same file.

Usage: python bench/bench_trace.py [--packets 240000] [--runs 3] [--keep FILE]
                                    [--modes summary,json,json-all,text-all]
The capture is crafted with labctl.pcap.generate (2,400 connections of 100 packets:
handshake, data with ACKs, FIN teardown). Each command runs as a user runs it
(a fresh process, output to a pipe that is read to the end); wall time and
peak memory (max RSS of the child) are reported, median of the runs, each
beside tshark's whole analysis of the file (`tshark -q -z conv,tcp`: every
packet dissected, TCP analysis and streams, one table printed). The bars:
summarised in under 3 s and under 400 MB (PRODUCT.md); `--json --all` within
3x tshark's time, text `--all` within 10x, both under 400 MB. With
--tshark-output, tshark printing every packet too (`-T json`, `-V`: far
more text than labctl's) is measured for context.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_analysis import capture  # noqa: E402


def measure(command: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak MB) of one run in a fresh process (wait4: this child's own use).

    CPU time is reported too because a shared 2-core machine's load stretches wall time
    for both tools alike."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for _ in iter(lambda: proc.stdout.read(1 << 16), b""):
        pass
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{command[0]} exited {proc.returncode}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


# mode: (labctl's options, the bar)
MODES = {"summary": ([], "under 3 s, under 400 MB"),
         "json": (["--json"], "under 3 s, under 400 MB"),
         "json-all": (["--json", "--all"], "within 3x tshark, under 400 MB"),
         "text-all": (["--all"], "within 10x tshark, under 400 MB")}


def report(name: str, command: list[str], runs: int) -> tuple[float, float, float]:
    """Print and return (median wall s, peak MB, median CPU s) of `runs` runs."""
    samples = [measure(command) for _ in range(runs)]
    wall = statistics.median(s[0] for s in samples)
    cpu = statistics.median(s[1] for s in samples)
    peak = max(s[2] for s in samples)
    print(f"{name:<34} wall median {wall:6.2f} s (min {min(s[0] for s in samples):.2f})"
          f"  CPU median {cpu:6.2f} s  peak RSS {peak:6.0f} MB  (n={runs})")
    return wall, peak, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=240_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the capture here and keep it")
    parser.add_argument("--modes", default=",".join(MODES),
                        help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--tshark-output", action="store_true",
                        help="also time tshark -T json and -V (slow: 30 s and 12 s a run)")
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="labctl-bench-")
    path = args.keep or Path(directory) / "bench.pcap"
    path.write_bytes(capture(args.packets))
    tshark = shutil.which("tshark")
    env_note = f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    print(f"{args.packets} packets, {path.stat().st_size / 1e6:.1f} MB pcap, {env_note}")
    labctl = [sys.executable, "-m", "labctl.cli", "trace", "--pcap", str(path)]
    reference = None
    if tshark:
        reference = report("tshark -q -z conv,tcp", [tshark, "-q", "-z", "conv,tcp", "-r",
                                                     str(path)], args.runs)
    else:
        print("tshark not installed: no side-by-side figure")
    for mode in args.modes.split(","):
        flags, bar = MODES[mode]
        ours = report(f"labctl trace {' '.join(flags)}".strip(), [*labctl, *flags], args.runs)
        if reference is not None:
            print(f"  {ours[0] / reference[0]:.1f}x tshark's wall time "
                  f"({ours[2] / reference[2]:.1f}x its CPU time), {ours[1] / reference[1]:.1f}x "
                  f"its memory (bar: {bar})")
    if tshark and args.tshark_output:
        for flag in ("-T json", "-V"):
            report(f"tshark {flag} (context)", [tshark, *flag.split(), "-r", str(path)],
                   args.runs)
    if args.keep is None:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
