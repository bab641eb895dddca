"""Plain-text tables and paragraphs that fit a width without cutting a value.

rich shortens what does not fit with an ellipsis (`SYN/…`, `1848…`); a trace must
never lose a flag or a digit. Here a cell is made of atoms, the pieces a value may
be broken between (words, or `Src IP: 10.0.0.3`), and a table either fits, with
its cells wrapped between atoms, or says it does not (None) so the caller picks a
layout that does (one record per row, one line per layer). Plain strings out, so a
40,000-row table costs milliseconds, not rich's seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BOX_TOP, BOX_HEAD, BOX_BOTTOM = "┏━┳┓", "┡━╇┩", "└─┴┘"


@dataclass(frozen=True)
class Column:
    header: str
    right: bool = False  # numbers, aligned right
    wrap: bool = True  # may break between its atoms (else one line, whole)
    fold: bool = False  # may even break inside an atom (a payload preview)
    lines: int = 3  # a table whose cells would need more lines than this does not fit
    least: int = 0  # nor one that leaves this column (wrapped) fewer characters than this


ADDRESS_ATOMS = re.compile(r"(?:Src|Dst) (?:Port|IP|MAC): \S+|\S+")


def atoms(text: str) -> list[str]:
    """Words, except that `Src IP: 10.0.0.3` and its kin stay together."""
    return ADDRESS_ATOMS.findall(text) if ": " in text else text.split()


def wrap(pieces: list[str], width: int, indent: int = 0, first: str = "") -> list[str]:
    """Greedy lines of at most `width`, breaking only between pieces; `first` leads the first
    line, later lines are indented by `indent` (less when a piece would not fit after it).
    A piece longer than the whole width is broken at its spaces, then, as a last resort,
    every `width` characters."""
    width = max(width, 1)
    if any(len(p) > width - indent for p in pieces):
        indent = min(indent, 4)
        pieces = _split_long(pieces, width - indent)
    lines, line, empty = [], first, True  # empty: no piece on this line yet
    for piece in pieces:
        if empty:
            if line.strip() and len(line) + len(piece) > width:  # the lead-in alone
                lines.append(line)
                line = " " * indent
            line += piece
            empty = False
        elif len(line) + 1 + len(piece) <= width:
            line += " " + piece
        else:
            lines.append(line)
            line = " " * indent + piece
    lines.append(line)
    return [x.rstrip() for x in lines]


def paragraph(text: str, width: int, indent: int = 2) -> list[str]:
    if len(text) <= width:
        return [text]
    return wrap(text.split(), width, indent)


def _split_long(pieces: list[str], room: int) -> list[str]:
    out = []
    for piece in pieces:
        if len(piece) <= room:
            out.append(piece)
            continue
        for word in piece.split():
            out.extend(word[i:i + room] for i in range(0, len(word), room))
    return out


def grid(columns: list[Column], rows: list[list[str]], width: int, box: bool = False
         ) -> list[str] | None:
    """The table's lines, every one at most `width` long, or None when it cannot fit
    without cutting a value or wrapping a cell past its column's `lines`. A plain table
    that does not fit with two spaces between columns tries one."""
    found = _grid(columns, rows, width, box, 2)
    if found is None and not box:
        found = _grid(columns, rows, width, box, 1)
    return found


def _grid(columns: list[Column], rows: list[list[str]], width: int, box: bool, gap: int
          ) -> list[str] | None:
    count = len(columns)
    overhead = 3 * count + 1 if box else gap * (count - 1)
    room = width - overhead
    values = [0] * count
    for row in rows:
        for i, value in enumerate(row):
            if len(value) > values[i]:
                values[i] = len(value)
    natural = [max(v, len(c.header)) for v, c in zip(values, columns, strict=True)]
    if sum(natural) <= room:
        widths = natural
    else:
        floors = [_floor(c, {r[i] for r in rows}, natural[i]) for i, c in enumerate(columns)]
        if sum(floors) > room:
            return None
        widths = _share(floors, [max(v, f) for v, f in zip(values, floors, strict=True)],
                        natural, room)
    lines = _rows([c.header for c in columns], columns, widths, box, gap, head=True)
    if box:
        lines = [_rule(BOX_TOP, widths), *lines, _rule(BOX_HEAD, widths)]
    # Most rows fit on one line: one format call each (a table can have 100,000 rows).
    specs = [f"{{:{'>' if c.right else '<'}{w}}}" for c, w in zip(columns, widths, strict=True)]
    template = ("│ " + " │ ".join(specs) + " │") if box else (" " * gap).join(specs)
    may_wrap = [i for i in range(count) if values[i] > widths[i]]
    wrapped: dict[tuple[int, str], list[str]] = {}  # (column, value) -> its lines
    for row in rows:
        if not any(len(row[i]) > widths[i] for i in may_wrap):
            line = template.format(*row)
            lines.append(line if box else line.rstrip())
            continue
        cells: list = list(row)
        for i in may_wrap:
            value = row[i]
            if len(value) > widths[i]:
                found = wrapped.get((i, value))
                if found is None:
                    found = wrapped[(i, value)] = _cell_lines(value, columns[i], widths[i])
                cells[i] = found
        height = max(len(c) if isinstance(c, list) else 1 for c in cells)
        for n in range(height):
            line = template.format(*[(c[n] if n < len(c) else "") if isinstance(c, list)
                                     else (c if n == 0 else "") for c in cells])
            lines.append(line if box else line.rstrip())
    if box:
        lines.append(_rule(BOX_BOTTOM, widths))
    return lines


def _floor(column: Column, values: set[str], natural: int) -> int:
    """The narrowest the column may be: its longest atom, and few enough lines a cell."""
    if not column.wrap:  # whole values; only the header may take two lines
        return max([len(v) for v in values] + [len(a) for a in column.header.split()])
    spread = -(-natural // column.lines)
    if column.fold:
        return max(min(natural, 12), spread)
    longest = max((len(a) for v in [column.header, *values] for a in atoms(v)), default=1)
    return max(longest, spread, min(column.least, natural))


def _share(floors: list[int], values: list[int], natural: list[int], room: int) -> list[int]:
    """Each column its floor, then what is left to the columns that want least first, so
    that as few columns wrap as can be; a header's own width comes last."""
    widths = list(floors)
    spare = room - sum(floors)
    for goal in (values, natural):
        for i in sorted(range(len(widths)), key=lambda i: goal[i] - widths[i]):
            extra = max(0, min(goal[i] - widths[i], spare))
            widths[i] += extra
            spare -= extra
    return widths


