"""What labctl's commands share, declared once: the root's context settings, and the
arguments and options several commands take."""

from __future__ import annotations

from pathlib import Path

import click

# The root command's settings, which every command inherits: -h as well as --help, and
# defaults shown in --help unless an option says otherwise.
CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}


def argument(name: str, metavar: str, help: str, **kwargs):  # noqa: A002 - click's name
    return click.argument(name, metavar=metavar, help=help, **kwargs)


LAB_HELP = ("A lab name under ./labs (or shipped with labctl), or a path to a lab "
            "directory or lab.yaml.")
lab_argument = argument("lab", "LAB", LAB_HELP)
node_argument = argument("node", "NODE", "A node of the lab, e.g. client.")
instance_option = click.option(
    "--instance", "-i", envvar="LABCTL_INSTANCE", show_envvar=True, default=None,
    help="Which copy of the lab (default: your user name).")
json_option = click.option("--json", "json_out", is_flag=True, help="Print JSON for scripts.")
junit_option = click.option("--junit", type=click.Path(dir_okay=False, path_type=Path),
                            default=None, help="Write JUnit XML here.")


def directory(exists: bool = False) -> click.Path:
    return click.Path(file_okay=False, exists=exists, path_type=Path)


def file(exists: bool = False) -> click.Path:
    return click.Path(dir_okay=False, exists=exists, path_type=Path)
