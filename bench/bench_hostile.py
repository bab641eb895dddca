#!/usr/bin/env python3
"""One hostile student against the classroom server, while a second student and the
instructor work: their status latencies (p50/p95) and the server's peak RSS, beside a
quiet run (issue 18; docs/classroom.md, "What one student can and cannot do").

Usage (as root, Docker running): python bench/bench_hostile.py [--seconds 40]

Each run starts its own `labctl serve` (the documented default limits) on a temporary
socket and a loopback port. The students are token users over HTTP on loopback; the
instructor is root on the socket. The hostile run replays, at once:
  hang    a shell that runs `yes` and never reads, then goes; 70 execs into its node;
          a capture swapped for a FIFO, then `captures`; 90 `exec sleep 20`
  memory  a live capture that is never read while the node rewrites its pcap;
          `exec head -c 2G /dev/zero`
  queue   two `test`s whose step sleeps 20 s, then the second student's `up`
Traffic goes only to the server started here and the lab nodes it makes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from labctl.classroom.client.api import Client, ServerError

ROOT = Path(__file__).resolve().parent.parent
LAB = "handshake-lab"
SLEEPY = "name: sleepy\nnodes:\n  box: {}\nsteps:\n  - on: box\n    run: sleep 20\n"


class Server:
    def __init__(self, tag: str, options: list[str] | None = None):
        self.work = Path(tempfile.mkdtemp(prefix=f"labctl-bench-hostile-{tag}-"))
        self.sock = self.work / "labctl.sock"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "labctl.cli", "serve", "--socket", str(self.sock),
             "--state-dir", str(self.work / "state"), "--listen", f"127.0.0.1:{self.port}",
             *(options or [])],
            cwd=ROOT, stderr=subprocess.DEVNULL)
        for _ in range(150):
            try:
                with self.instructor() as client:
                    client.whoami()
                break
            except ServerError:
                time.sleep(0.2)
        self.tokens = {}

    def instructor(self, timeout: float = 60) -> Client:
        return Client(f"unix://{self.sock}", timeout=timeout)

    def student(self, user: str, timeout: float = 120) -> Client:
        if user not in self.tokens:
            done = subprocess.run([sys.executable, "-m", "labctl.cli", "token", "add", user,
                                   "--state-dir", str(self.work / "state")], cwd=ROOT,
                                  capture_output=True, text=True, check=True)
            self.tokens[user] = done.stdout.strip()
        # Client speaks https:// and unix://; the bench's students use plain HTTP on
        # loopback (what the server allows without a certificate there).
        client = Client(f"https://127.0.0.1:{self.port}", timeout=timeout)
        client._http.close()
        client._http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}",
                                    headers={"authorization": f"Bearer {self.tokens[user]}"},
                                    timeout=timeout)
        return client

    def peak_rss(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> float:
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        stopped = time.monotonic() - began
        subprocess.run(["rm", "-rf", str(self.work)], check=False)
        return stopped


def _timed(call) -> float | None:
    began = time.perf_counter()
    try:
        call()
    except ServerError:
        return None
    return time.perf_counter() - began


class Workers:
    """The second student and the instructor, asking for their status in a loop."""

    def __init__(self, server: Server):
        self.server, self.stop = server, threading.Event()
        self.times: dict[str, list[float | None]] = {"student": [], "instructor": [],
                                                     "engine": []}
        self.when: dict[str, list[float]] = {"student": [], "instructor": [], "engine": []}
        self.began = time.monotonic()
        self.up_seconds: float | None = None
        self.marks: list[str] = []

    def run(self) -> list[threading.Thread]:
        self.server.student("bench-student").close()  # its token, before any thread asks
        self.server.student("bench-attacker").close()

        def loop(who: str) -> None:
            if who == "engine":  # the same listing, asked of Docker itself: its share
                from labctl.runtime.engine_api import EngineAPI, unix_socket
                api = EngineAPI(unix_socket(os.environ.get("DOCKER_HOST")))
                ask = lambda: api.containers(all=True, filters={"label": ["labctl.lab"]})  # noqa: E731
                while not self.stop.is_set():
                    self.when[who].append(time.monotonic() - self.began)
                    self.times[who].append(_timed(ask))
                    self.stop.wait(0.2)
                return
            make = ((lambda: self.server.student("bench-student", timeout=30))
                    if who == "student" else lambda: self.server.instructor(timeout=30))
            with make() as client:
                while not self.stop.is_set():
                    self.when[who].append(time.monotonic() - self.began)
                    self.times[who].append(_timed(client.status))
                    self.stop.wait(0.2)

        threads = [threading.Thread(target=loop, args=(w,), daemon=True) for w in self.times]
        for thread in threads:
            thread.start()
        return threads

    def up(self) -> None:
        with self.server.student("bench-student", timeout=300) as client:
            self.up_seconds = _timed(lambda: client.up(LAB))

    def slowest(self, who: str, count: int = 8) -> str:
        pairs = sorted(((t, w) for t, w in zip(self.times[who], self.when[who], strict=True)
                        if t is not None), reverse=True)[:count]
        return ", ".join(f"{t * 1000:.0f} ms at {w:.0f} s" for t, w in pairs)

    def line(self, who: str) -> str:
        done = sorted(t for t in self.times[who] if t is not None)
        failed = sum(t is None for t in self.times[who])
        if not done:
            return f"{who}: no status answered ({failed} failed)"
        p95 = done[min(len(done) - 1, int(len(done) * 0.95))]
        what = "Docker's own listing" if who == "engine" else f"{who} status"
        return (f"{what} p50 {statistics.median(done) * 1000:.0f} ms, p95 "
                f"{p95 * 1000:.0f} ms ({len(done)} answered, {failed} failed)")


def _never_reading(server: Server, token: str, path: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}"
                 "\r\n\r\n".encode())
    sock.recv(4096)
    return sock


def attack(server: Server, seconds: float, workers: Workers) -> dict[str, int]:
    counts = {"refused": 0, "answered": 0}

    def mark(what: str) -> None:
        workers.marks.append(f"{what} at {time.monotonic() - workers.began:.0f} s")

    def call(work, timeout: float = 120) -> None:
        with server.student("bench-attacker", timeout=timeout) as client:
            try:
                work(client)
                counts["answered"] += 1
            except ServerError:
                counts["refused"] += 1

    def many(count: int, work, timeout: float = 120) -> None:
        with ThreadPoolExecutor(max_workers=count) as pool:
            list(pool.map(lambda _: call(work, timeout), range(count)))

    call(lambda c: c.up(LAB))
    call(lambda c: c.upload(SLEEPY))
    token = server.tokens["bench-attacker"]
    jobs = []

    def later(work) -> None:
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        jobs.append(thread)

    mark("shell")
    # hang: the shell that never reads, then 70 execs into its node
    from websockets.sync.client import connect
    with contextlib.suppress(OSError), connect(
            f"ws://127.0.0.1:{server.port}/v1/labs/{LAB}/nodes/server/shell",
            additional_headers={"authorization": f"Bearer {token}"}, max_queue=1,
            ping_interval=None, compression=None) as ws:
        ws.send(b"yes\n")
        time.sleep(2)
        ws.socket.close()
    mark("70 execs")
    later(lambda: many(70, lambda c: c.exec(LAB, "server", ["echo", "hi"], timeout=5), 60))
    mark("tests")
    # queue: two tests whose step sleeps, then the other student's up
    later(lambda: call(lambda c: c.test("sleepy")))
    later(lambda: call(lambda c: c.test("sleepy", f"{_instance('bench-attacker')}-2")))
    time.sleep(3)
    mark("up")
    later(workers.up)
    mark("memory")
    # memory: a live capture never read while the node rewrites its pcap; 2 GB of output
    later(lambda: call(lambda c: c.exec(LAB, "server", [
        "sh", "-c", f"end=$(($(date +%s) + {int(seconds)})); while [ $(date +%s) -lt $end ];"
        " do head -c 8M /dev/zero > /captures/server.pcap; done"], timeout=int(seconds) + 5)))
    stalled = _never_reading(server, token, f"/v1/labs/{LAB}/nodes/client/capture/live")
    later(lambda: call(lambda c: c.exec(LAB, "client", ["head", "-c", "2G", "/dev/zero"])))
    mark("fifo")
    # hang: a FIFO for a capture, then 90 long execs
    call(lambda c: c.exec(LAB, "client", ["sh", "-c", "rm -f /captures/client.pcap; "
                                          "mkfifo /captures/client.pcap"]))
    later(lambda: call(lambda c: c.captures(LAB, node="client"), 30))
    mark("90 execs")
    later(lambda: many(90, lambda c: c.exec(LAB, "client", ["sleep", "20"], timeout=30), 60))
    for thread in jobs:
        thread.join(timeout=seconds + 60)
    stalled.close()
    return counts


def _instance(user: str) -> str:
    from labctl.classroom.server.instances import base_instance
    return base_instance(user)


def one_run(tag: str, seconds: float, hostile: bool, verbose: bool = False,
            options: list[str] | None = None) -> None:
    server = Server(tag, options)
    workers = Workers(server)
    try:
        threads = workers.run()
        began = time.monotonic()
        counts = None
        if hostile:
            counts = attack(server, seconds, workers)
        else:
            workers.up()
        time.sleep(max(0.0, seconds - (time.monotonic() - began)))
        workers.stop.set()
        for thread in threads:
            thread.join(timeout=35)
        print(f"{tag} run ({time.monotonic() - began:.0f} s; the host's load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
        for who in ("student", "instructor", "engine"):
            print(f"  {workers.line(who)}")
        up = "failed" if workers.up_seconds is None else f"{workers.up_seconds:.1f} s"
        print(f"  the second student's up: {up}")
        if counts is not None:
            print(f"  the attacker: {counts['answered']} requests answered, "
                  f"{counts['refused']} refused")
        print(f"  server peak RSS {server.peak_rss() / 2**20:.0f} MiB")
        if verbose:
            print(f"  marks: {'; '.join(workers.marks)}")
            for who in ("student", "instructor", "engine"):
                print(f"  {who}'s slowest: {workers.slowest(who)}")
    finally:
        with server.instructor(timeout=120) as client:
            for user in ("bench-student", "bench-attacker"):
                base = _instance(user)
                for lab, instance in ((LAB, base), ("sleepy", base), ("sleepy", f"{base}-2")):
                    with contextlib.suppress(ServerError):
                        client.down(lab, instance)
        print(f"  SIGTERM: stopped in {server.stop():.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40, help="length of each run")
    parser.add_argument("--serve", action="append", default=[], metavar="OPTION",
                        help="an option for labctl serve (repeatable), e.g. "
                             "--serve=--max-requests=2")
    parser.add_argument("--verbose", action="store_true",
                        help="also when each attack began, and the slowest answers")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the server and the labs need Docker")
    print("goals: other students' status p95 under 200 ms, server RSS under 500 MiB")
    one_run("quiet", args.seconds, hostile=False, verbose=args.verbose, options=args.serve)
    one_run("hostile", args.seconds, hostile=True, verbose=args.verbose, options=args.serve)


if __name__ == "__main__":
    main()