def _cell_lines(value: str, column: Column, width: int) -> list[str]:
    if len(value) <= width:
        return [value]
    if not column.wrap:
        return wrap(value.split(), width)  # a header
    if column.fold:
        return wrap(_split_long(atoms(value), width), width)
    return wrap(atoms(value), width)


def _rows(row: list[str], columns: list[Column], widths: list[int], box: bool, gap: int,
          head: bool = False) -> list[str]:
    cells = [_cell_lines(v, c, w) for v, c, w in zip(row, columns, widths, strict=True)]
    height = max(len(c) for c in cells)
    out = []
    for n in range(height):
        parts = []
        for cell, column, w in zip(cells, columns, widths, strict=True):
            text = cell[n] if n < len(cell) else ""
            parts.append(text.rjust(w) if column.right and not head else text.ljust(w))
        if box:
            bar = "┃" if head else "│"
            out.append(f"{bar} " + f" {bar} ".join(parts) + f" {bar}")
        else:
            out.append((" " * gap).join(parts).rstrip())
    return out


def _rule(chars: str, widths: list[int]) -> str:
    left, fill, cross, right = chars
    return left + cross.join(fill * (w + 2) for w in widths) + right


def records(columns: list[Column], rows: list[list[str]], width: int) -> list[str]:
    """One row a paragraph, `Header value` after `Header value`: fits any width."""
    out = []
    for row in rows:
        pieces = [f"{c.header} {v}" for c, v in zip(columns, row, strict=True) if v]
        out.extend(wrap(pieces, width, 4))
    return out


def table(columns: list[Column], rows: list[list[str]], width: int,
          box: bool = False) -> list[str]:
    """The table if it fits (boxed first when asked, else plain), else one record a row."""
    for boxed in ((True, False) if box else (False,)):
        lines = grid(columns, rows, width, boxed)
        if lines is not None:
            return lines
    return records(columns, rows, width)
