#!/usr/bin/env python3
"""N `up`s pressed at once through the classroom server: time until the last lab is ready.

Usage (as root, Docker running): python bench/bench_server.py [--ups 10] [--concurrent 4]
Starts its own `labctl serve` on a temporary socket, presses N ups at once over the
socket (as root: an instructor, so each up names its own instance, as N students
would have), prints when each and the last finished, then takes every lab down
and stops the server.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from stats import cpu_seconds

from labctl.classroom.client.api import Client, ServerError

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ups", type=int, default=10)
    parser.add_argument("--concurrent", type=int, default=8, help="--concurrent-ups")
    parser.add_argument("--lab", default="handshake-lab")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="labctl-bench-server-"))
    sock = work / "labctl.sock"
    server = subprocess.Popen(
        [sys.executable, "-m", "labctl.cli", "serve", "--socket", str(sock), "--state-dir",
         str(work / "state"), "--concurrent-ups", str(args.concurrent)],
        cwd=ROOT, stderr=subprocess.DEVNULL)
    instances = [f"bench-srv{os.getpid()}-{i}" for i in range(args.ups)]
    try:
        client = Client(f"unix://{sock}")
        for _ in range(100):
            try:
                client.whoami()
                break
            except ServerError:
                time.sleep(0.1)
        start = time.perf_counter()
        cpu_before = cpu_seconds(server.pid), cpu_seconds(_pid_of("dockerd"))

        def up(instance: str) -> float:
            with Client(f"unix://{sock}") as own:
                own.up(args.lab, instance=instance)
            return time.perf_counter() - start

        with ThreadPoolExecutor(max_workers=args.ups) as pool:
            ready = sorted(pool.map(up, instances))
        print(f"{args.ups} ups of {args.lab} at once through the server "
              f"(--concurrent-ups {args.concurrent}): last ready after {ready[-1]:.2f} s, "
              f"median {statistics.median(ready):.2f} s, first {ready[0]:.2f} s")
        server_cpu = cpu_seconds(server.pid) - cpu_before[0]
        engine_cpu = cpu_seconds(_pid_of("dockerd")) - cpu_before[1]
        print(f"CPU meanwhile: the server {server_cpu:.1f} s, dockerd {engine_cpu:.1f} s "
              f"(of {2 * ready[-1]:.0f} s on 2 cores; containerd, runc and the nodes use the rest)")
    finally:
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda inst: Client(f"unix://{sock}").down(args.lab, instance=inst),
                          instances))
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        subprocess.run(["rm", "-rf", str(work)], check=False)


def _pid_of(name: str) -> int | None:
    found = subprocess.run(["pidof", "-s", name], capture_output=True, text=True).stdout
    return int(found) if found.strip() else None



if __name__ == "__main__":
    main()
