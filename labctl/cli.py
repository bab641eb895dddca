"""The labctl command line: thin commands that parse options and call the core."""

from __future__ import annotations

import enum
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from labctl.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    InvalidInput,
    LabctlError,
    LabInvalid,
)

app = typer.Typer(
    name="labctl",
    help="Network labs for teaching the transport layer: YAML in, running, self-checking labs out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
images_app = typer.Typer(help="Build the node image (no registry needed).", no_args_is_help=True)
app.add_typer(images_app, name="images")

# Options shared between commands, declared once.
LabArg = Annotated[str, typer.Argument(
    help="A lab name under ./labs (or shipped with labctl), or a path to a lab directory or "
         "lab.yaml.", show_default=False)]
NodeArg = Annotated[str, typer.Argument(help="A node of the lab, e.g. client.",
                                        show_default=False)]
InstanceOpt = Annotated[str | None, typer.Option(
    "--instance", "-i", envvar="LABCTL_INSTANCE",
    help="Which copy of the lab (default: your user name).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _instance(value: str | None) -> str:
    from labctl import naming
    return naming.check_instance(value) if value else naming.default_instance()


def _lab_name(lab: str) -> str:
    """The lab's name for commands that only need labels: works with the YAML gone."""
    path = Path(lab)
    if path.exists():
        from labctl import loader
        return loader.load(lab).name
    return lab


def _engine(progress=None):
    from labctl import engine, runtime
    return engine.Engine(runtime.connect(), progress or (lambda _m: None))


@app.command()
def up(lab: LabArg, instance: InstanceOpt = None, json_out: JsonOpt = False) -> None:
    """Start a lab; return when every service listens."""
    from labctl import console, loader
    from labctl.engine import shielded
    model = loader.load(lab)
    inst = _instance(instance)
    engine = _engine()
    try:
        with console.progress(f"Bringing up {model.name}") as report:
            engine.progress = report
            nodes = engine.up(model, inst)  # rolls back by itself if interrupted inside
        _show_up(console, model.name, inst, nodes, json_out, bool(instance))
    except KeyboardInterrupt:
        # Interrupted even after the nodes were ready: leave nothing this `up` made.
        with shielded():
            for created_lab, created_instance in engine.created:
                engine.down(created_lab, created_instance)
        raise


def _show_up(console, lab: str, inst: str, nodes, json_out: bool, explicit: bool) -> None:
    if json_out:
        console.print_json({"lab": lab, "instance": inst, "nodes": nodes})
        return
    rows = [[n.node, n.ip, n.mac, console.services_text(n.services)] for n in nodes]
    console.out.print(console.table(f"{lab} is up (instance {inst})",
                                    ["Node", "IP", "MAC", "Services"], rows))
    first = next((n.node for n in nodes if not n.services), nodes[0].node)
    suffix = f" -i {inst}" if explicit else ""
    console.out.print(f"Open a shell:  labctl shell {lab} {first}{suffix}\n"
                      f"Tear it down:  labctl down {lab}{suffix}")


@app.command()
def down(lab: Annotated[str | None, typer.Argument(
            help="The lab to remove (name or path); works even if its YAML is gone.",
            show_default=False)] = None,
         all_labs: Annotated[bool, typer.Option("--all", help="Remove every lab of the instance "
                                                "(with --all-instances: of everyone).")] = False,
         all_instances: Annotated[bool, typer.Option("--all-instances")] = False,
         instance: InstanceOpt = None) -> None:
    """Remove a lab's containers and network, found by their labels."""
    from labctl import console
    if lab is None and not all_labs:
        raise InvalidInput("name a LAB, or pass --all")
    inst = None if all_instances else _instance(instance)
    name = None if lab is None else _lab_name(lab)
    containers, networks = _engine().down(name, inst)
    what = name or "all labs"
    if containers or networks:
        console.err.print(f"removed {what}: {containers} containers, {networks} networks")
    else:
        console.err.print(f"nothing to remove for {what}")


@app.command()
def status(lab: Annotated[str | None, typer.Argument(show_default=False,
                                                     help="Only this lab.")] = None,
           instance: Annotated[str | None, typer.Option(
               "--instance", "-i", help="Only this instance (default: every instance).",
               show_default=False)] = None,
           json_out: JsonOpt = False) -> None:
    """List running labs, every instance, from Docker labels alone."""
    from labctl import console
    nodes = _engine().status(None if lab is None else _lab_name(lab), instance)
    if json_out:
        console.print_json(nodes)
        return
    if not nodes:
        console.err.print("no labs are running")
        return
    rows = [[n.lab, n.instance, n.node, n.status, n.ip, n.mac, console.services_text(n.services)]
            for n in nodes]
    console.out.print(console.table(None, ["Lab", "Instance", "Node", "State", "IP", "MAC",
                                           "Services"], rows))


@app.command(name="exec")
def exec_(lab: LabArg, node: NodeArg,
          command: Annotated[list[str], typer.Argument(help="The command, after --.",
                                                       show_default=False)],
          instance: InstanceOpt = None) -> None:
    """Run a command on a node; exit with the command's exit code."""
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise InvalidInput("give the command to run after --, e.g. labctl exec LAB NODE -- ss -tln")
    engine = _engine()
    info = engine.find_node(_lab_name(lab), _instance(instance), node)
    rt = engine.runtime
    exec_id, stream = rt.exec_stream(info.container, command)
    for out_chunk, err_chunk in stream:
        if out_chunk:
            sys.stdout.buffer.write(out_chunk)
            sys.stdout.buffer.flush()
        if err_chunk:
            sys.stderr.buffer.write(err_chunk)
            sys.stderr.buffer.flush()
    raise typer.Exit(rt.exec_exit_code(exec_id))


@app.command()
def shell(lab: LabArg, node: NodeArg, instance: InstanceOpt = None) -> None:
    """Open an interactive shell on a node."""
    from labctl import console, interactive
    engine = _engine()
    info = engine.find_node(_lab_name(lab), _instance(instance), node)
    console.err.print(f"[dim]{info.node} of {info.lab} ({info.ip}); type exit to leave[/]")
    raise typer.Exit(interactive.shell(engine.runtime, info.container))


@app.command()
def logs(lab: LabArg, node: NodeArg, instance: InstanceOpt = None,
         follow: Annotated[bool, typer.Option("--follow", "-f")] = False) -> None:
    """Show what a node's services printed (the seeds' log lines)."""
    engine = _engine()
    info = engine.find_node(_lab_name(lab), _instance(instance), node)
    for chunk in engine.runtime.logs(info.container, follow=follow):
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()


@app.command()
def validate(labs: Annotated[list[str], typer.Argument(help="Labs to check.",
                                                       show_default=False)],
             json_out: JsonOpt = False) -> None:
    """Check lab files without touching Docker; exit 2 if any is invalid."""
    from labctl import console, loader
    results = []
    for lab in labs:
        try:
            model = loader.load(lab)
            results.append({"lab": lab, "valid": True, "name": model.name, "problems": []})
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
            node: Annotated[str | None, typer.Argument(
                help="Only this node (default: every node that captures).",
                show_default=False)] = None,
            output: Annotated[Path, typer.Option("--output", "-o", help="Directory for the pcaps.",
                                                 file_okay=False)] = Path("captures"),
            merged: Annotated[bool, typer.Option("--merge", help="Also write one time-ordered "
                                                 "pcap of every node's packets.")] = False,
            instance: InstanceOpt = None) -> None:
    """Copy the lab's packet captures to the host (they open in Wireshark)."""
    from labctl import capture as capture_mod
    from labctl import console
    name = _lab_name(lab)
    files, _ = capture_mod.collect(_engine(), name, _instance(instance), node)
    for path in capture_mod.write(files, output, name, merged):
        console.out.print(str(path))


@app.command()
def trace(lab: Annotated[str | None, typer.Argument(
              help="A running lab (or use --pcap).", show_default=False)] = None,
          node: Annotated[str | None, typer.Argument(
              help="The capturing node to read (default: the first).",
              show_default=False)] = None,
          pcap: Annotated[Path | None, typer.Option(
              "--pcap", help="Read this pcap file instead of a running lab.", dir_okay=False,
              exists=True)] = None,
          port: Annotated[int | None, typer.Option(help="Only connections to this server port.")
                          ] = None,
          svg: Annotated[Path | None, typer.Option(help="Write the ladder diagram as SVG.",
                                                   dir_okay=False)] = None,
          html_out: Annotated[Path | None, typer.Option(
              "--html", help="Write tables and ladders as an HTML page.", dir_okay=False)] = None,
          full: Annotated[bool, typer.Option("--all", help="Layer tables for every packet, "
                                             "not only handshake and teardown.")] = False,
          json_out: JsonOpt = False,
          instance: InstanceOpt = None) -> None:
    """Show the handshakes and teardowns the lab captured, as the course draws them."""
    from labctl import analysis, console, trace_view
    from labctl import trace as trace_mod
    if pcap is not None:
        data, names, title = pcap.read_bytes(), trace_mod.Names({}), str(pcap)
    elif lab is not None:
        from labctl import capture as capture_mod
        name = _lab_name(lab)
        inst = _instance(instance)
        files, nodes = capture_mod.collect(_engine(), name, inst, node)
        data = files[0].data
        names = trace_mod.Names({n.ip: n.node for n in nodes})
        title = f"{name}: packets captured on {files[0].node}"
    else:
        raise InvalidInput("name a running LAB, or give --pcap FILE")
    try:
        result = analysis.analyse(data)
    except ValueError as exc:
        raise InvalidInput(f"{title}: {exc}") from None
    if port is not None:
        result.conversations = result.find(server_port=port)
        result.udp_flows = [f for f in result.udp_flows if port in (f.src[1], f.dst[1])]
    if svg is not None:
        if not result.conversations:
            raise InvalidInput("no TCP conversation to draw")
        svg.write_text(trace_mod.ladder_svg(result.conversations[0], names))
    if html_out is not None:
        html_out.write_text(trace_mod.html_page(result, names, title))
    if json_out:
        console.print_json(trace_mod.to_data(result, names))
        return
    trace_view.show(console.out, result, names, title, full)


JunitOpt = Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.",
                                               dir_okay=False, show_default=False)]


