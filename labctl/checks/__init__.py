"""Checks: each kind declared once (registry.py, with the kinds in node.py,
wire.py, traffic.py, commands.py), run against a running lab by run.py.

Importing the package stays light (model.py imports the registry); the
runner's names load on first use.
"""

from __future__ import annotations

from typing import Any

_RUN_NAMES = ("LabState", "run_checks", "title")


def __getattr__(name: str) -> Any:
    if name in _RUN_NAMES:
        from labctl.checks import run
        return getattr(run, name)
    if name in ("Failed", "CheckResult"):
        from labctl.checks import registry
        return getattr(registry, name)
    raise AttributeError(name)
