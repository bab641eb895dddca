"""A Report for people: tables, PASS/FAIL lines and the explanation of each failure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from labctl import console
from labctl.console import table
from labctl.service.report import LabReport, Report

# What these tables print came from nodes (check output, step output, errors):
# control characters shown escaped, markup escaped (console.shown).
escape = console.shown

if TYPE_CHECKING:  # `up` prints no steps nor checks, and needs not the lab model
    from labctl.lab.results import CheckResult, StepResult


def show(report: Report, explicit_instance: bool = False) -> None:
    out = console.out
    if report.command == "up":
        show_up(out, report.labs[0], explicit_instance)
    elif report.command == "status":
        show_status(out, report)
    elif report.command == "check":
        show_checks(out, report.labs[0].checks)
    elif report.command == "test":
        lab = report.labs[0]
        if lab.error is not None:
            console.err.print(f"labctl: error: {console.printable(lab.error)}", markup=False)
        else:
            show_steps(out, lab.steps)
            show_checks(out, lab.checks)
    else:
        show_summary(out, report.labs)


def show_up(out: Console, lab: LabReport, explicit_instance: bool) -> None:
    nodes = lab.nodes
    rows = [[n.node, n.ip, n.mac, console.services_text(n.services)] for n in nodes]
    out.print(table(f"{lab.lab} is up (instance {lab.instance})",
                    ["Node", "IP", "MAC", "Services"], rows))
    first = next((n.node for n in nodes if not n.services), nodes[0].node)
    suffix = f" -i {lab.instance}" if explicit_instance else ""
    out.print(f"Open a shell:  labctl shell {lab.lab} {first}{suffix}\n"
              f"Tear it down:  labctl down {lab.lab}{suffix}")


def show_status(out: Console, report: Report) -> None:
    nodes = [n for lab in report.labs for n in lab.nodes]
    if not report.labs:
        console.err.print("no labs are running")
        return
    if nodes:
        rows = [[n.lab, n.instance, n.node, n.status, n.ip, n.mac,
                 console.services_text(n.services)] for n in nodes]
        columns = ["Lab", "Instance", "Node", "State", "IP", "MAC", "Services"]
        if any(n.host for n in nodes):  # several hosts (a swarm): which one runs each node
            columns.insert(4, "Host")
            for row, n in zip(rows, nodes, strict=True):
                row.insert(4, n.host)
        if out.is_terminal:
            out.print(table(None, columns, rows))
        else:  # a pipe, a script's grep: every value whole, a line per node, whatever width
            from labctl.textgrid import Column, grid  # noqa: PLC0415 - lazy: status in a pipe only
            lines = grid([Column(c) for c in columns], rows, width=1 << 20) or []
            out.file.write("".join(line + "\n" for line in lines))
    for lab in report.labs:
        if lab.broken:
            out.print(f"[red]{escape(lab.lab)} (instance {escape(lab.instance)}) is "
                      f"{escape(lab.broken)}[/]", highlight=False)


def _mark(passed: bool) -> str:
    return "[green]PASS[/]" if passed else "[red]FAIL[/]"


def show_steps(out: Console, steps: list[StepResult]) -> None:
    for s in steps:
        out.print(f"{_mark(s.passed)} step {s.index + 1} on {escape(s.node)}: "
                  f"{escape(s.name or s.command)}"
                  + (f" — {escape(s.message)}" if s.message else ""),
                  highlight=False)
        if not s.passed and s.output.strip():
            out.print(escape(s.output.strip()[-800:]), style="dim", highlight=False)


def show_checks(out: Console, checks: list[CheckResult]) -> None:
    if not checks:
        out.print("this lab declares no checks")
        return
    t = table(None, ["#", "Check", "Result", "Time"], [])
    for c in checks:
        t.add_row(str(c.index + 1), escape(c.title), _mark(c.passed), f"{c.seconds:.2f}s")
    out.print(t)
    for c in checks:
        if c.passed:
            continue
        out.print(f"[red]✗ {c.index + 1}. {escape(c.title)}[/]")
        out.print(f"  {escape(c.message)}", highlight=False)
        if c.expected:
            out.print(f"  expected: {escape(c.expected)}", highlight=False)
        if c.seen:
            out.print(f"  seen:     {escape(c.seen)}", highlight=False)
    passed = sum(c.passed for c in checks)
    out.print(f"{passed} passed, {len(checks) - passed} failed")


def show_summary(out: Console, reports: list[LabReport]) -> None:
    t = table("labctl verify", ["Lab", "Steps", "Checks", "Failed", "Time", "Result"], [])
    for r in reports:
        steps_ok = sum(s.passed for s in r.steps)
        t.add_row(escape(r.lab), f"{steps_ok}/{len(r.steps)}", str(len(r.checks)),
                  str(len(r.failed_checks) + (1 if r.error else 0)),
                  f"{sum(r.seconds.values()):.1f}s", _mark(r.passed))
    out.print(t)
    for r in reports:
        if r.passed:
            continue
        out.rule(f"{escape(r.lab)}: failed")
        if r.error:
            out.print(f"[red]{escape(r.error)}[/]")
        for problem in r.problems:
            out.print(escape(problem), highlight=False)
        show_steps(out, [s for s in r.steps if not s.passed])
        if r.failed_checks:
            show_checks(out, r.failed_checks)
