"""Lab subnets from labctl's own pool, never Docker's default pools.

Docker's defaults run out after about 31 networks; a classroom host runs
more labs than that. Each lab instance gets one /24 (by default) from
LABCTL_SUBNET_POOL (default 10.213.0.0/16: 256 labs), chosen to overlap no
existing Docker network.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from collections.abc import Callable, Iterable, Iterator

from labctl.errors import InvalidInput, RuntimeFailure, SubnetTaken

DEFAULT_POOL = "10.213.0.0/16"
DEFAULT_PREFIX = 24

Network = ipaddress.IPv4Network


def pool() -> tuple[Network, int]:
    text = os.environ.get("LABCTL_SUBNET_POOL", DEFAULT_POOL)
    try:
        net = ipaddress.IPv4Network(text)
        prefix = int(os.environ.get("LABCTL_SUBNET_PREFIX", DEFAULT_PREFIX))
    except ValueError as exc:
        raise InvalidInput(f"LABCTL_SUBNET_POOL/PREFIX: {exc}") from None
    if not net.prefixlen <= prefix <= 29:
        raise InvalidInput(f"LABCTL_SUBNET_PREFIX {prefix} must lie between /{net.prefixlen} "
                           "and /29")
    return net, prefix


def candidates(key: str, used: Iterable[Network]) -> Iterator[Network]:
    """Free subnets of the pool, starting at a place derived from `key`.

    Starting from a hash of lab and instance makes two concurrent `up`s
    unlikely to race for the same subnet; the engine retries on a clash.
    """
    net, prefix = pool()
    subnets = list(net.subnets(new_prefix=prefix))
    start = int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(subnets)
    used = list(used)
    found = False
    for subnet in subnets[start:] + subnets[:start]:
        if not any(subnet.overlaps(u) for u in used):
            found = True
            yield subnet
    if not found:
        raise RuntimeFailure(
            f"no free /{prefix} subnet left in {net}: run `labctl status` and bring labs down, "
            "or set LABCTL_SUBNET_POOL to a larger pool")


SUBNET_ATTEMPTS = 8  # subnets tried when concurrent `up`s keep taking the one we chose


def claim(wanted: str | None, key: str, used: dict[Network, str],
          create: Callable[[str], None]) -> str:
    """Create a network on `wanted`, or on a free subnet of the pool; return the subnet.

    `used` maps every subnet the host holds to who holds it; `create(subnet)`
    makes the network and raises SubnetTaken when the subnet was taken since
    (another `up` at the same moment): the next candidate is tried then.
    """
    if wanted:
        for held, holder in used.items():
            if ipaddress.IPv4Network(wanted).overlaps(held):
                raise SubnetTaken(wanted, str(held), holder)
        create(wanted)
        return wanted
    for attempt, subnet in enumerate(candidates(key, list(used))):
        try:
            create(str(subnet))
        except SubnetTaken:
            if attempt + 1 < SUBNET_ATTEMPTS:
                continue
            raise
        return str(subnet)
    raise RuntimeFailure("no free subnet found")  # pragma: no cover - candidates raises first
