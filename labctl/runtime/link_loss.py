"""Loss on a link, placed where a real lossy link loses packets: between the two captures.

A node's tcpdump sees an arriving packet before anything inside the node can
drop it, so a drop made in the node (the agent's iptables fallback) still
shows in the receiver's capture. Here the drop is made on the host, on the
bridge port that leads to the receiving node (nftables `bridge` family,
forward hook, `oifname` = the node's host-side veth): the sender's capture
shows what it sent, the receiver's capture never shows what the link lost.

Only when labctl runs as root with nft, next to its engine (the same test as
the host guard's "nft" path); otherwise the agent's in-node drop stays.
Rules whose veth is gone (a removed node) are pruned on every change.

Which veth leads to the node is decided from facts the node cannot forge, never
from anything read inside it (a student with root in a node can move its address
to an interface of any index): the ports of the lab network's own bridge, on the
host, and the veths of the node's network namespace (the engine's sandbox, listed
by the host's own `ip`) whose peer lives outside that namespace, which only the
engine can make. A node can confuse this at most within its own lab network.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from labctl.runtime import host_guard as isolation

TABLE = "labctl_links"
SCALE = 1_000_000  # numgen range: loss_percent with four decimals
_SYS_NET = Path("/sys/class/net")


def available(host: isolation.Host | None = None) -> bool:
    host = host or isolation.current_host()
    return bool(host.root and host.nft and host.local_engine)


def rule(veth: str, percent: float, comment: str) -> str:
    threshold = round(percent / 100 * SCALE)
    # numgen's values are 0..SCALE-1: a total loss is a plain drop (nft refuses `< SCALE`)
    chance = f"numgen random mod {SCALE} < {threshold} " if threshold < SCALE else ""
    return (f'oifname "{veth}" ether type {{ ip, ip6 }} {chance}counter drop '
            f'comment "{comment}"')


def script(veth: str, percent: float, comment: str) -> str:
    return (f"add table bridge {TABLE}\n"
            f"add chain bridge {TABLE} forward "
            "{ type filter hook forward priority -10; policy accept; }\n"
            f"add rule bridge {TABLE} forward {rule(veth, percent, comment)}\n")


def bridge_ports(bridge: str, sys_net: Path = _SYS_NET) -> dict[int, str]:
    """The host-side interfaces plugged into `bridge`, by their index (host facts)."""
    ports: dict[int, str] = {}
    try:
        names = [entry.name for entry in (sys_net / bridge / "brif").iterdir()]
    except OSError:
        return ports
    for name in names:
        try:
            ports[int((sys_net / name / "ifindex").read_text())] = name
        except (OSError, ValueError):
            continue
    return ports


def engine_made_links(listing: str) -> dict[int, str]:
    """From `ip -j -d link show` in a node's namespace: the veths whose peer lives in
    another namespace (only the engine can make those), by the peer's index there."""
    found: dict[int, str] = {}
    try:
        links = json.loads(listing)
    except ValueError:
        return found
    for link in links if isinstance(links, list) else []:
        kind = (link.get("linkinfo") or {}).get("info_kind")
        if kind == "veth" and "link_netnsid" in link and isinstance(link.get("link_index"),
                                                                    int):
            found[link["link_index"]] = str(link.get("ifname", ""))
    return found


def node_port(sandbox: str, bridge: str) -> tuple[str, str] | None:
    """(the host-side veth, the node-side interface) of the node's link on `bridge`:
    a port of that bridge whose peer is an engine-made veth in the node's namespace."""
    if not sandbox:
        return None
    listing = subprocess.run(["nsenter", f"--net={sandbox}", "ip", "-j", "-d", "link",
                              "show"], capture_output=True, text=True, timeout=10)
    if listing.returncode != 0:
        return None
    ports = bridge_ports(bridge)
    matches = [(ports[index], inside)
               for index, inside in engine_made_links(listing.stdout).items()
               if index in ports]
    return matches[0] if len(matches) == 1 else None


def stale_handles(listing: str, present: set[str]) -> list[int]:
    """Handles of rules (from `nft -a list chain`) whose veth no longer exists."""
    found = []
    for line in listing.splitlines():
        match = re.search(r'oifname "([^"]+)".*# handle (\d+)', line)
        if match and match.group(1) not in present:
            found.append(int(match.group(2)))
    return found


def apply(veth: str, percent: float, comment: str, nft: str = "nft") -> bool:
    """Drop `percent` of what the host sends towards the node behind `veth`."""
    _prune(nft)
    result = subprocess.run([nft, "-f", "-"], input=script(veth, percent, comment),
                            capture_output=True, text=True)
    return result.returncode == 0


def _prune(nft: str) -> None:
    listing = subprocess.run([nft, "-a", "list", "chain", "bridge", TABLE, "forward"],
                             capture_output=True, text=True)
    if listing.returncode != 0:
        return  # no table yet
    present = {entry.name for entry in _SYS_NET.iterdir()}
    for handle in stale_handles(listing.stdout, present):
        subprocess.run([nft, "delete", "rule", "bridge", TABLE, "forward", "handle",
                        str(handle)], capture_output=True, text=True)
