"""What the API shows of labs: the service's reports and nodes without the runtime's
handles (the server's business), and what a student's own lab may not ask for."""

from __future__ import annotations

from dataclasses import asdict

from labctl.errors import InvalidInput
from labctl.lab import model
from labctl.runtime import NodeInfo
from labctl.service.report import Report, to_data


def public_report(report: Report) -> dict:
    """The report as JSON, without the runtime's handles."""
    data = to_data(report)
    for lab in data["labs"]:
        for node in lab["nodes"]:
            node.pop("container", None)
    return data


def public_node(info: NodeInfo) -> dict:
    data = asdict(info)
    data.pop("container", None)
    return data


def public_nodes(infos: list[NodeInfo]) -> list[dict]:
    return [public_node(n) for n in infos]


def refuse_custom_images(lab: model.Lab) -> None:
    """A student's own lab runs only labctl's node image: no host image of their choice."""
    custom = sorted(name for name, node in lab.nodes.items() if node.image)
    if custom:
        raise InvalidInput(f"lab '{lab.name}': nodes {', '.join(custom)} name an image; labs "
                           "sent to the server run only labctl's node image")