@app.command()
def check(lab: LabArg, instance: InstanceOpt = None, json_out: JsonOpt = False,
          junit: JunitOpt = None) -> None:
    """Run the lab's checks on the running lab; exit 1 if any fails."""
    from labctl import console, loader, report_view, runner
    model = loader.load(lab)
    inst = _instance(instance)
    results = runner.check_running(_engine(), model, inst)
    if junit is not None:
        from labctl import junit as junit_mod
        junit_mod.write([runner.LabReport(model.name, inst, lab, checks=results)], junit)
    if json_out:
        console.print_json({"lab": model.name, "instance": inst, "checks": results,
                            "passed": all(r.passed for r in results)})
    else:
        report_view.show_checks(console.out, results)
    raise typer.Exit(EXIT_OK if all(r.passed for r in results) else EXIT_FAILED)


@app.command()
def test(lab: LabArg, instance: InstanceOpt = None,
         keep: Annotated[bool, typer.Option("--keep", help="Leave the lab running after.")
                         ] = False,
         json_out: JsonOpt = False, junit: JunitOpt = None) -> None:
    """Up, steps, checks, down: the whole lab as CI sees it."""
    from labctl import console, loader, report_view, runner
    path = loader.resolve(lab)
    with console.progress(f"Testing {path.parent.name}") as report:
        result = runner.test_lab(_engine(report), path, _instance(instance), keep, report)
    _report(console, report_view, [result], json_out, junit)
    if result.error is None and not json_out:
        report_view.show_steps(console.out, result.steps)
        report_view.show_checks(console.out, result.checks)
    elif result.error is not None and not json_out:
        console.err.print(f"labctl: error: {result.error}", markup=False)
    raise typer.Exit(EXIT_OK if result.passed else EXIT_FAILED)


