"""Which labs the server offers: its --labs directories, the bundled labs, and (when
allowed) the labs each user sent, kept per user under the state directory."""

from __future__ import annotations

import re
from pathlib import Path

from labctl import paths
from labctl.errors import InvalidInput, LabNotFound
from labctl.lab import model
from labctl.lab.files import LAB_FILE

LAB_NAME = model.NAME_PATTERN
MAX_USER_LABS = 20  # lab files one user may keep on the server
_LAB_NAME = re.compile(LAB_NAME)


class Catalogue:
    def __init__(self, lab_dirs: list[Path], user_labs_dir: Path | None):
        self.dirs = [*lab_dirs, *bundled_lab_dirs()]
        self.user_labs_dir = user_labs_dir  # None: students may not send labs

    def server_labs(self) -> dict[str, Path]:
        labs: dict[str, Path] = {}
        for directory in self.dirs:
            if directory.is_dir():
                for path in sorted(directory.glob(f"*/{LAB_FILE}")):
                    labs.setdefault(path.parent.name, path)
        return labs

    def user_labs(self, base: str) -> dict[str, Path]:
        if self.user_labs_dir is None:
            return {}
        directory = self.user_labs_dir / base
        return {p.stem: p for p in sorted(directory.glob("*.yaml"))} if directory.is_dir() else {}

    def find(self, name: str, base: str) -> Path:
        """A server lab by name, else one the instance's owner sent."""
        check_lab_name(name)
        path = self.server_labs().get(name) or self.user_labs(base).get(name)
        if path is None:
            raise LabNotFound(f"no lab named '{name}' on this server")
        return path

    def store(self, base: str, name: str, text: str) -> Path:
        assert self.user_labs_dir is not None
        if name in self.server_labs():
            raise InvalidInput(f"'{name}' is a lab of this server: give your lab another name")
        directory = self.user_labs_dir / base
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / f"{name}.yaml"
        kept = self.user_labs(base)
        if name not in kept and len(kept) >= MAX_USER_LABS:
            raise InvalidInput(f"you keep {len(kept)} labs on this server (at most "
                               f"{MAX_USER_LABS}): send one under the name of an old one")
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        return path


def check_lab_name(name: str) -> str:
    if not _LAB_NAME.match(name):
        raise InvalidInput(f"invalid lab name '{name}': up to 32 lowercase letters, "
                           "digits and '-', starting with a letter")
    return name


def bundled_lab_dirs() -> list[Path]:
    """The labs shipped with labctl (not ./labs: a server offers only what it is given)."""
    nowhere = Path("/nonexistent")
    return [d for d in paths.lab_search_dirs(nowhere) if d.parent != nowhere]
