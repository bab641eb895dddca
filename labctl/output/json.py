"""A Report as JSON (documented in docs/json.md)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, is_dataclass

from labctl.service.report import Report, to_data

__all__ = ["to_data", "write"]


def write(report: Report) -> None:
    sys.stdout.write(json.dumps(to_data(report), indent=2, default=_default) + "\n")


def _default(obj: object) -> object:
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    return str(obj)
