"""The labctl command line: thin commands that parse options and call the core."""

from __future__ import annotations

import copy
import enum
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from labctl.cli import exit_path
from labctl.errors import (
    EXIT_DAMAGED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    InvalidInput,
    LabInvalid,
)

app = typer.Typer(
    name="labctl",
    help="Network labs for teaching the transport layer: YAML in, running, self-checking labs out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish)
    rich_markup_mode=None,
)
images_app = typer.Typer(help="Build the node image (no registry needed).", no_args_is_help=True)
app.add_typer(images_app, name="images")

# Options shared between commands, declared once.
LabArg = Annotated[str, typer.Argument(metavar="LAB",
    help="A lab name under ./labs (or shipped with labctl), or a path to a lab directory or "
         "lab.yaml.", show_default=False)]
NodeArg = Annotated[str, typer.Argument(metavar="NODE", help="A node of the lab, e.g. client.",
                                        show_default=False)]
InstanceOpt = Annotated[str | None, typer.Option(
    "--instance", "-i", envvar="LABCTL_INSTANCE",
    help="Which copy of the lab (default: your user name).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


# What the app callback learns about this run (labctl.cli.entry keeps it, for the error report).
_run = exit_path.state


def _show_version(value: bool) -> None:
    if value:
        from labctl import __version__
        sys.stdout.write(f"labctl {__version__}\n")
        raise typer.Exit()


@app.callback()
def _global_options(
        ctx: typer.Context,
        version: Annotated[bool, typer.Option(
            "--version", callback=_show_version, is_eager=True,
            help="Print labctl's version and exit.")] = False,
        debug: Annotated[bool, typer.Option(
            "--debug", help="Show a traceback for unexpected errors (or set LABCTL_DEBUG=1).")
                         ] = False,
        server: Annotated[str | None, typer.Option(
            "--server", envvar="LABCTL_SERVER", show_default=False,
            help="Go through this classroom server: unix:///PATH or https://HOST:PORT, or "
                 "`local` for the Docker engine here (default: the one `labctl login` stored, "
                 "else /run/labctl/labctl.sock when it exists, else the Docker engine here)."
                 )] = None) -> None:
    """Network labs for teaching the transport layer: YAML in, running, self-checking labs out.
    """
    _run["debug"] = _run["debug"] or debug
    _run["server"] = server
    _run["command"] = ctx.invoked_subcommand or ""  # for "node ... stopped during check"


def _lab_name(lab: str) -> str:
    from labctl.lab.blueprint import lab_name
    return lab_name(lab)


def _backend():
    """Where commands go: the local engine or a classroom server (labctl/cli/backends)."""
    from labctl.cli import up_down as lifecycle
    return lifecycle.backend()


@app.command()
def up(lab: LabArg, instance: InstanceOpt = None, json_out: JsonOpt = False) -> None:
    """Start a lab; return when every service listens."""
    from labctl.cli import up_down as lifecycle
    lifecycle.up(lab, instance, json_out)


@app.command()
def down(lab: Annotated[str | None, typer.Argument(metavar="LAB",
            help="The lab to remove (name or path); works even if its YAML is gone.",
            show_default=False)] = None,
         all_labs: Annotated[bool, typer.Option("--all", help="Remove every lab of the instance "
                                                "(with --all-instances: of everyone).")] = False,
         all_instances: Annotated[bool, typer.Option("--all-instances")] = False,
         instance: InstanceOpt = None) -> None:
    """Remove a lab's containers and network, found by their labels."""
    from labctl.cli import up_down as lifecycle
    lifecycle.down(lab, instance, all_labs, all_instances)


@app.command()
def status(lab: Annotated[str | None, typer.Argument(metavar="LAB", show_default=False,
                                                     help="Only this lab.")] = None,
           instance: Annotated[str | None, typer.Option(
               "--instance", "-i", help="Only this instance (default: every instance).",
               show_default=False)] = None,
           json_out: JsonOpt = False) -> None:
    """List running labs, every instance, from Docker labels alone."""
    from labctl import output
    output.emit(_backend().status(lab, instance), json_out)


@app.command(name="exec")
def exec_(lab: LabArg, node: NodeArg,
          command: Annotated[list[str], typer.Argument(
              metavar="COMMAND", help="The command, after --.", show_default=False)],
          instance: InstanceOpt = None) -> None:
    """Run a command on a node; exit with the command's exit code."""
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise InvalidInput("give the command to run after --, e.g. labctl exec LAB NODE -- ss -tln")
    stream = _backend().exec_stream(lab, instance, node, command)
    for out_chunk, err_chunk in stream:
        if out_chunk:
            sys.stdout.buffer.write(out_chunk)
            sys.stdout.buffer.flush()
        if err_chunk:
            sys.stderr.buffer.write(err_chunk)
            sys.stderr.buffer.flush()
    raise typer.Exit(stream.exit_code)


@app.command()
def shell(lab: LabArg, node: NodeArg, instance: InstanceOpt = None) -> None:
    """Open an interactive shell on a node."""
    from labctl import console
    from labctl.cli import terminal_shell as interactive
    backend = _backend()
    info = backend.node(lab, instance, node)
    console.err.print(f"[dim]{info.node} of {info.lab} ({info.ip}); type exit to leave[/]")
    raise typer.Exit(interactive.run_session(backend.open_shell(lab, instance, node)))


@app.command()
def logs(lab: LabArg, node: NodeArg, instance: InstanceOpt = None,
         follow: Annotated[bool, typer.Option("--follow", "-f")] = False) -> None:
    """Show what a node's services printed (the course's log lines)."""
    import codecs

    from labctl.console import printable
    # What a node prints is the student's to choose: controls are shown, never obeyed.
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    for chunk in _backend().logs(lab, instance, node, follow):
        sys.stdout.buffer.write(printable(decoder.decode(chunk)).encode("utf-8"))
        sys.stdout.buffer.flush()
    sys.stdout.buffer.write(printable(decoder.decode(b"", final=True)).encode("utf-8"))


@app.command()
def validate(labs: Annotated[list[str], typer.Argument(metavar="LABS",
                 help="Labs (names, directories, lab.yaml files) or folders of labs.",
                 show_default=False)],
             json_out: JsonOpt = False) -> None:
    """Check lab files without touching Docker; exit 2 if any is invalid."""
    from labctl import console
    from labctl.lab import loader
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
    raise typer.Exit(EXIT_OK if all(r["valid"] for r in results) else EXIT_INVALID)


@app.command()
def capture(lab: LabArg,
            node: Annotated[str | None, typer.Argument(metavar="NODE",
                help="Only this node (default: every node that captures).",
                show_default=False)] = None,
            output: Annotated[Path, typer.Option("--output", "-o", help="Directory for the pcaps.",
                                                 file_okay=False)] = Path("captures"),
            merged: Annotated[bool, typer.Option("--merge", help="Also write one time-ordered "
                                                 "pcapng of every node's packets, one "
                                                 "interface per node.")] = False,
            live: Annotated[bool, typer.Option("--live", help="Stream NODE's capture while the "
                                               "lab runs (with -w -), until Ctrl-C.")] = False,
            write: Annotated[str | None, typer.Option(
                "--write", "-w", help="With --live: where the pcap stream goes ('-': stdout, "
                "e.g. | wireshark -k -i -).", show_default=False)] = None,
            instance: InstanceOpt = None) -> None:
    """Copy the lab's packet captures to the host (they open in Wireshark)."""
    from labctl import console
    from labctl.service import captures as capture_mod
    backend = _backend()
    if live or write is not None:
        if not (live and node and write):
            raise InvalidInput("live capture: labctl capture LAB NODE --live -w - (or -w FILE)")
        raise typer.Exit(_stream_capture(backend.live_capture(lab, instance, node), write))
    name, files, _ = backend.captures(lab, instance, node)
    for path in capture_mod.write(files, output, name, merged):
        console.out.print(str(path))


def _on_reader_gone(stop) -> None:
    """Stop the stream when stdout's reader goes (tshark -c 3 is done; Wireshark closed)
    even while no packet comes: a write would only then notice the broken pipe."""
    import select
    import threading
    if stop is None:
        return

    def watch() -> None:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLERR | select.POLLHUP)
        while not poller.poll(1000):
            pass
        stop()

    threading.Thread(target=watch, daemon=True).start()


def _stream_capture(chunks, target: str) -> int:
    """Each chunk to stdout (or a file) as it comes; a reader that goes away ends it."""
    out = sys.stdout.buffer if target == "-" else open(target, "wb")  # noqa: SIM115
    if target == "-":
        _on_reader_gone(getattr(chunks, "close", None))
    try:
        for chunk in chunks:
            out.write(chunk)
            out.flush()
    except BrokenPipeError:
        exit_path.quiet_broken_pipe()
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
        if out is not sys.stdout.buffer:
            out.close()
    return EXIT_OK


@app.command()
def trace(lab: Annotated[str | None, typer.Argument(metavar="LAB",
              help="A running lab (or use --pcap).", show_default=False)] = None,
          node: Annotated[str | None, typer.Argument(metavar="NODE",
              help="The capturing node to read (default: the first).",
              show_default=False)] = None,
          pcap: Annotated[Path | None, typer.Option(
              "--pcap", help="Read this pcap or pcapng file instead of a running lab.",
              dir_okay=False, exists=True)] = None,
          port: Annotated[int | None, typer.Option(help="Only connections to or from this "
                                                   "port.")] = None,
          conn: Annotated[int | None, typer.Option(
              "--conn", help="Only this TCP connection, in detail (numbered as Wireshark's "
              "tcp.stream).", show_default=False)] = None,
          svg: Annotated[Path | None, typer.Option(
              help="Write every connection's ladder (or --conn's) as SVG.", dir_okay=False)
              ] = None,
          html_out: Annotated[Path | None, typer.Option(
              "--html", help="Write tables and ladders as an HTML page.", dir_okay=False)] = None,
          full: Annotated[bool, typer.Option("--all", help="Every connection in detail, and "
                                             "layer tables for every packet.")] = False,
          json_out: JsonOpt = False,
          follow: Annotated[bool, typer.Option(
              "--follow", "-f", help="Each segment of the running lab as it is captured, "
              "with its connection and relative numbers, until Ctrl-C.")] = False,
          instance: InstanceOpt = None) -> None:
    """Show the handshakes and teardowns the lab captured, as the course draws them.

    Exit code 4: a capture was damaged; what was sound is shown, then a warning.
    """
    from labctl.trace import command as trace_run
    if follow:
        raise typer.Exit(_trace_follow(lab, node, port, instance))
    if pcap is not None:
        source = trace_run.from_file(pcap)
    elif lab is not None:
        backend = _backend()
        name, files, nodes = backend.captures(lab, instance, None)
        if node is not None:
            if node not in {f.node for f in files}:
                backend.captures(lab, instance, node)  # raises the precise error
            files.sort(key=lambda f: f.node != node)
        source = trace_run.from_lab(files, nodes, name, node)
    else:
        raise InvalidInput("name a running LAB, or give --pcap FILE")
    options = trace_run.Options(port=port, conn=conn, every=full, svg=svg, html=html_out,
                                json=json_out)
    try:
        code = trace_run.run(source, options)
    except BrokenPipeError:  # `| head`: the reader went away; a damaged capture still says so
        exit_path.quiet_broken_pipe()
        from labctl import console
        for warning in source.warnings:  # stderr is still there
            console.err.print(warning, markup=False)
        code = EXIT_DAMAGED if source.warnings else 0
    raise typer.Exit(code)


def _trace_follow(lab: str | None, node: str | None, port: int | None,
                  instance: str | None) -> int:
    from labctl import console
    from labctl.trace import follow as trace_follow
    if lab is None:
        raise InvalidInput("--follow reads a running LAB (not --pcap)")
    backend = _backend()
    nodes = [n for each in backend.status(lab, instance if backend.remote else
                                          instance or _default_instance()).labs
             for n in each.nodes]
    capturing = [n.node for n in nodes if n.capture]
    if node is None and capturing:
        node = capturing[0]
    if node is None:
        raise InvalidInput(f"no node of {_lab_name(lab)} captures packets: add "
                           "`capture: {}` to a node")
    names = {}
    for n in nodes:
        names[n.ip] = n.node
        names.update({ip: n.node for ip in n.addresses.values()})
    console.err.print(console.printable(f"following {node}'s capture; Ctrl-C to stop"),
                      markup=False)
    chunks = backend.live_capture(lab, instance, node)
    try:
        trace_follow.follow(chunks, names, port,
                            lambda text: console.out.print(text, markup=False,
                                                           highlight=False),
                            width=console.out.width)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return EXIT_OK


def _default_instance() -> str:
    from labctl.lab import naming
    return naming.instance_or_default(None)


JunitOpt = Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.",
                                               dir_okay=False, show_default=False)]


