"""`labctl up`: a lab up, with progress and the report (tests/unit/test_import_budget.py
holds it to what bringing a lab up needs)."""

from __future__ import annotations

from pathlib import Path

import click

from labctl import console, output
from labctl.cli import backends, params
from labctl.lab import blueprint


@click.command()
@params.lab_argument
@params.instance_option
@params.json_option
def up(lab: str, instance: str | None, json_out: bool) -> None:
    """Start a lab; return when every service listens."""
    chosen = backends.chosen()
    title = Path(lab).name if chosen.remote else blueprint.load(lab).name
    with console.progress(f"Bringing up {title}") as progress:
        report = chosen.up(lab, instance, progress)
    output.emit(report, json_out, explicit_instance=bool(instance))
