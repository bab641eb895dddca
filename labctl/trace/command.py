"""`labctl trace`: read the captures, pick what to show, write the files, print.

Kept out of the CLI so the command stays a thin layer: this module reads a
pcap file or every capture of a running lab (so each handshake packet can be
drawn as its sender sent it and as its receiver got it), chooses between a
summary and the detail, and returns the exit code: 0, or EXIT_DAMAGED when a
capture was damaged (what was sound is shown, then one warning line).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from labctl import console
from labctl.console import printable
from labctl.errors import EXIT_DAMAGED, EXIT_OK, InvalidInput
from labctl.trace import terminal as trace_view
from labctl.trace import views as trace_mod
from labctl.trace.analysis import Analysis, Conversation, analyse
from labctl.trace.views import LAB_MEDIUM, Matcher, Names

SUMMARY_OVER = 10  # more connections than this: a summary unless --all or --conn
SVG_LIMIT = 200  # connections drawn in one SVG before asking for --conn


@dataclass
class Options:
    port: int | None = None
    conn: int | None = None
    every: bool = False  # --all
    svg: Path | None = None
    html: Path | None = None
    json: bool = False


@dataclass
class Source:
    """What was read: the capture shown, and every capturing node's, by node."""

    title: str
    analysis: Analysis
    names: Names
    warnings: list[str] = field(default_factory=list)


def from_file(path: Path) -> Source:
    analysis = _analyse(path.read_bytes(), str(path))
    warnings = [printable(f"warning: {path}: {warning}") for warning in analysis.warnings]
    return Source(str(path), analysis, Names({}), warnings)


def from_lab(files: list, nodes: list, lab: str, node: str | None) -> Source:
    """`files` are every capturing node's (capture.CapturedFile); `node` picks the one shown."""
    analyses, warnings = {}, []
    for f in files:
        analyses[f.node] = _analyse(f.data, f"{lab}: {f.node}'s capture")
        warnings += [printable(f"warning: {lab}: {f.node}'s capture: {warning}")
                     for warning in analyses[f.node].warnings]
    shown = node or files[0].node
    by_ip = {}
    for n in nodes:
        by_ip[n.ip] = n.node
        for ip in getattr(n, "addresses", {}).values():
            by_ip.setdefault(ip, n.node)
    matchers = {name: Matcher(a) for name, a in analyses.items()}
    names = Names(by_ip, LAB_MEDIUM, shown, matchers)
    return Source(f"{lab}: packets captured on {shown}", analyses[shown], names, warnings)


def _analyse(data: bytes, title: str) -> Analysis:
    try:
        analysis = analyse(data)
        analysis.check_readable()
        return analysis
    except ValueError as exc:
        raise InvalidInput(f"{title}: {exc}") from None


def select(analysis: Analysis, options: Options) -> list[Conversation]:
    chosen = analysis.conversations
    if options.port is not None:
        chosen = [c for c in chosen if options.port in (c.server[1], c.client[1])]
        analysis.udp_flows = [f for f in analysis.udp_flows
                              if options.port in (f.src[1], f.dst[1])]
    if options.conn is not None:
        chosen = [c for c in chosen if c.stream == options.conn]
        if not chosen:
            raise InvalidInput(f"no TCP connection {options.conn} (connections are numbered "
                               f"0 to {len(analysis.conversations) - 1}, as Wireshark's "
                               "tcp.stream)")
    return chosen


def run(source: Source, options: Options) -> int:

    console.out.on_broken_pipe = _reader_went_away  # rich would exit 1
    analysis, names = source.analysis, source.names
    chosen = select(analysis, options)
    if options.svg is not None:
        if not chosen:
            raise InvalidInput("no TCP connection to draw")
        drawn = chosen[:SVG_LIMIT]
        options.svg.write_text(trace_mod.ladders_svg(drawn, names, tables=True))
        _note(console, f"wrote {options.svg}: {len(drawn)} connection ladder(s)"
              + (f" of {len(chosen)}; choose one with --conn N" if len(drawn) < len(chosen)
                 else ""))
    if options.html is not None:
        options.html.write_text(trace_mod.html_page(analysis, names, source.title, chosen))
        _note(console, f"wrote {options.html}")
    detail = options.every or options.conn is not None or len(chosen) <= SUMMARY_OVER
    if options.json:
        trace_mod.write_json(sys.stdout.write, analysis, names, chosen, segments=detail)
    elif options.svg is None and options.html is None:
        trace_view.show(console.out, analysis, names, source.title, chosen, detail,
                        every_packet=options.every)
    sys.stdout.flush()
    for warning in source.warnings:
        console.err.print(warning, markup=False)
    return EXIT_DAMAGED if source.warnings else EXIT_OK


def _note(console, text: str) -> None:
    console.err.print(console.printable(text), markup=False)


def _reader_went_away() -> None:
    raise BrokenPipeError
