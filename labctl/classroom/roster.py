"""A class list: one user name per line, or a CSV with a column of user names."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from labctl.errors import InvalidInput

COLUMNS = ("user", "username", "user_name", "login", "student", "name")
_USER = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._ @-]{0,63}$")  # as tokens.check_user


def read_students(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read the class list: {exc}") from None
    return parse_students(text, str(path))


def parse_students(text: str, where: str) -> list[str]:
    """User names in file order, once each; a CSV's header names the column."""
    lines = text.splitlines()
    first = next((line for line in lines if line.strip() and not line.startswith("#")), "")
    found: list[tuple[int, str]] = []
    if "," in first or "\t" in first or ";" in first:
        dialect = csv.Sniffer().sniff(first, delimiters=",\t;")
        rows = list(csv.reader(io.StringIO(text), dialect))
        header_at = next(i for i, row in enumerate(rows) if any(c.strip() for c in row))
        header = [c.strip().lower().replace(" ", "_").replace("-", "_")
                  for c in rows[header_at]]
        column = next((header.index(c) for c in COLUMNS if c in header), None)
        if column is None:
            raise InvalidInput(f"{where}:{header_at + 1}: no column of user names (name one "
                               f"of: {', '.join(COLUMNS)})")
        for number, row in enumerate(rows[header_at + 1:], start=header_at + 2):
            if any(c.strip() for c in row):
                found.append((number, row[column].strip() if column < len(row) else ""))
    else:
        found = [(n, line.strip()) for n, line in enumerate(lines, start=1)
                 if line.strip() and not line.lstrip().startswith("#")]
    names: list[str] = []
    for number, name in found:
        if not _USER.match(name):
            raise InvalidInput(f"{where}:{number}: '{name}' is not a user name (letters, "
                               "digits, '.', '_', '-', '@', spaces; up to 64)")
        if name not in names:
            names.append(name)
    if not names:
        raise InvalidInput(f"{where}: no user names in the class list")
    return names
