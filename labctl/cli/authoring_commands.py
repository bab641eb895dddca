"""The commands for writing labs, none of which touches the engine: validate, new, schema."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from labctl import console
from labctl.cli import params
from labctl.errors import EXIT_INVALID, EXIT_OK, InvalidInput, LabInvalid
from labctl.lab import loader, scaffold
from labctl.lab import schema as lab_schema


@click.command()
@params.argument("labs", "LABS", "Labs (names, directories, lab.yaml files) or folders of "
                 "labs.", nargs=-1, required=True)
@params.json_option
def validate(labs: tuple[str, ...], json_out: bool) -> int:
    """Check lab files without touching Docker; exit 2 if any is invalid."""
    results = []
    for arg in labs:  # every argument is reported, whatever the others hold
        try:
            paths = loader.find_labs([arg])
        except InvalidInput as exc:
            results.append({"lab": arg, "valid": False, "problems": [str(exc)]})
            continue
        for path in paths:
            lab = str(path) if len(paths) > 1 else arg
            try:
                results.append({"lab": lab, "valid": True, "name": loader.load(path).name,
                                "problems": []})
            except LabInvalid as exc:
                results.append({"lab": lab, "valid": False,
                                "problems": [str(p) for p in exc.problems]})
    if json_out:
        console.print_json(results)
    else:
        for r in results:
            if r["valid"]:
                console.err.print(f"ok: {r['lab']} ({r['name']})")
            for problem in r["problems"]:
                console.err.print(problem, markup=False)
    return EXIT_OK if all(r["valid"] for r in results) else EXIT_INVALID


@click.command()
@params.argument("name", "NAME", "Name of the new lab.")
@click.option("--from", "source", default=None,
              help="Copy this lab instead of the commented template.")
@click.option("--dir", "directory", type=params.directory(), default=Path("labs"),
              help="Where labs live.")
def new(name: str, source: str | None, directory: Path) -> None:
    """Create labs/NAME with a lab.yaml that explains each key, a student sheet and notes."""
    target = scaffold.new_lab(name, directory, source)
    console.out.print(f"created {target}/ (lab.yaml, README.md, INSTRUCTOR.md)\n"
                      f"next: edit {target}/lab.yaml, then `labctl validate {target}` and "
                      f"`labctl test {target}`")


@click.command()
def schema() -> None:
    """Print the JSON Schema of lab.yaml (for editors and check-jsonschema)."""
    sys.stdout.write(lab_schema.schema_text())
