"""Where a lab argument's file is: a path to a directory or file, or a lab name under
./labs or among the labs shipped with labctl. No YAML and no model here: `up` of a lab
whose blueprint is cached (blueprint.py) needs only this."""

from __future__ import annotations

import difflib
from pathlib import Path

from labctl.errors import LabNotFound
from labctl.paths import lab_search_dirs

LAB_FILE = "lab.yaml"


def resolve(lab: str | Path, cwd: Path | None = None) -> Path:
    """The lab file for a LAB argument: a path to a directory or file, or a lab name."""
    candidate = Path(lab)
    if candidate.is_file():
        return candidate
    if candidate.is_dir():
        if (candidate / LAB_FILE).is_file():
            return candidate / LAB_FILE
        raise LabNotFound(f"{candidate}: no {LAB_FILE} in this directory")
    name = str(lab)
    if "/" not in name:
        for directory in lab_search_dirs(cwd):
            path = directory / name / LAB_FILE
            if path.is_file():
                return path
    known = sorted(available_labs(cwd))
    hint = difflib.get_close_matches(name, known, n=1)
    suffix = f" (did you mean '{hint[0]}'?)" if hint else (
        f"; known labs: {', '.join(known)}" if known else "")
    raise LabNotFound(f"no lab named '{name}'{suffix}")


def available_labs(cwd: Path | None = None) -> dict[str, Path]:
    labs: dict[str, Path] = {}
    for directory in lab_search_dirs(cwd):
        if directory.is_dir():
            for path in sorted(directory.glob(f"*/{LAB_FILE}")):
                labs.setdefault(path.parent.name, path)
    return labs


def find_labs(paths: list[str | Path], cwd: Path | None = None) -> list[Path]:
    """Lab files for arguments that are labs (name, directory, file) or folders of labs."""
    found: list[Path] = []
    for arg in paths:
        path = Path(arg)
        if path.is_dir() and not (path / LAB_FILE).is_file():
            labs = sorted(path.glob(f"*/{LAB_FILE}"))
            if not labs:
                raise LabNotFound(f"{path}: no {LAB_FILE} here nor in its folders")
            found += labs
        else:
            found.append(resolve(arg, cwd))
    return found
