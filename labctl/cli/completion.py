"""Shell completion: `labctl --install-completion` and `--show-completion` for bash, zsh
and fish. The completions themselves are click's (the shell asks `labctl` with
_LABCTL_COMPLETE set); this module writes the script that makes the shell ask."""

from __future__ import annotations

import os
from pathlib import Path

import click
from click.shell_completion import get_completion_class

COMPLETE_VAR = "_LABCTL_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


def _shell() -> str:
    name = Path(os.environ.get("SHELL", "bash")).name
    if name not in SHELLS:
        raise click.UsageError(f"completion for {name}: labctl completes in "
                               f"{', '.join(SHELLS)} (set SHELL to one of them)")
    return name


def script(command: click.Command, shell: str) -> str:
    """The shell's completion script for `labctl`."""
    completion = get_completion_class(shell)
    return completion(command, {}, "labctl", COMPLETE_VAR).source()


def install(command: click.Command, shell: str, home: Path) -> Path:
    """Write the script where the shell reads it (bash, zsh: a file its rc file sources,
    added once); returns the script's path."""
    if shell == "fish":
        target = home / ".config/fish/completions/labctl.fish"
    else:
        target = home / (".bash_completions/labctl.sh" if shell == "bash"
                         else ".zfunc/labctl-completion.zsh")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(script(command, shell), encoding="utf-8")
    if shell != "fish":
        rc = home / (".bashrc" if shell == "bash" else ".zshrc")
        line = f"source {target}"
        text = rc.read_text(encoding="utf-8") if rc.exists() else ""
        if line not in text.splitlines():
            with rc.open("a", encoding="utf-8") as out:
                out.write(("" if text.endswith("\n") or not text else "\n") + line + "\n")
    return target


def _show(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(script(ctx.command, _shell()), nl=False)
        ctx.exit()


def _install(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        shell = _shell()
        where = install(ctx.command, shell, Path.home())
        click.echo(f"{shell} completion installed in {where}; it works in new shells",
                   err=True)
        ctx.exit()


def options(command):
    """--install-completion and --show-completion, for the root command."""
    command = click.option("--show-completion", is_flag=True, expose_value=False,
                           is_eager=True, callback=_show,
                           help="Show the completion script for the current shell, to "
                                "copy it or customize the installation.")(command)
    return click.option("--install-completion", is_flag=True, expose_value=False,
                        is_eager=True, callback=_install,
                        help="Install completion for the current shell.")(command)