@app.command()
def verify(paths: Annotated[list[Path] | None, typer.Argument(
               help="Labs (directories or lab.yaml files), or directories of labs. "
                    "Default: every lab under ./labs.", show_default=False)] = None,
           workers: Annotated[int, typer.Option(help="Labs tested at once.")] = 2,
           json_out: JsonOpt = False, junit: JunitOpt = None) -> None:
    """Test every lab (up, steps, checks, down); exit 1 if any lab fails."""
    from labctl import console, loader, report_view, runner
    labs = _lab_paths(paths or [Path("labs")])
    for path in labs:
        loader.load(path)  # every lab valid before anything starts
    prefix = f"verify{os.getpid()}"
    engine = _engine()
    try:
        with console.progress(f"Verifying {len(labs)} labs") as report:
            engine.progress = report
            reports = runner.verify(engine, labs, prefix, workers, report)
    except KeyboardInterrupt:
        for index in range(len(labs)):
            engine.down(None, f"{prefix}-{index}")
        raise
    _report(console, report_view, reports, json_out, junit)
    if not json_out:
        report_view.show_summary(console.out, reports)
    raise typer.Exit(EXIT_OK if all(r.passed for r in reports) else EXIT_FAILED)


def _lab_paths(paths: list[Path]) -> list[Path]:
    from labctl import loader
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


