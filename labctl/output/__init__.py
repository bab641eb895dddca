"""Render a Report (labctl/service/report.py): text for people, JSON for scripts, JUnit for CI.

`emit` is what the commands call; core modules never import this package.
"""

from __future__ import annotations

from pathlib import Path

from labctl.service.report import Report


def emit(report: Report, json_out: bool = False, junit: Path | None = None,
         explicit_instance: bool = False) -> None:
    """JUnit to a file if asked; then JSON or text on stdout (and stderr for notes)."""
    if junit is not None:
        from labctl.output import junit as junit_out  # noqa: PLC0415 - lazy: the format asked for
        junit_out.write(report.labs, junit)
    if json_out:
        from labctl.output import json as json_out_mod  # noqa: PLC0415 - lazy: the format asked for
        json_out_mod.write(report)
        return
    from labctl.output import text  # noqa: PLC0415 - lazy: the format asked for
    text.show(report, explicit_instance)
