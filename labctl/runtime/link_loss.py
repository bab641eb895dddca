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
"""

from __future__ import annotations

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
    return (f'oifname "{veth}" ether type {{ ip, ip6 }} numgen random mod {SCALE} < '
            f'{threshold} counter drop comment "{comment}"')


def script(veth: str, percent: float, comment: str) -> str:
    return (f"add table bridge {TABLE}\n"
            f"add chain bridge {TABLE} forward "
            "{ type filter hook forward priority -10; policy accept; }\n"
            f"add rule bridge {TABLE} forward {rule(veth, percent, comment)}\n")


def host_interface(ifindex: int, sys_net: Path = _SYS_NET) -> str | None:
    """The host's interface with that index (a node's eth0 names its peer by `iflink`)."""
    for entry in sys_net.iterdir():
        try:
            if int((entry / "ifindex").read_text()) == ifindex:
                return entry.name
        except (OSError, ValueError):
            continue
    return None


def stale_handles(listing: str, present: set[str]) -> list[int]:
    """Handles of rules (from `nft -a list chain`) whose veth no longer exists."""
    found = []
    for line in listing.splitlines():
        match = re.search(r'oifname "([^"]+)".*# handle (\d+)', line)
        if match and match.group(1) not in present:
            found.append(int(match.group(2)))
    return found


def apply(ifindex: int, percent: float, comment: str, nft: str = "nft") -> bool:
    """Drop `percent` of what the host sends towards the node behind `ifindex`."""
    veth = host_interface(ifindex)
    if veth is None:
        return False
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
