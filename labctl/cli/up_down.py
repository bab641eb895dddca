"""`labctl up` and `labctl down`, free of the command-line parser: both labctl.cli's
commands and labctl.cli.entry's short way call these."""

from __future__ import annotations

from pathlib import Path

from labctl.cli.exit_path import state
from labctl.errors import InvalidInput


def backend():
    """Where commands go: the local engine or a classroom server (labctl/cli/backends)."""
    from labctl.cli import backends
    return backends.select(state["server"])


def up(lab: str, instance: str | None, json_out: bool = False) -> None:
    from labctl import console, output
    from labctl.lab import blueprint
    chosen = backend()
    title = Path(lab).name if chosen.remote else blueprint.load(lab).name
    with console.progress(f"Bringing up {title}") as progress:
        report = chosen.up(lab, instance, progress)
    output.emit(report, json_out, explicit_instance=bool(instance))


def down(lab: str | None, instance: str | None, all_labs: bool = False,
         all_instances: bool = False) -> None:
    from labctl import console
    from labctl.lab.blueprint import lab_name
    if lab is None and not all_labs:
        raise InvalidInput("name a LAB, or pass --all")
    containers, networks = backend().down(lab, instance, all_instances)
    what = "all labs" if lab is None else lab_name(lab)
    if containers or networks:
        console.err.print(f"removed {what}: {containers} containers, {networks} networks")
    else:
        console.err.print(f"nothing to remove for {what}")