@app.command()
def check(lab: LabArg, instance: InstanceOpt = None, json_out: JsonOpt = False,
          junit: JunitOpt = None) -> None:
    """Run the lab's checks on the running lab; exit 1 if any fails."""
    from labctl import output
    report = _backend().check(lab, instance)
    output.emit(report, json_out, junit)
    raise typer.Exit(report.exit_code)


@app.command()
def test(lab: LabArg, instance: InstanceOpt = None,
         keep: Annotated[bool, typer.Option("--keep", help="Leave the lab running after.")
                         ] = False,
         json_out: JsonOpt = False, junit: JunitOpt = None) -> None:
    """Up, steps, checks, down: the whole lab as CI sees it, on an instance of its own.

    Refused (exit 2) when the lab is already up on that instance: test never
    takes down a lab it did not bring up."""
    from labctl import console, output
    with console.progress(f"Testing {Path(lab).name}") as progress:
        report = _backend().test(lab, instance, keep, progress)
    output.emit(report, json_out, junit)
    raise typer.Exit(report.exit_code)


@app.command()
def verify(paths: Annotated[list[Path] | None, typer.Argument(metavar="PATHS",
               help="Labs (directories or lab.yaml files), or directories of labs. "
                    "Default: every lab under ./labs.", show_default=False)] = None,
           workers: Annotated[int, typer.Option(help="Labs tested at once.")] = 2,
           instance: Annotated[str | None, typer.Option(
               "--instance", "-i", envvar="LABCTL_INSTANCE",
               help="Instance prefix: lab number N runs as PREFIX-N (default: verifyPID).",
               show_default=False)] = None,
           json_out: JsonOpt = False, junit: JunitOpt = None) -> None:
    """Test every lab (up, steps, checks, down); exit 1 if any lab fails.

    An invalid lab is reported as a failed lab with its file:line problems;
    the others run."""
    from labctl import console, output
    from labctl.lab import naming
    from labctl.service import lab_service
    from labctl.service.lab_run import removed_on_interrupt
    from labctl.service.report import Report
    labs = _lab_paths(paths or [Path("labs")])
    prefix = naming.check_instance(instance) if instance else f"verify{os.getpid()}"
    service = lab_service.connect()
    started = [(None, f"{prefix}-{i}") for i in range(len(labs))]
    with (removed_on_interrupt(service.engine(), started),
          console.progress(f"Verifying {len(labs)} labs") as progress):
        report = Report("verify", service.verify(labs, prefix, workers, progress))
    output.emit(report, json_out, junit)
    raise typer.Exit(report.exit_code)


