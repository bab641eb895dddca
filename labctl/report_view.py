"""Terminal rendering of steps, checks and lab reports."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from labctl.checks import CheckResult
from labctl.console import table
from labctl.runner import LabReport
from labctl.steps import StepResult


def _mark(passed: bool) -> str:
    return "[green]PASS[/]" if passed else "[red]FAIL[/]"


def show_steps(out: Console, steps: list[StepResult]) -> None:
    for s in steps:
        out.print(f"{_mark(s.passed)} step {s.index + 1} on {escape(s.node)}: "
                  f"{escape(s.command)}" + (f" — {escape(s.message)}" if s.message else ""),
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
        show_steps(out, [s for s in r.steps if not s.passed])
        if r.failed_checks:
            show_checks(out, r.failed_checks)
