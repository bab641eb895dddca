"""`labctl new`: a lab to start from, commented key by key, or a copy of another lab."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from labctl.errors import InvalidInput
from labctl.lab import loader, schema

TEMPLATES = Path(__file__).parent / "templates"
NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")


def new_lab(name: str, labs_dir: Path, source: str | None = None) -> Path:
    if not NAME.match(name):
        raise InvalidInput(f"invalid lab name '{name}': use lowercase letters, digits and '-'")
    target = labs_dir / name
    if target.exists():
        raise InvalidInput(f"{target} already exists")
    if source is not None:
        origin = loader.resolve(source).parent
        shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
        lab_file = target / loader.LAB_FILE
        old = loader.load(lab_file).name
        lab_file.write_text(re.sub(rf"^name: {re.escape(old)}\s*$", f"name: {name}",
                                   lab_file.read_text(), count=1, flags=re.M))
    else:
        target.mkdir(parents=True)
        for template in ("lab.yaml", "README.md", "INSTRUCTOR.md"):
            text = (TEMPLATES / template).read_text()
            (target / template).write_text(text.replace("{name}", name)
                                           if template != "lab.yaml" else text.format(name=name))
    loader.load(target)  # the scaffold must itself be a valid lab
    write_schema(labs_dir)
    return target


def write_schema(labs_dir: Path) -> Path:
    """labs/lab.schema.json, which the template's `$schema=../lab.schema.json` points at."""
    path = labs_dir / schema.FILE_NAME
    text = schema.schema_text()
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return path
