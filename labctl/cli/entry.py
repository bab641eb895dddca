"""The `labctl` command: one exit path for every command, and a short way in for the two
a class runs most.

Typer builds a pydantic validator for each option of the command it runs (and imports
pydantic for it): a tenth of a second on every `labctl down`, as long as the engine takes
to remove a lab. So `labctl up LAB` and `labctl down LAB`, with at most `-i NAME`, go
straight to the same code the full command line calls (labctl.cli.up_down); any other
form — another option, --help, a completion request — goes through Typer (labctl.cli).
tests/unit/test_launch.py holds both ways to the same calls.
"""

from __future__ import annotations

import os
import sys

from labctl.cli import up_down
from labctl.cli.exit_path import quiet_broken_pipe, run, state

__all__ = ["main", "quick", "quiet_broken_pipe", "run", "state"]


def quick(argv: list[str]) -> tuple[str, str, str | None] | None:
    """(command, lab, instance) when argv is `up|down LAB [-i NAME]`; None otherwise."""
    if len(argv) not in (2, 3, 4) or argv[0] not in ("up", "down"):
        return None
    if any(key.endswith("_COMPLETE") for key in os.environ):  # shell completion at work
        return None
    command, lab, rest = argv[0], argv[1], argv[2:]
    instance = None
    if len(rest) == 1 and rest[0].startswith("--instance="):
        instance = rest[0].removeprefix("--instance=")
    elif len(rest) == 2 and rest[0] in ("-i", "--instance"):
        instance = rest[1]
    elif rest:
        return None
    if lab.startswith("-") or (instance is not None and instance.startswith("-")):
        return None
    if instance is None:  # as Typer reads an option's environment variable
        instance = os.environ.get("LABCTL_INSTANCE") or None
    return command, lab, instance


def main() -> None:
    argv = sys.argv[1:]
    short = quick(argv)
    if short is None:
        from labctl.cli import commands as cli
        cli.main()
        return
    command, lab, instance = short

    def call() -> None:
        if command == "up":
            up_down.up(lab, instance)
        else:
            up_down.down(lab, instance)
    run(call, command)


if __name__ == "__main__":
    main()
