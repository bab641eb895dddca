"""Node facts in a step's or check's text: `{{ server.ip }}`, `{{ server.lan.mac }}`.

A fact is written `{{ NAME }}` in any text a step or check takes (a step's
`run`, an `http` check's `url`, a `command` check's `run`, a message, ...):

    {{ NODE.ip }}        the node's address on its first network
    {{ NODE.NET.ip }}    its address on network NET
    {{ NODE.mac }}       its MAC on its first network ({{ NODE.NET.mac }} likewise)
    {{ instance }}       the lab's instance (the copy of the lab), {{ lab }} its name

Names are checked when the lab is loaded (`problems`), and filled in from the
runtime's NodeInfo when the step or check runs (`fill`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from labctl.runtime.base import NodeInfo

FACT = re.compile(r"\{\{(.*?)\}\}")
ATTRIBUTES = ("ip", "mac")
GLOBALS = ("instance", "lab")
EXAMPLE = "{{ server.ip }}, {{ server.lan.mac }} or {{ instance }}"


def texts(item: BaseModel) -> Iterator[tuple[tuple, str]]:
    """(key path, text) of every text field of a step or check spec, by its YAML keys."""
    for name, info in type(item).model_fields.items():
        value = getattr(item, name)
        key = info.alias or name
        if isinstance(value, str):
            yield (key,), value
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, str):
                    yield (key, k), v


def problem(name: str, networks: dict[str, list[str] | None],
            unknown: Callable[[str, list[str], str], str]) -> str | None:
    """Why `{{ name }}` names nothing in this lab (None: it is fine).

    `networks`: each node's networks, first one first; `unknown` words the
    "no node named 'x' (did you mean ...)" message.
    """
    parts = name.strip().split(".")
    if len(parts) == 1:
        if parts[0] in GLOBALS:
            return None
        if parts[0] in networks:
            return f"{{{{ {parts[0]} }}}} is a node: say which fact, e.g. {{{{ {parts[0]}.ip }}}}"
        return f"unknown fact {{{{ {name.strip()} }}}}; write {EXAMPLE}"
    node, attribute = parts[0], parts[-1]
    if node not in networks:
        return f"{{{{ {name.strip()} }}}}: {unknown(node, list(networks), 'node')}"
    if attribute not in ATTRIBUTES or len(parts) > 3:
        return (f"unknown fact {{{{ {name.strip()} }}}}: a node has "
                f"{' and '.join(ATTRIBUTES)}, e.g. {{{{ {node}.ip }}}}")
    joined = networks[node]
    if len(parts) == 3 and joined is not None and parts[1] not in joined:
        return (f"{{{{ {name.strip()} }}}}: {node} is not on network '{parts[1]}' (its networks: "
                f"{', '.join(joined)})")
    return None


def names_in(text: str) -> list[str]:
    return [m.group(1) for m in FACT.finditer(text)]


def value(name: str, nodes: dict[str, NodeInfo]) -> str:
    parts = name.strip().split(".")
    any_node = next(iter(nodes.values()))
    if parts == ["instance"]:
        return any_node.instance
    if parts == ["lab"]:
        return any_node.lab
    info = nodes[parts[0]]
    if len(parts) == 2:
        return info.ip if parts[1] == "ip" else info.mac
    table = info.addresses if parts[2] == "ip" else info.macs
    return table[parts[1]]


def fill_text(text: str, nodes: dict[str, NodeInfo]) -> str:
    if "{{" not in text:
        return text
    return FACT.sub(lambda m: value(m.group(1), nodes), text)


def fill(item: Any, nodes: dict[str, NodeInfo]) -> Any:
    """A copy of a step or check spec with every fact replaced by its value."""
    update: dict[str, Any] = {}
    for name in type(item).model_fields:
        current = getattr(item, name)
        if isinstance(current, str) and "{{" in current:
            update[name] = fill_text(current, nodes)
        elif isinstance(current, dict) and any(isinstance(v, str) and "{{" in v
                                               for v in current.values()):
            update[name] = {k: fill_text(v, nodes) if isinstance(v, str) else v
                            for k, v in current.items()}
    return item.model_copy(update=update) if update else item
