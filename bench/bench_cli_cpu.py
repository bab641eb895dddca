#!/usr/bin/env python3
"""The CPU labctl itself spends in `up` and `down` (in the labctl process, not Docker's),
this tree against another install, interleaved, with bytecode written first.

Usage: python bench/bench_cli_cpu.py [--runs 8] [--against PYTHON:MODULE]

Wall time of `up` and `down` is mostly the engine's and varies by tens of milliseconds
from run to run; the CPU time of labctl's own process (time.process_time(), read at
exit) shows what the command line, the imports and labctl's own work cost. --against
names another labctl: its interpreter and the module whose main() is the console
script (e.g. /tmp/venv-old/bin/python:labctl.launch for a tree before labctl.cli.entry).
"""

from __future__ import annotations

import argparse
import compileall
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "labs" / "handshake-lab"
CODE = ("import atexit, os, sys, time; "
        "atexit.register(lambda: os.write(2, b'CPU %.4f\\n' % time.process_time())); "
        "sys.argv = ['labctl', *{argv!r}]; from {module} import main; main()")


def cpu(python: str, module: str, argv: list[str]) -> float:
    # Run from elsewhere: `python -c` puts its working directory first on sys.path.
    result = subprocess.run([python, "-c", CODE.format(argv=argv, module=module)],
                            capture_output=True, text=True, cwd=tempfile.gettempdir())
    found = re.search(r"CPU ([0-9.]+)", result.stderr)
    if result.returncode != 0 or found is None:
        sys.exit(f"{python} {' '.join(argv)} failed:\n{result.stderr[-2000:]}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--against", help="PYTHON:MODULE of another labctl")
    args = parser.parse_args()
    installs = {"this tree": (sys.executable, "labctl.cli.entry")}
    if args.against:
        python, _, module = args.against.partition(":")
        installs["against"] = (python, module or "labctl.cli.entry")
        where = subprocess.run([python, "-c", "import labctl, os; print(os.path.dirname("
                                "labctl.__file__))"], capture_output=True, text=True,
                               check=True, cwd=tempfile.gettempdir()).stdout.strip()
        compileall.compile_dir(where, quiet=1)
    compileall.compile_dir(str(ROOT / "labctl"), quiet=1)  # as an installed tool has it
    samples: dict[str, list[float]] = {}
    for run in range(args.runs):
        names = list(installs) if run % 2 == 0 else list(reversed(installs))
        for name in names:
            python, module = installs[name]
            for verb in ("up", "down"):
                lab = str(LAB) if verb == "up" else LAB.name
                samples.setdefault(f"{verb:<5}{name}", []).append(
                    cpu(python, module, [verb, lab, "-i", "benchcpu"]))
    for key in sorted(samples):
        values = samples[key]
        print(f"{key:<16} labctl CPU median {statistics.median(values):.3f} s   "
              f"min {min(values):.3f}   max {max(values):.3f}   (n={len(values)})")


if __name__ == "__main__":
    main()
