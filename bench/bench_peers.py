#!/usr/bin/env python3
"""labctl against the tools a user would use instead, side by side, in one run.

Usage: python bench/bench_peers.py [--runs 7]

Each contender brings up the same thing on labctl's own node image: an
internal bridge, a server running the course's HTTP server on port 80 and an
idle client; it is "ready" when the server's port listens (the peers wait for
that with one `docker exec` that polls /proc/net/tcp, as a careful script
would). Then each tears it down. The contenders take turns, run after run,
so a noisy moment hurts them alike. Prints median/min/max per contender and
the ratios labctl/peer.

- labctl:          `labctl up handshake-lab` / `labctl down handshake-lab` (the console
                   script itself, not a version manager's shim in front of it). The first
                   `up` validates the lab and caches its blueprint (labctl/lab/blueprint.py);
                   the others start from it, as a student's repeated ups do
- docker CLI:      `docker network create --internal`, two `docker run -d`, the wait;
                   `docker rm -f` and `docker network rm`
- docker-compose:  `docker-compose up -d` of the same two services, the wait;
                   `docker-compose down -t 0`
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stats import summary

INSTANCE = "benchpeers"
# The console script pip installed beside this interpreter: a version manager's shim on
# PATH (pyenv's adds 80 ms to each call) would be timed too, and it is not labctl.
_BESIDE = Path(sys.executable).parent / "labctl"
LABCTL = str(_BESIDE) if _BESIDE.exists() else "labctl"
PREFIX = "lcbench"  # names of the peers' containers, network and compose project
SERVER_ARGV = ["python3", "-u", "/opt/labctl/services/http_server.py", "--port", "80"]
# Port 80 is 0050 in /proc/net/tcp; state 0A is LISTEN.
WAIT_LISTEN = "until grep -q ':0050 00000000:0000 0A' /proc/net/tcp; do sleep 0.01; done"

COMPOSE = f"""\
version: "2.4"
networks:
  lab:
    internal: true
services:
  server:
    image: {{image}}
    entrypoint: {SERVER_ARGV!r}
    networks: [lab]
  client:
    image: {{image}}
    entrypoint: ["sleep", "infinity"]
    networks: [lab]
"""


def compile_labctl() -> None:
    """labctl's bytecode written once, as an installed tool has it: with
    PYTHONDONTWRITEBYTECODE set (or a read-only tree) every call would compile labctl's
    modules from source again, and that would be timed too (docker and compose are Go)."""
    import compileall
    import importlib.util
    spec = importlib.util.find_spec("labctl")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            compileall.compile_dir(location, quiet=1)


def build_image() -> str:
    """Build (or reuse) the node image; its content-addressed ref, as labctl prints it."""
    result = subprocess.run(["labctl", "images", "build"], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"labctl images build failed:\n{result.stderr}")
    return result.stderr.strip().splitlines()[-1].split()[0]


def run(argv: list[str], **kwargs) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr}")


def timed(steps) -> float:
    start = time.perf_counter()
    steps()
    return time.perf_counter() - start


class Labctl:
    name = "labctl"

    def up(self) -> None:
        run([LABCTL, "up", "handshake-lab", "-i", INSTANCE])

    def down(self) -> None:
        run([LABCTL, "down", "handshake-lab", "-i", INSTANCE])


class DockerCli:
    name = "docker CLI"
    net, server, client = f"{PREFIX}-net", f"{PREFIX}-server", f"{PREFIX}-client"

    def __init__(self, image: str):
        self.image = image

    def up(self) -> None:
        run(["docker", "network", "create", "--internal", self.net])
        run(["docker", "run", "-d", "--name", self.server, "--network", self.net,
             "--network-alias", "server", "--entrypoint", SERVER_ARGV[0], self.image,
             *SERVER_ARGV[1:]])
        run(["docker", "run", "-d", "--name", self.client, "--network", self.net,
             "--entrypoint", "sleep", self.image, "infinity"])
        run(["docker", "exec", self.server, "sh", "-c", WAIT_LISTEN])

    def down(self) -> None:
        run(["docker", "rm", "-f", self.server, self.client])
        run(["docker", "network", "rm", self.net])

    def clean(self) -> None:
        subprocess.run(["docker", "rm", "-f", self.server, self.client], capture_output=True)
        subprocess.run(["docker", "network", "rm", self.net], capture_output=True)


class Compose:
    name = "docker-compose"

    def __init__(self, directory: Path, image: str):
        (directory / "docker-compose.yml").write_text(COMPOSE.format(image=image))
        self.base = ["docker-compose", "-p", PREFIX, "-f", str(directory / "docker-compose.yml")]

    def up(self) -> None:
        run([*self.base, "up", "-d"])
        run([*self.base, "exec", "-T", "server", "sh", "-c", WAIT_LISTEN])

    def down(self) -> None:
        run([*self.base, "down", "-t", "0"])

    def clean(self) -> None:
        subprocess.run([*self.base, "down", "-t", "0"], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    compile_labctl()
    image = build_image()
    with tempfile.TemporaryDirectory() as tmp:
        contenders = [Labctl(), DockerCli(image), Compose(Path(tmp), image)]
        ups: dict[str, list[float]] = {c.name: [] for c in contenders}
        downs: dict[str, list[float]] = {c.name: [] for c in contenders}
        try:
            for index in range(args.runs):
                turn = contenders[index % 3:] + contenders[:index % 3]  # rotate who goes first
                for contender in turn:
                    ups[contender.name].append(timed(contender.up))
                    downs[contender.name].append(timed(contender.down))
        finally:
            subprocess.run(["labctl", "down", "handshake-lab", "-i", INSTANCE],
                           capture_output=True)
            for contender in contenders[1:]:
                contender.clean()
    for phase, samples in (("up", ups), ("down", downs)):
        for name, values in samples.items():
            print(summary(f"{phase:<5}{name}", values, width=22))
        ours = statistics.median(samples["labctl"])
        for peer in ("docker CLI", "docker-compose"):
            print(f"     ratio labctl/{peer}: {ours / statistics.median(samples[peer]):.2f}")


if __name__ == "__main__":
    main()