def _lab_paths(paths: list[Path]) -> list[Path]:
    from labctl.lab import loader
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


@app.command()
def new(name: Annotated[str, typer.Argument(metavar="NAME", help="Name of the new lab.",
                                            show_default=False)],
        source: Annotated[str | None, typer.Option("--from", help="Copy this lab instead of "
                                                    "the commented template.")] = None,
        directory: Annotated[Path, typer.Option("--dir", help="Where labs live.",
                                                file_okay=False)] = Path("labs")) -> None:
    """Create labs/NAME with a lab.yaml that explains each key, a student sheet and notes."""
    from labctl import console
    from labctl.lab import scaffold
    target = scaffold.new_lab(name, directory, source)
    console.out.print(f"created {target}/ (lab.yaml, README.md, INSTRUCTOR.md)\n"
                      f"next: edit {target}/lab.yaml, then `labctl validate {target}` and "
                      f"`labctl test {target}`")


@app.command()
def gc(all_instances: Annotated[bool, typer.Option(
        "--all-instances", help="Every user's labs, not only yours.")] = False,
       instance: InstanceOpt = None) -> None:
    """Remove labctl's stopped containers and empty networks (found by labels only)."""
    from labctl import console
    from labctl.lab import naming
    from labctl.service import lab_service
    inst = None if all_instances else naming.instance_or_default(instance)
    containers, networks = lab_service.connect().gc(inst)
    console.err.print(f"removed {containers} stopped containers, {networks} unused networks")


