#!/usr/bin/env python3
"""Time the checks of a lab (default handshake-lab) on a running instance.

Usage: python bench/bench_checks.py [--runs 10] [--lab handshake-lab]
Brings the lab up and runs its steps once (not timed), then times the
checks in-process (what `labctl check` does after start-up) and as the
whole `labctl check` command; takes the lab down at the end.
"""

from __future__ import annotations

import argparse
import subprocess
import time

from stats import summary as line

from labctl.lab import loader
from labctl.runtime import connect
from labctl.service.engine import Engine
from labctl.service.lab_run import lab_session

INSTANCE = "bench-checks"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--lab", default="handshake-lab")
    args = parser.parse_args()
    lab = loader.load(args.lab)
    engine = Engine(connect())
    with lab_session(engine, lab, INSTANCE) as session:
        session.steps()
        inproc, whole = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            results = session.checks()
            inproc.append(time.perf_counter() - start)
            assert all(r.passed for r in results), [r.title for r in results if not r.passed]
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run(["labctl", "check", args.lab, "-i", INSTANCE], check=True,
                           capture_output=True)
            whole.append(time.perf_counter() - start)
    print(f"{len(lab.checks)} checks of {lab.name}")
    print(line("checks (in-process)", inproc))
    print(line(f"labctl check {lab.name}", whole))


if __name__ == "__main__":
    main()
