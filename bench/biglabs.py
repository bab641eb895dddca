"""Large labs for validation speed: 6,000 networks with explicit /29 subnets, and
4,000 nodes with 5,000 steps naming unknown nodes. Run: python3 -m bench.biglabs
"""

from __future__ import annotations

import contextlib
import time

from bench.stats import summary


def many_networks(count: int = 6000) -> str:
    """`count` networks with distinct /29 subnets and one node on all of them."""
    lines = ["name: many-networks", "networks:"]
    for i in range(count):
        base = 10 << 24 | (i * 8)
        lines.append(f"  n{i}: {{subnet: {base >> 24}.{base >> 16 & 255}.{base >> 8 & 255}."
                     f"{base & 255}/29}}")
    lines += ["nodes:", "  a:", "    networks: [" + ", ".join(f"n{i}" for i in range(count)) + "]"]
    return "\n".join(lines) + "\n"


def many_references(nodes: int = 4000, steps: int = 5000) -> str:
    """`nodes` nodes and `steps` steps, each on a node that does not exist."""
    lines = ["name: many-references", "nodes:"]
    lines += [f"  node-{i}: {{}}" for i in range(nodes)]
    lines.append("steps:")
    lines += [f"  - {{on: ghost-{i}, run: 'true'}}" for i in range(steps)]
    return "\n".join(lines) + "\n"


def time_parse(text: str, runs: int = 3) -> list[float]:
    from labctl.errors import LabInvalid
    from labctl.lab.loader import parse

    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        with contextlib.suppress(LabInvalid):
            parse(text, "big.yaml")
        samples.append(time.perf_counter() - start)
    return samples


if __name__ == "__main__":
    for name, text in (("6,000 /29 networks", many_networks()),
                       ("4,000 nodes, 5,000 bad references", many_references())):
        print(f"{len(text) // 1024} KiB", summary(name, time_parse(text, runs=5)))
