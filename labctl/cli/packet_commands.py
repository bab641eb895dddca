"""The packet commands: capture (the pcaps to the host, or a live stream) and trace (the
handshakes and teardowns, as the course draws them)."""

from __future__ import annotations

import select
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from labctl import console
from labctl.cli import backends, exit_path, params
from labctl.errors import EXIT_DAMAGED, EXIT_OK, InvalidInput
from labctl.lab import naming
from labctl.lab.blueprint import lab_name
from labctl.service import captures as captured
from labctl.trace import command as trace_run
from labctl.trace import follow as trace_follow


@click.command()
@params.lab_argument
@params.argument("node", "NODE", "Only this node (default: every node that captures).",
                 required=False)
@click.option("--output", "-o", type=params.directory(), default=Path("captures"),
              help="Directory for the pcaps.")
@click.option("--merge", "merged", is_flag=True,
              help="Also write one time-ordered pcapng of every node's packets, one "
                   "interface per node.")
@click.option("--live", is_flag=True,
              help="Stream NODE's capture while the lab runs (with -w -), until Ctrl-C.")
@click.option("--write", "-w", default=None,
              help="With --live: where the pcap stream goes ('-': stdout, e.g. | wireshark "
                   "-k -i -).")
@params.instance_option
def capture(lab: str, node: str | None, output: Path, merged: bool, live: bool,
            write: str | None, instance: str | None) -> int:
    """Copy the lab's packet captures to the host (they open in Wireshark)."""
    chosen = backends.chosen()
    if live or write is not None:
        if not (live and node and write):
            raise InvalidInput("live capture: labctl capture LAB NODE --live -w - (or -w FILE)")
        return _stream_capture(chosen.live_capture(lab, instance, node), write)
    name, files, _ = chosen.captures(lab, instance, node)
    for path in captured.write(files, output, name, merged):
        console.out.print(str(path))
    return EXIT_OK


def _on_reader_gone(stop: Callable[[], None] | None) -> None:
    """Stop the stream when stdout's reader goes (tshark -c 3 is done; Wireshark closed)
    even while no packet comes: a write would only then notice the broken pipe."""
    if stop is None:
        return

    def watch() -> None:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLERR | select.POLLHUP)
        while not poller.poll(1000):
            pass
        stop()

    threading.Thread(target=watch, daemon=True).start()


def _stream_capture(chunks: Iterator[bytes], target: str) -> int:
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


@click.command()
@params.argument("lab", "LAB", "A running lab (or use --pcap).", required=False)
@params.argument("node", "NODE", "The capturing node to read (default: the first).",
                 required=False)
@click.option("--pcap", type=params.file(exists=True), default=None,
              help="Read this pcap or pcapng file instead of a running lab.")
@click.option("--port", type=int, default=None,
              help="Only connections to or from this port.")
@click.option("--conn", type=int, default=None,
              help="Only this TCP connection, in detail (numbered as Wireshark's tcp.stream).")
@click.option("--svg", type=params.file(), default=None,
              help="Write every connection's ladder (or --conn's) as SVG.")
@click.option("--html", "html_out", type=params.file(), default=None,
              help="Write tables and ladders as an HTML page.")
@click.option("--all", "full", is_flag=True,
              help="Every connection in detail, and layer tables for every packet.")
@params.json_option
@click.option("--follow", "-f", is_flag=True,
              help="Each segment of the running lab as it is captured, with its connection "
                   "and relative numbers, until Ctrl-C.")
@params.instance_option
def trace(lab: str | None, node: str | None, pcap: Path | None, port: int | None,
          conn: int | None, svg: Path | None, html_out: Path | None, full: bool,
          json_out: bool, follow: bool, instance: str | None) -> int:
    """Show the handshakes and teardowns the lab captured, as the course draws them.

    Exit code 4: a capture was damaged; what was sound is shown, then a warning.
    """
    if follow:
        return _trace_follow(lab, node, port, instance)
    if pcap is not None:
        source = trace_run.from_file(pcap)
    elif lab is not None:
        chosen = backends.chosen()
        name, files, nodes = chosen.captures(lab, instance, None)
        if node is not None:
            if node not in {f.node for f in files}:
                chosen.captures(lab, instance, node)  # raises the precise error
            files.sort(key=lambda f: f.node != node)
        source = trace_run.from_lab(files, nodes, name, node)
    else:
        raise InvalidInput("name a running LAB, or give --pcap FILE")
    options = trace_run.Options(port=port, conn=conn, every=full, svg=svg, html=html_out,
                                json=json_out)
    try:
        return trace_run.run(source, options)
    except BrokenPipeError:  # `| head`: the reader went away; a damaged capture still says so
        exit_path.quiet_broken_pipe()
        for warning in source.warnings:  # stderr is still there
            console.err.print(warning, markup=False)
        return EXIT_DAMAGED if source.warnings else EXIT_OK


def _trace_follow(lab: str | None, node: str | None, port: int | None,
                  instance: str | None) -> int:
    if lab is None:
        raise InvalidInput("--follow reads a running LAB (not --pcap)")
    chosen = backends.chosen()
    nodes = [n for each in chosen.status(lab, instance if chosen.remote else
                                         naming.instance_or_default(instance)).labs
             for n in each.nodes]
    capturing = [n.node for n in nodes if n.capture]
    if node is None and capturing:
        node = capturing[0]
    if node is None:
        raise InvalidInput(f"no node of {lab_name(lab)} captures packets: add "
                           "`capture: {}` to a node")
    names = {}
    for n in nodes:
        names[n.ip] = n.node
        names.update({ip: n.node for ip in n.addresses.values()})
    console.err.print(console.printable(f"following {node}'s capture; Ctrl-C to stop"),
                      markup=False)
    chunks = chosen.live_capture(lab, instance, node)
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
