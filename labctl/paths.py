"""Where labctl finds its image definitions and bundled labs.

From a source checkout they sit beside the package; a wheel carries them
inside it (see pyproject's force-include).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def images_dir() -> Path:
    bundled = _PACKAGE / "_images"
    return bundled if bundled.is_dir() else _PACKAGE.parent / "images"


def node_code_dir() -> Path:
    """The stdlib-only code that runs inside every node (agent and services)."""
    return _PACKAGE / "node"


def lab_search_dirs(cwd: Path | None = None) -> list[Path]:
    """Lab names resolve under ./labs first, then the labs shipped with labctl."""
    cwd = cwd or Path.cwd()
    dirs = [cwd / "labs"]
    for bundled in (_PACKAGE / "_labs", _PACKAGE.parent / "labs"):
        if bundled.is_dir() and bundled.resolve() not in [d.resolve() for d in dirs]:
            dirs.append(bundled)
    return dirs
