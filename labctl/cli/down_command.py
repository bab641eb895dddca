"""`labctl down`: the command a class runs most after `up`, so it loads only what removing
a lab needs (no terminal rendering library: its one line is plain text)."""

from __future__ import annotations

import click

from labctl.cli import backends, params
from labctl.errors import InvalidInput
from labctl.lab import blueprint
from labctl.terminal_text import printable


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
    containers, networks = backends.chosen().down(lab, instance, all_instances)
    what = "all labs" if lab is None else printable(blueprint.lab_name(lab))
    if containers or networks:
        click.echo(f"removed {what}: {containers} containers, {networks} networks", err=True)
    else:
        click.echo(f"nothing to remove for {what}", err=True)
