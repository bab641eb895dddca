"""The host guard: no packet from a lab network reaches the host or leaves the lab.

Every lab network is a Linux bridge named `lc-<12 hex>`. One static nftables
ruleset, owned by labctl and independent of any lab, drops for every `lc-*`
bridge:

- input: anything delivered to the host itself (a frame sent to the bridge's
  MAC, to any host address), IPv4 and IPv6 (`inet`), and ARP (`arp`), so the
  host neither answers nor accepts anything from a lab;
- forward: anything the host would route out of a lab (to a non-lab interface)
  or into one. Bridged frames between nodes of one network stay allowed: with
  br_netfilter they cross this hook with in = out = that bridge. A packet
  routed from one lab bridge to another would need a host route into the
  second bridge; there is none, since lab bridges carry no IPv4 address
  (`inhibit_ipv4`) and no IPv6 prefix (only link-local, which is never
  forwarded). So whatever the host routes from a lab leaves by a non-lab
  interface and is dropped;
- output: anything the host itself would send into a lab.

A drop in any base chain is final whatever other tables accept, so Docker
(re)writing its own chains, or a Docker restart, cannot undo it. The table
names no lab, so `up` installs it (an atomic replace, idempotent) while it
creates the networks, waits for it before any node starts (no node, no
packet), and `down` never needs to remove it. labctl owns the `lc-` prefix:
any other interface named so would be cut off the same way.

Pure decisions here; running `nft` goes through `subprocess` (as root) or
through the runtime's short-lived helper container (a user in the docker group).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from labctl.errors import RuntimeFailure

TABLE = "labctl"
BRIDGE_PREFIX = "lc-"
BRIDGE_PATTERN = f"{BRIDGE_PREFIX}*"
BRIDGE_OPTION = "com.docker.network.bridge.name"
_IFNAMSIZ = 15  # Linux interface names: at most 15 characters
# A user in the docker group cannot see the host's ruleset: after this long the
# helper container installs it again, in case a firewall reload flushed it.
MARKER_TTL = 3600.0

# Priority -300: before Docker's and any distribution firewall's filter chains
# (not needed for a drop to hold, but it keeps the guard's counters complete).
RULESET = f"""\
table inet {TABLE} {{}}
delete table inet {TABLE}
table inet {TABLE} {{
    comment "labctl host guard: nothing from a lab network reaches the host or leaves the lab"
    chain input {{
        type filter hook input priority -300; policy accept;
        iifname "{BRIDGE_PATTERN}" counter drop
    }}
    chain forward {{
        type filter hook forward priority -300; policy accept;
        iifname "{BRIDGE_PATTERN}" oifname != "{BRIDGE_PATTERN}" counter drop
        oifname "{BRIDGE_PATTERN}" iifname != "{BRIDGE_PATTERN}" counter drop
    }}
    chain output {{
        type filter hook output priority -300; policy accept;
        oifname "{BRIDGE_PATTERN}" counter drop
    }}
}}
table arp {TABLE} {{}}
delete table arp {TABLE}
table arp {TABLE} {{
    chain input {{
        type filter hook input priority -300; policy accept;
        iifname "{BRIDGE_PATTERN}" counter drop
    }}
    chain output {{
        type filter hook output priority -300; policy accept;
        oifname "{BRIDGE_PATTERN}" counter drop
    }}
}}
"""
REMOVE = f"""\
table inet {TABLE} {{}}
delete table inet {TABLE}
table arp {TABLE} {{}}
delete table arp {TABLE}
"""


def bridge_name(docker_network: str) -> str:
    """The Linux bridge of a lab network: `lc-` and 12 hex of its Docker name."""
    name = BRIDGE_PREFIX + hashlib.sha256(docker_network.encode()).hexdigest()[:12]
    assert len(name) <= _IFNAMSIZ
    return name


def ruleset_digest() -> str:
    return hashlib.sha256(RULESET.encode()).hexdigest()[:16]


class HelperRunner(Protocol):
    """The runtime's way to run one command in the engine's host network namespace."""

    def run_host_helper(self, image: str, argv: list[str]) -> tuple[int, str]: ...


@dataclass(frozen=True)
class Host:
    """What decides how the guard is installed (read once, so the decision is pure)."""

    root: bool
    nft: str | None  # path of nft on this machine
    local_engine: bool  # the engine runs on this machine (its host is our host)
    boot_id: str
    engine: str  # which engine: DOCKER_HOST or the default socket
    marker: Path | None  # where a non-root user remembers the guard (per boot, an hour)


def how_to_install(host: Host, marker: tuple[str, float] | None) -> str:
    """'nft' (run it here), 'container' (through the engine), or 'done' (recently).

    `marker` is what the marker file holds and its age in seconds.
    """
    if host.root and host.nft and host.local_engine:
        return "nft"  # milliseconds: always replace, so a flushed ruleset comes back
    if marker is not None and marker[0] == marker_for(host) and 0 <= marker[1] < MARKER_TTL:
        return "done"
    return "container"


def marker_for(host: Host) -> str:
    return f"{host.boot_id} {host.engine} {ruleset_digest()}\n"


def current_host() -> Host:
    docker_host = os.environ.get("DOCKER_HOST", "")
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot_id = ""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Host(root=os.geteuid() == 0, nft=shutil.which("nft"),
                local_engine=not docker_host or docker_host.startswith("unix://"),
                boot_id=boot_id, engine=docker_host or "default",
                marker=cache / "labctl" / "host-guard" if boot_id else None)


def install(runner: HelperRunner, image: Callable[[], str], host: Host | None = None,
            progress: Callable[[str], None] = lambda _m: None) -> str:
    """Make sure the guard is in place; return how ('nft', 'container' or 'done')."""
    host = host or current_host()
    how = how_to_install(host, _read(host.marker))
    if how == "nft":
        _run_nft(host.nft or "nft", RULESET)
    elif how == "container":
        progress("installing the host guard (nftables) through a helper container")
        code, output = runner.run_host_helper(image(), ["nft", RULESET])
        if code != 0:
            raise RuntimeFailure(f"cannot install labctl's host guard (nftables), so no lab "
                                 f"starts: nft exited {code}: {output.strip()[-500:]}")
        _write(host.marker, marker_for(host))
    return how


def remove(runner: HelperRunner, image: Callable[[], str], host: Host | None = None) -> None:
    """Take the guard away (`gc` when no lab network is left; the escape test's control)."""
    host = host or current_host()
    if host.root and host.nft and host.local_engine:
        _run_nft(host.nft, REMOVE)
    else:
        code, output = runner.run_host_helper(image(), ["nft", REMOVE])
        if code != 0:
            raise RuntimeFailure(f"cannot remove labctl's host guard: {output.strip()[-500:]}")
    _write(host.marker, None)


def _run_nft(nft: str, script: str) -> None:
    result = subprocess.run([nft, "-f", "-"], input=script, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeFailure(f"cannot install labctl's host guard (nftables), so no lab "
                             f"starts: {result.stderr.strip()[-500:]}")


def _read(marker: Path | None) -> tuple[str, float] | None:
    try:
        return (marker.read_text(), time.time() - marker.stat().st_mtime) if marker else None
    except OSError:
        return None


def _write(marker: Path | None, text: str | None) -> None:
    """Best effort: without a marker the next `up` only pays the helper again."""
    if marker is None:
        return
    try:
        if text is None:
            marker.unlink(missing_ok=True)
        else:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(text)
    except OSError:
        pass
