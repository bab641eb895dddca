"""The check-kind registry: each kind declared once, with everything it needs.

A kind is declared in one block of a checks/ module with `@check_kind(...)`
on its checker: the YAML key, the model (what the author writes), the
title (how reports name it), the node fields (validated against the lab's
nodes), what it prefetches (commands batched into one exec per node, or
the captures). model.py builds the `Check` model from this registry;
loader.py and checks/run.py read the rest from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labctl.lab.model_parts import Strict

Checker = Callable[[Any, Any], None]  # (LabState, spec) -> None, or raise Failed


class Failed(Exception):
    """A check saw something else than expected; the message teaches why."""

    def __init__(self, message: str, expected: str = "", seen: str = ""):
        super().__init__(message)
        self.message, self.expected, self.seen = message, expected, seen


@dataclass(frozen=True)
class CheckKind:
    name: str  # the YAML key
    model: type[Strict]
    title: Callable[[Any], str]  # spec -> the default title in reports
    check: Checker
    node_fields: tuple[str, ...]  # model fields that name a lab node
    prefetch: tuple[str, ...] = ()  # commands run in one batch on the node in `node_fields[0]`
    reads_captures: bool = False  # judged from the captured packets


KINDS: dict[str, CheckKind] = {}


def check_kind(name: str, model: type[Strict], title: Callable[[Any], str],
               nodes: tuple[str, ...], prefetch: tuple[str, ...] = (),
               reads_captures: bool = False) -> Callable[[Checker], Checker]:
    """Register the decorated checker as check kind `name`."""
    def register(checker: Checker) -> Checker:
        if name in KINDS:
            raise ValueError(f"check kind '{name}' is declared twice")
        KINDS[name] = CheckKind(name, model, title, checker, nodes, prefetch, reads_captures)
        return checker
    return register


def tail(text: str, limit: int = 300) -> str:
    """The end of a long output, for a failure's "seen"."""
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]
