#!/usr/bin/env python3
"""Time `labctl up handshake-lab` (to ready) and `labctl down` as whole commands.

Usage: python bench/bench_up_down.py [--runs 10] [--lab handshake-lab]
Builds the image first (not timed), then runs up/down pairs in a fresh
instance and prints median, min and max for each command.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from stats import summary

INSTANCE = "bench"


def labctl(*args: str) -> float:
    start = time.perf_counter()
    result = subprocess.run(["labctl", *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"labctl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--lab", default="handshake-lab")
    args = parser.parse_args()
    labctl("images", "build")
    labctl("down", args.lab, "-i", INSTANCE)
    ups, downs = [], []
    try:
        for _ in range(args.runs):
            ups.append(labctl("up", args.lab, "-i", INSTANCE))
            downs.append(labctl("down", args.lab, "-i", INSTANCE))
    finally:
        subprocess.run(["labctl", "down", args.lab, "-i", INSTANCE], capture_output=True)
    startup = [labctl("--help") for _ in range(5)]
    print(summary(f"labctl up {args.lab}", ups))
    print(summary(f"labctl down {args.lab}", downs))
    print(summary("labctl --help (startup)", startup))


if __name__ == "__main__":
    main()
