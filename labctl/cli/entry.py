"""The `labctl` command: one command group, whose commands are imported when they run.

Each command lives with its subsystem's imports (COMMANDS below): `labctl down LAB`
loads labctl.cli.down_command and what removing a lab needs, never the trace, the
server, the lab model or the terminal rendering library. --help and shell completion
list every command (and import them).
Every run ends through one exit path (labctl.cli.exit_path): one line and an exit code,
never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from labctl import __version__
from labctl.cli import completion, examples, params
from labctl.cli.exit_path import quiet_broken_pipe, run, state

__all__ = ["COMMANDS", "labctl", "main", "quiet_broken_pipe", "run", "state"]

# command -> "module:attribute", in --help's order.
COMMANDS = {
    "up": "labctl.cli.up_command:up",
    "down": "labctl.cli.down_command:down",
    "status": "labctl.cli.lab_commands:status",
    "exec": "labctl.cli.lab_commands:exec_",
    "shell": "labctl.cli.lab_commands:shell",
    "logs": "labctl.cli.lab_commands:logs",
    "validate": "labctl.cli.authoring_commands:validate",
    "capture": "labctl.cli.packet_commands:capture",
    "trace": "labctl.cli.packet_commands:trace",
    "check": "labctl.cli.lab_commands:check",
    "test": "labctl.cli.lab_commands:test",
    "verify": "labctl.cli.lab_commands:verify",
    "new": "labctl.cli.authoring_commands:new",
    "gc": "labctl.cli.lab_commands:gc",
    "schema": "labctl.cli.authoring_commands:schema",
    "serve": "labctl.cli.serve_commands:serve",
    "login": "labctl.cli.serve_commands:login",
    "images": "labctl.cli.image_commands:images",
    "token": "labctl.cli.serve_commands:token",
    "class": "labctl.cli.class_commands:class_",
}


class Labctl(click.Group):
    """The commands of COMMANDS, each imported on first use, with its examples."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        where = COMMANDS.get(name)
        if where is None:
            return None
        module, _, attribute = where.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        examples.attach(command, name)
        return command


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"labctl {__version__}")
        ctx.exit()


@click.group(cls=Labctl, context_settings=params.CONTEXT, no_args_is_help=True)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_show_version, help="Print labctl's version and exit.")
@click.option("--debug", is_flag=True,
              help="Show a traceback for unexpected errors (or set LABCTL_DEBUG=1).")
@click.option("--server", envvar="LABCTL_SERVER", show_envvar=True, default=None,
              help="Go through this classroom server: unix:///PATH or https://HOST:PORT, or "
                   "`local` for the Docker engine here (default: the one `labctl login` "
                   "stored, else /run/labctl/labctl.sock when it exists, else the Docker "
                   "engine here).")
@completion.options
@click.pass_context
def labctl(ctx: click.Context, debug: bool, server: str | None) -> None:
    """Network labs for teaching the transport layer: YAML in, running, self-checking labs
    out."""
    state["debug"] = state["debug"] or debug
    state["server"] = server
    state["command"] = ctx.invoked_subcommand or ""  # for "node ... stopped during check"


def _through_click() -> int | None:
    """The whole command line; click's own exits and usage errors become exit codes."""
    try:
        return labctl.main(args=sys.argv[1:], prog_name="labctl", standalone_mode=False)
    except click.exceptions.Abort:  # Ctrl-C while click itself held it
        raise KeyboardInterrupt from None
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:  # usage errors: shown as click shows them, exit 2
        exc.show()
        return exc.exit_code


def main() -> None:
    run(_through_click)


if __name__ == "__main__":
    main()
