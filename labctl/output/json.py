"""A Report as JSON (documented in docs/json.md)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, fields, is_dataclass

from labctl.service.report import SCHEMA, LabReport, Report


def to_data(report: Report) -> dict:
    return {"schema": SCHEMA, "command": report.command, "passed": report.passed,
            "labs": [_lab(lab) for lab in report.labs]}


def _lab(lab: LabReport) -> dict:
    data = {f.name: getattr(lab, f.name) for f in fields(lab)}
    data["passed"] = lab.passed
    data["nodes"] = [asdict(n) for n in lab.nodes]
    data["steps"] = [asdict(s) for s in lab.steps]
    data["checks"] = [asdict(c) for c in lab.checks]
    return data


def write(report: Report) -> None:
    sys.stdout.write(json.dumps(to_data(report), indent=2, default=_default) + "\n")


def _default(obj: object) -> object:
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    return str(obj)
