#!/usr/bin/env python3
"""N instances of a lab side by side: time to bring them all up, memory per idle instance.

Usage: python bench/bench_instances.py [--instances 20] [--lab handshake-lab] [--workers 4]
Memory is what the kernel charges each container's cgroup (Docker's stats API,
usage minus page cache), summed per instance after a short idle pause.
Also checks that every instance is up and that no client reaches another
instance's server.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from labctl.lab import loader
from labctl.runtime import connect
from labctl.service.engine import Engine

# cgroup v2 first, then v1 (this host's engine uses v1): usage, then the page cache to take off.
_MEMORY = ("if [ -f /sys/fs/cgroup/memory.current ]; then "
           "cat /sys/fs/cgroup/memory.current; grep '^inactive_file ' /sys/fs/cgroup/memory.stat; "
           "else cat /sys/fs/cgroup/memory/memory.usage_in_bytes; "
           "grep '^total_inactive_file ' /sys/fs/cgroup/memory/memory.stat; fi")


def memory_bytes(runtime, container: str) -> int:
    """The node's cgroup memory less its page cache, as `docker stats` counts it."""
    _, out, _ = runtime.run(container, ["sh", "-c", _MEMORY])
    lines = out.decode().split()
    return int(lines[0]) - (int(lines[2]) if len(lines) > 2 else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--lab", default="handshake-lab")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    lab = loader.load(args.lab)
    engine = Engine(connect())
    names = [f"bench-{i}" for i in range(args.instances)]
    start = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            results = list(pool.map(lambda inst: engine.up(lab, inst), names))
        elapsed = time.perf_counter() - start
        servers = [next(n for n in nodes if n.node == "server") for nodes in results]
        clients = [next(n for n in nodes if n.node == "client") for nodes in results]
        # isolation: each client probes every other instance's server at once
        crossed = 0
        for i, client in enumerate(clients):
            others = " ".join(s.ip for j, s in enumerate(servers) if j != i)
            probe = f"for ip in {others}; do (nc -z -w 1 $ip 80 && echo $ip) & done; wait"
            _, out, _ = engine.runtime.run(client.container, ["sh", "-c", probe])
            crossed += len(out.split())
        time.sleep(2)  # idle
        per_instance = []
        for nodes in results:
            per_instance.append(sum(memory_bytes(engine.runtime, n.container)
                                    for n in nodes) / 2**20)
    finally:
        down_start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            list(pool.map(lambda inst: engine.down(lab.name, inst), names))
        down_elapsed = time.perf_counter() - down_start
    print(f"{args.instances} instances of {lab.name} up in {elapsed:.2f} s "
          f"({elapsed / args.instances:.2f} s each, {args.workers} at a time); "
          f"all down in {down_elapsed:.2f} s")
    print(f"memory per idle instance: median {statistics.median(per_instance):.1f} MiB, "
          f"min {min(per_instance):.1f}, max {max(per_instance):.1f}")
    print(f"cross-instance connections that succeeded: {crossed} "
          f"(of {args.instances * (args.instances - 1)} tried)")


if __name__ == "__main__":
    main()
