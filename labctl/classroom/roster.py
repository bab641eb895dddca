"""A class list: one user name per line, or a CSV with a column of user names.

CSVs as grade books and classrooms export them are read as they are: GitHub
Classroom's roster (`identifier`, else `github_username`), a Moodle grade or
participants export (`Username`, else `ID number`, else `Email address`), or any
sheet with a user/login column. A full name is never taken for a user name.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from labctl.errors import InvalidInput

# The columns a user name is read from, in order: for each row, the first one filled.
COLUMNS = ("user", "username", "user_name", "login", "identifier", "github_username",
           "student", "id_number", "idnumber", "email_address", "email")
_USER = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._ @-]{0,63}$")  # as tokens.check_user


def read_students(path: Path, column: str | None = None) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read the class list: {exc}") from None
    return parse_students(text, str(path), column)


def _key(header: str) -> str:
    return header.strip().lower().replace(" ", "_").replace("-", "_")


def parse_students(text: str, where: str, column: str | None = None) -> list[str]:
    """User names in file order, once each; a CSV's header names the column (`column`,
    or the first of COLUMNS that a row fills)."""
    text = text.removeprefix("\ufeff")
    lines = text.splitlines()
    first = next((line for line in lines if line.strip() and not line.startswith("#")), "")
    found: list[tuple[int, str]] = []
    if "," in first or "\t" in first or ";" in first:
        dialect = csv.Sniffer().sniff(first, delimiters=",\t;")
        rows = list(csv.reader(io.StringIO(text), dialect))
        header_at = next(i for i, row in enumerate(rows) if any(c.strip() for c in row))
        header = [_key(c) for c in rows[header_at]]
        wanted = (_key(column),) if column else COLUMNS
        columns = [header.index(c) for c in wanted if c in header]
        if not columns:
            named = f"no column '{column}'" if column else (
                f"no column of user names (name one of: {', '.join(COLUMNS)})")
            raise InvalidInput(f"{where}:{header_at + 1}: {named}")
        for number, row in enumerate(rows[header_at + 1:], start=header_at + 2):
            if any(c.strip() for c in row):
                cells = [row[i].strip() for i in columns if i < len(row)]
                found.append((number, next((c for c in cells if c), "")))
    elif column:
        raise InvalidInput(f"{where}: a column was named ('{column}') but this is a plain "
                           "list, not a CSV")
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
