"""The commands on running labs: status, exec, shell, logs, check, test, verify, gc.
Each parses its options and makes one call of the backend (or of the service)."""

from __future__ import annotations

import codecs
import os
import sys
from pathlib import Path

import click

from labctl import console, output
from labctl.cli import backends, params, terminal_shell
from labctl.errors import InvalidInput
from labctl.lab import loader, naming
from labctl.service import lab_service
from labctl.service.guards import removed_on_interrupt
from labctl.service.report import Report


@click.command()
@params.argument("lab", "LAB", "Only this lab.", required=False)
@click.option("--instance", "-i", default=None,
              help="Only this instance (default: every instance).")
@params.json_option
def status(lab: str | None, instance: str | None, json_out: bool) -> None:
    """List running labs, every instance, from Docker labels alone."""
    output.emit(backends.chosen().status(lab, instance), json_out)


@click.command("exec")
@params.lab_argument
@params.node_argument
@params.argument("command", "-- COMMAND...", "The command to run, after --.", nargs=-1,
                 required=True)
@params.instance_option
def exec_(lab: str, node: str, command: tuple[str, ...], instance: str | None) -> int:
    """Run a command on a node; exit with the command's exit code."""
    argv = list(command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise InvalidInput("give the command to run after --, e.g. labctl exec LAB NODE -- ss -tln")
    stream = backends.chosen().exec_stream(lab, instance, node, argv)
    for out_chunk, err_chunk in stream:
        if out_chunk:
            sys.stdout.buffer.write(out_chunk)
            sys.stdout.buffer.flush()
        if err_chunk:
            sys.stderr.buffer.write(err_chunk)
            sys.stderr.buffer.flush()
    return stream.exit_code


@click.command()
@params.lab_argument
@params.node_argument
@params.instance_option
def shell(lab: str, node: str, instance: str | None) -> int:
    """Open an interactive shell on a node."""
    chosen = backends.chosen()
    info = chosen.node(lab, instance, node)
    console.err.print(f"[dim]{info.node} of {info.lab} ({info.ip}); type exit to leave[/]")
    return terminal_shell.run_session(chosen.open_shell(lab, instance, node))


@click.command()
@params.lab_argument
@params.node_argument
@params.instance_option
@click.option("--follow", "-f", is_flag=True, help="Keep printing what comes, until Ctrl-C.")
def logs(lab: str, node: str, instance: str | None, follow: bool) -> None:
    """Show what a node's services printed (the course's log lines)."""
    # What a node prints is the student's to choose: controls are shown, never obeyed.
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    for chunk in backends.chosen().logs(lab, instance, node, follow):
        sys.stdout.buffer.write(console.printable(decoder.decode(chunk)).encode("utf-8"))
        sys.stdout.buffer.flush()
    sys.stdout.buffer.write(console.printable(decoder.decode(b"", final=True)).encode("utf-8"))


@click.command()
@params.lab_argument
@params.instance_option
@params.json_option
@params.junit_option
def check(lab: str, instance: str | None, json_out: bool, junit: Path | None) -> int:
    """Run the lab's checks on the running lab; exit 1 if any fails."""
    report = backends.chosen().check(lab, instance)
    output.emit(report, json_out, junit)
    return report.exit_code


@click.command()
@params.lab_argument
@params.instance_option
@click.option("--keep", is_flag=True, help="Leave the lab running after.")
@params.json_option
@params.junit_option
def test(lab: str, instance: str | None, keep: bool, json_out: bool, junit: Path | None
         ) -> int:
    """Up, steps, checks, down: the whole lab as CI sees it, on an instance of its own.

    Refused (exit 2) when the lab is already up on that instance: test never
    takes down a lab it did not bring up."""
    with console.progress(f"Testing {Path(lab).name}") as progress:
        report = backends.chosen().test(lab, instance, keep, progress)
    output.emit(report, json_out, junit)
    return report.exit_code


@click.command()
@params.argument("paths", "PATHS", "Labs (directories or lab.yaml files), or directories of "
                 "labs. Default: every lab under ./labs.", nargs=-1, type=Path)
@click.option("--workers", type=click.IntRange(min=1), default=2, help="Labs tested at once.")
@click.option("--instance", "-i", envvar="LABCTL_INSTANCE", show_envvar=True, default=None,
              help="Instance prefix: lab number N runs as PREFIX-N (default: verifyPID).")
@params.json_option
@params.junit_option
def verify(paths: tuple[Path, ...], workers: int, instance: str | None, json_out: bool,
           junit: Path | None) -> int:
    """Test every lab (up, steps, checks, down); exit 1 if any lab fails.

    An invalid lab is reported as a failed lab with its file:line problems;
    the others run."""
    labs = _lab_paths(list(paths) or [Path("labs")])
    prefix = naming.check_instance(instance) if instance else f"verify{os.getpid()}"
    service = lab_service.connect()
    started = [(None, f"{prefix}-{i}") for i in range(len(labs))]
    with (removed_on_interrupt(service.engine(), started),
          console.progress(f"Verifying {len(labs)} labs") as progress):
        report = Report("verify", service.verify(labs, prefix, workers, progress))
    output.emit(report, json_out, junit)
    return report.exit_code


def _lab_paths(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_file() or (path / loader.LAB_FILE).is_file():
            found.append(loader.resolve(path))
        elif path.is_dir():
            found += sorted(path.glob(f"*/{loader.LAB_FILE}"))
        else:
            found.append(loader.resolve(str(path)))
    if not found:
        raise InvalidInput(f"no labs found in {', '.join(map(str, paths))}")
    return found


@click.command()
@click.option("--all-instances", is_flag=True, help="Every user's labs, not only yours.")
@params.instance_option
def gc(all_instances: bool, instance: str | None) -> None:
    """Remove labctl's stopped containers and empty networks (found by labels only)."""
    inst = None if all_instances else naming.instance_or_default(instance)
    containers, networks = lab_service.connect().gc(inst)
    console.err.print(f"removed {containers} stopped containers, {networks} unused networks")
