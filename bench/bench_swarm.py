#!/usr/bin/env python3
"""N `up`s pressed at once through the classroom server onto a Docker Swarm.

Usage (as root, Docker running): python bench/bench_swarm.py [--ups 60] [--engines 3]
Starts a test swarm (labctl/testing/swarm.py: engines in containers beside this
host's own engine; or uses a running one, --name), then `labctl serve --runtime
swarm` on a temporary socket, presses N ups at once over the socket (as root: an
instructor, so each names its own instance, as N students would), and prints the
time to the last lab, each host's share of the labs, and the CPU and memory the
server, the engines and the nodes used. Then takes every lab down, stops the server
and removes the swarm it started.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from stats import cpu_seconds

from labctl.classroom.client.api import Client, ServerError
from labctl.testing import swarm

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ups", type=int, default=60)
    parser.add_argument("--engines", type=int, default=3)
    parser.add_argument("--concurrent", type=int, default=8, help="--concurrent-ups")
    parser.add_argument("--lab", default="handshake-lab")
    parser.add_argument("--name", default=f"labctl-bench-{os.getpid()}",
                        help="the test swarm (started unless one of that name is up)")
    args = parser.parse_args()
    cluster, started = swarm.find(args.name), time.perf_counter()
    made = cluster is None
    if made:
        cluster = swarm.up(args.engines, args.name, progress=lambda _: None)
        print(f"test swarm of {args.engines} engines up in {time.perf_counter() - started:.1f} s")
    work = Path(tempfile.mkdtemp(prefix="labctl-bench-swarm-"))
    sock = work / "labctl.sock"
    server = subprocess.Popen(
        [sys.executable, "-m", "labctl.cli", "serve", "--socket", str(sock), "--state-dir",
         str(work / "state"), "--concurrent-ups", str(args.concurrent), "--runtime", "swarm",
         "--swarm-manager", cluster.manager.url, "--swarm-certs", str(cluster.certs)],
        cwd=ROOT, stderr=subprocess.DEVNULL)
    instances = [f"bench-sw{os.getpid()}-{i}" for i in range(args.ups)]
    try:
        _wait_for(sock)
        with Client(f"unix://{sock}") as client:  # the image checked on every host once
            client.up(args.lab, instance="bench-warm")
            client.down(args.lab, instance="bench-warm")
        before = _usage(server.pid, cluster)
        start = time.perf_counter()

        def up(instance: str) -> float:
            with Client(f"unix://{sock}") as own:
                own.up(args.lab, instance=instance)
            return time.perf_counter() - start

        with ThreadPoolExecutor(max_workers=args.ups) as pool:
            ready = sorted(pool.map(up, instances))
        after = _usage(server.pid, cluster)
        print(f"{args.ups} ups of {args.lab} at once through the server onto "
              f"{len(cluster.engines)} engines (--concurrent-ups {args.concurrent}): last "
              f"ready after {ready[-1]:.2f} s, median {statistics.median(ready):.2f} s, "
              f"first {ready[0]:.2f} s")
        with Client(f"unix://{sock}") as client:
            nodes = [n for lab in client.status()["labs"] if lab["instance"] in instances
                     for n in lab["nodes"]]
        labs_per_host = Counter(n["host"] for n in nodes if n["node"] == "client")
        print("labs per host: " + ", ".join(f"{h} {c}" for h, c in sorted(labs_per_host.items())))
        cpu = {k: after["cpu"][k] - before["cpu"][k] for k in after["cpu"]}
        print(f"CPU meanwhile: the server {cpu['server']:.1f} s; " + ", ".join(
            f"{e.name} {cpu[e.name]:.1f} s (engine) + {cpu[e.name + ' nodes']:.1f} s (nodes)"
            for e in cluster.engines) + f" (of {os.cpu_count() * ready[-1]:.0f} s on "
            f"{os.cpu_count()} cores)")
        print("memory of the nodes now: " + ", ".join(
            f"{e.name} {after['memory'][e.name] / 2**20:.0f} MiB" for e in cluster.engines)
              + f"; {sum(after['memory'].values()) / 2**20 / max(1, args.ups):.0f} MiB per lab")
        print(json.dumps({"ups": args.ups, "engines": len(cluster.engines),
                          "last_s": round(ready[-1], 2),
                          "median_s": round(statistics.median(ready), 2),
                          "labs_per_host": dict(labs_per_host),
                          "cpu_s": {k: round(v, 1) for k, v in cpu.items()}}))
    finally:
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda inst: _down(sock, args.lab, inst), instances))
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        subprocess.run(["rm", "-rf", str(work)], check=False)
        if made:
            swarm.down(args.name, progress=lambda _: None)


def _wait_for(sock: Path) -> None:
    for _ in range(300):
        try:
            with Client(f"unix://{sock}") as client:
                client.whoami()
            return
        except ServerError:
            time.sleep(0.1)
    raise SystemExit("labctl serve did not answer")


def _down(sock: Path, lab: str, instance: str) -> None:
    try:
        with Client(f"unix://{sock}") as client:
            client.down(lab, instance=instance)
    except ServerError:
        pass


def _usage(server_pid: int, cluster: swarm.Cluster) -> dict:
    """CPU seconds so far: the server; each engine container (dockerd, containerd) and
    the nodes it runs (their cgroups are under /ENGINE, --cgroup-parent); and the nodes'
    memory now."""
    cpu = {"server": cpu_seconds(server_pid)}
    memory = {}
    for engine in cluster.engines:
        cid = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", engine.name],
                             capture_output=True, text=True).stdout.strip()
        cpu[engine.name] = _cgroup_cpu([f"docker/{cid}", f"system.slice/docker-{cid}.scope"])
        cpu[f"{engine.name} nodes"] = _cgroup_cpu([engine.name])
        memory[engine.name] = _cgroup_memory(engine.name)
    return {"cpu": cpu, "memory": memory}


def _cgroup_cpu(paths: list[str]) -> float:
    for path in paths:
        for usage in (Path("/sys/fs/cgroup/cpuacct") / path / "cpuacct.usage",):
            if usage.exists():
                return int(usage.read_text()) / 1e9
        stat = Path("/sys/fs/cgroup") / path / "cpu.stat"  # cgroup v2
        if stat.exists():
            fields = dict(line.split() for line in stat.read_text().splitlines())
            return int(fields["usage_usec"]) / 1e6
    return 0.0


def _cgroup_memory(path: str) -> int:
    for usage in (Path("/sys/fs/cgroup/memory") / path / "memory.usage_in_bytes",
                  Path("/sys/fs/cgroup") / path / "memory.current"):
        if usage.exists():
            return int(usage.read_text())
    return 0



if __name__ == "__main__":
    main()