@app.command()
def schema() -> None:
    """Print the JSON Schema of lab.yaml (for editors and check-jsonschema)."""
    from labctl.lab import schema as schema_mod
    sys.stdout.write(schema_mod.schema_text())


class BuildMethod(enum.StrEnum):
    auto = "auto"
    mmdebstrap = "mmdebstrap"
    dockerfile = "dockerfile"


@images_app.command("build")
def images_build(
        method: Annotated[BuildMethod, typer.Option(
            help="auto: mmdebstrap when installed, else the Dockerfile (needs a registry).",
        )] = BuildMethod.auto,
        force: Annotated[bool, typer.Option("--force", help="Rebuild even if current.")] = False,
) -> None:
    """Build the node image (skipped when its inputs did not change)."""
    from labctl import console, runtime
    from labctl.runtime import images
    with console.progress("Building images") as report:
        ref = runtime.connect().ensure_image(None, report, method=method.value, force=force,
                                             alias=True)
    console.err.print(f"{ref} is ready (alias {images.LATEST_ALIAS})")


# The classroom server's commands (serve, token) live with the server.
from labctl.cli.examples import add_examples as _add_examples  # noqa: E402
from labctl.cli.serve_commands import register as _register_server  # noqa: E402 - listed last in --help

_register_server(app)
_add_examples(app)