def _report(console, report_view, reports, json_out: bool, junit: Path | None) -> None:
    if junit is not None:
        from labctl import junit as junit_mod
        junit_mod.write(reports, junit)
    if json_out:
        console.print_json({"passed": all(r.passed for r in reports), "labs": reports})


@app.command()
def new(name: Annotated[str, typer.Argument(help="Name of the new lab.", show_default=False)],
        source: Annotated[str | None, typer.Option("--from", help="Copy this lab instead of "
                                                    "the commented template.")] = None,
        directory: Annotated[Path, typer.Option("--dir", help="Where labs live.",
                                                file_okay=False)] = Path("labs")) -> None:
    """Create labs/NAME with a lab.yaml that explains each key, a student sheet and notes."""
    from labctl import console, scaffold
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
    containers, networks = _engine().gc(None if all_instances else _instance(instance))
    console.err.print(f"removed {containers} stopped containers, {networks} unused networks")


@app.command()
def schema() -> None:
    """Print the JSON Schema of lab.yaml (for editor completion)."""
    from labctl import console, model
    console.print_json(model.Lab.model_json_schema())


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
    from labctl import console, images, runtime
    with console.progress("Building images") as report:
        ref = images.ensure_images(runtime.connect().api, report, method=method.value,
                                   force=force)
    console.err.print(f"{ref} is ready ({images.node_hash()})")


def _raise_interrupt(signum, _frame):
    raise KeyboardInterrupt


def _unexpected(exc: Exception) -> int:
    import docker.errors
    import requests.exceptions

    from labctl.errors import EXIT_RUNTIME
    if isinstance(exc, docker.errors.DockerException | requests.exceptions.RequestException):
        message = getattr(exc, "explanation", None) or str(exc)
        sys.stderr.write(f"labctl: error: Docker engine: {message}\n")
    else:
        sys.stderr.write(f"labctl: internal error: {type(exc).__name__}: {exc} "
                         "(set LABCTL_DEBUG=1 for a traceback)\n")
    return EXIT_RUNTIME


def main() -> None:
    # SIGTERM takes the same clean-up path as Ctrl-C.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        code = app(standalone_mode=False)
        if code == EXIT_INTERRUPTED:  # typer turns Ctrl-C into Exit(130)
            sys.stderr.write("labctl: interrupted\n")
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("labctl: interrupted\n")
        code = EXIT_INTERRUPTED
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.TyperException as exc:  # usage errors: typer shows them as click would
        if hasattr(exc, "show"):
            exc.show()
        code = getattr(exc, "exit_code", EXIT_INVALID)
    except LabctlError as exc:
        sys.stderr.write(f"labctl: error: {exc}\n" if not isinstance(exc, LabInvalid)
                         else f"{exc}\n")
        code = exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the user gets one line, never a traceback
        if os.environ.get("LABCTL_DEBUG"):
            raise
        code = _unexpected(exc)
    # The work is done (or undone): a signal now must not turn the outcome into a kill.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":
    main()
