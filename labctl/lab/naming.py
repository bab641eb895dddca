"""Names and labels of what labctl creates. Labels are the record of what runs."""

from __future__ import annotations

import getpass
import os
import re

from labctl.errors import InvalidInput

LAB = "labctl.lab"
NODE = "labctl.node"
INSTANCE = "labctl.instance"
NETWORK = "labctl.network"  # on networks: the name the lab gives it
NETWORKS = "labctl.networks"  # on containers: the node's lab networks, primary first
CAPTURE = "labctl.capture"  # path of the node's pcap, when it captures
LAB_NODES = "labctl.lab.nodes"  # on networks: every node of the lab, "server,client"
SERVICES = "labctl.services"  # "http/tcp/80,echo/tcp/50007": status works without the YAML
IMAGE_LABELS = ("labctl.image.hash",)

_INSTANCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


def default_instance() -> str:
    """LABCTL_INSTANCE, else the user's name: two students never collide."""
    explicit = os.environ.get("LABCTL_INSTANCE")
    if explicit:
        return check_instance(explicit)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}"
    cleaned = re.sub(r"[^a-z0-9-]+", "-", user.lower()).strip("-")[:31]
    return cleaned or f"uid{os.getuid()}"


def instance_or_default(name: str | None) -> str:
    """The instance a command acts on: the one named (checked), else the default."""
    return check_instance(name) if name else default_instance()


def check_instance(name: str) -> str:
    if not _INSTANCE_PATTERN.match(name):
        raise InvalidInput(
            f"invalid instance name '{name}': use up to 31 lowercase letters, digits and '-'")
    return name


def network_name(lab: str, instance: str, network: str) -> str:
    return f"labctl.{instance}.{lab}.{network}"


def container_name(lab: str, instance: str, node: str) -> str:
    return f"labctl.{instance}.{lab}.{node}"


def parse_container_name(container: str) -> tuple[str, str, str]:
    """(lab, instance, node) of a node's container name ("?" for a foreign one)."""
    parts = container.split(".")
    if len(parts) == 4 and parts[0] == "labctl":
        return parts[2], parts[1], parts[3]
    return "?", "?", container


def lab_labels(lab: str, instance: str) -> dict[str, str]:
    return {LAB: lab, INSTANCE: instance}


def label_filters(lab: str | None = None, instance: str | None = None) -> list[str]:
    """Docker `label=` filters: always our label, narrowed to a lab and instance."""
    filters = [LAB if lab is None else f"{LAB}={lab}"]
    if instance is not None:
        filters.append(f"{INSTANCE}={instance}")
    return filters
