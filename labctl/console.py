"""Terminal rendering: consoles, progress and tables. Core modules never import this."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labctl.terminal_text import printable  # also console.printable, for its callers

# Width: the terminal's, or COLUMNS (also in pipes), else 80, as other tools do.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

def shown(text: object) -> str:
    """printable(), then escaped for rich's markup: untrusted text in a rich print."""
    return escape(printable(str(text)))


@contextmanager
def progress(title: str) -> Iterator[Callable[[str], None]]:
    """A spinner with the latest step on a terminal; plain lines in logs and CI."""
    if err.is_terminal:
        with err.status(shown(title)) as status:
            def update(message: str) -> None:
                status.update(f"{shown(title)} [dim]{shown(message[-100:])}[/]")
            yield update
    else:
        def log(message: str) -> None:
            err.print(f"[dim]{shown(message)}[/]")
        yield log


def print_json(data: object) -> None:
    def default(obj: object) -> object:
        if is_dataclass(obj) and not isinstance(obj, type):
            return asdict(obj)
        return str(obj)
    sys.stdout.write(json.dumps(data, default=default, indent=2) + "\n")


def table(title: str | None, columns: list[str], rows: list[list[str]]) -> Table:
    t = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        t.add_column(column)
    for row in rows:
        t.add_row(*[shown(c) for c in row])
    return t


def services_text(label: str) -> str:
    """`http/tcp/80,echo/tcp/50007` -> `http tcp/80, echo tcp/50007`."""
    parts = []
    for item in filter(None, label.split(",")):
        kind, proto, port = item.split("/")
        parts.append(f"{kind} {proto}/{port}")
    return ", ".join(parts) or "-"
