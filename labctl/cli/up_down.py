"""`labctl up` and `labctl down`: the two commands a class runs most, so this module
imports only what bringing a lab up or removing it needs (tests/unit/test_import_budget.py
holds it to that)."""

from __future__ import annotations

from pathlib import Path

import click

from labctl import console, output
from labctl.cli import backends, params
from labctl.cli.exit_path import state
from labctl.errors import InvalidInput
from labctl.lab import blueprint


def backend() -> backends.Backend:
    """Where commands go: the local engine or a classroom server (labctl/cli/backends)."""
    return backends.select(state["server"])


@click.command()
@params.lab_argument
@params.instance_option
@params.json_option
def up(lab: str, instance: str | None, json_out: bool) -> None:
    """Start a lab; return when every service listens."""
    chosen = backend()
    title = Path(lab).name if chosen.remote else blueprint.load(lab).name
    with console.progress(f"Bringing up {title}") as progress:
        report = chosen.up(lab, instance, progress)
    output.emit(report, json_out, explicit_instance=bool(instance))


@click.command()
@params.argument("lab", "LAB", "The lab to remove (name or path); works even if its YAML "
                 "is gone.", required=False)
@click.option("--all", "all_labs", is_flag=True,
              help="Remove every lab of the instance (with --all-instances: of everyone).")
@click.option("--all-instances", is_flag=True, help="Every instance's copies, not only yours.")
@params.instance_option
def down(lab: str | None, all_labs: bool, all_instances: bool, instance: str | None) -> None:
    """Remove a lab's containers and network, found by their labels."""
    if lab is None and not all_labs:
        raise InvalidInput("name a LAB, or pass --all")
    containers, networks = backend().down(lab, instance, all_instances)
    what = "all labs" if lab is None else blueprint.lab_name(lab)
    if containers or networks:
        console.err.print(f"removed {what}: {containers} containers, {networks} networks")
    else:
        console.err.print(f"nothing to remove for {what}")