def _narrowed(argv: list[str]) -> typer.Typer:
    """The app with only the command being run: typer builds every command's options
    (pydantic adapters included) on each run, a tenth of a second for nothing."""
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    infos = [info for info in app.registered_commands
             if (info.name or info.callback.__name__.replace("_", "-")) == name]
    if len(infos) != 1 or any(key.startswith("_TYPER_COMPLETE") or key.endswith("_COMPLETE")
                              for key in os.environ):
        return app  # --help, a group (images, token), a typo, completion: the whole app
    narrow = copy.copy(app)
    narrow.registered_commands, narrow.registered_groups = infos, []
    return narrow


def _through_typer() -> int | None:
    """The whole command line; Typer's own exits and usage errors become exit codes."""
    try:
        code = _narrowed(sys.argv[1:])(standalone_mode=False)
    except typer.Abort:
        raise KeyboardInterrupt from None
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:  # usage errors: typer shows them as click would
        if hasattr(exc, "show"):
            exc.show()
        return getattr(exc, "exit_code", EXIT_INVALID)
    if code == EXIT_INTERRUPTED:  # typer turns Ctrl-C into Exit(130)
        sys.stderr.write("labctl: interrupted\n")
    return code


def main() -> None:
    exit_path.run(_through_typer)


if __name__ == "__main__":
    main()
