"""Safe YAML reading that remembers where every key came from.

Parser events are composed into plain data here (never into arbitrary
objects), iteratively, so no input can exhaust the stack. Scalars are typed
as YAML 1.2 does (the core schema, as editors and check-jsonschema read it):
`yes`, `on` and `2024-01-01` are text, `0755` is 755. Size, depth, alias
expansion and number length are bounded; a problem that leaves the rest of
the document readable (a duplicate key, a bad tag) is recorded and reading
goes on, so one mistake hides nothing else.
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path as FsPath

import yaml
from yaml import events as ev

from labctl.errors import Problem

MAX_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_NODES = 20_000  # after alias expansion: stops "billion laughs" documents
MAX_DIGITS = 30  # no number in a lab needs more; Python refuses ints over 4,300 digits

# YAML 1.2 core schema as ruamel.yaml (and so check-jsonschema) resolves it.
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$")
_FLOAT = re.compile(r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)
_MERGE = "<<"
# What YAML itself forbids in a file (C0 controls but tab/newline, DEL, C1 but NEL, ...).
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null")} | {"!"}

Path = tuple[str | int, ...]


class _Invalid:
    """Stands for a value already reported; the model's complaint about it is dropped."""

    def __repr__(self) -> str:
        return "<invalid>"


INVALID = _Invalid()


@dataclass
class Document:
    """Plain data from a YAML file plus the line of every path in it."""

    file: str
    data: object
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)  # readable despite these
    bad_paths: set[Path] = field(default_factory=set)

    def line_of(self, path: Path) -> int:
        """Line of the deepest known prefix of `path` (1 when nothing matches)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1

    def already_reported(self, path: Path) -> bool:
        return any(tuple(path[:end]) in self.bad_paths for end in range(len(path) + 1))


class YamlProblem(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def read_bounded(path: FsPath) -> str:
    """The file's text, refused by size before reading it (and read no further than the limit)."""
    file = str(path)
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise YamlProblem(Problem(file, 1, "", "not a regular file"))
            if info.st_size > MAX_BYTES:
                raise YamlProblem(_too_large(file))
            data = handle.read(MAX_BYTES + 1)  # the file may grow after the stat
    except OSError as exc:
        raise YamlProblem(Problem(file, 1, "", f"cannot read: {exc.strerror}")) from None
    if len(data) > MAX_BYTES:
        raise YamlProblem(_too_large(file))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise YamlProblem(Problem(file, line, "", "file is not UTF-8 text")) from None


def _too_large(file: str) -> Problem:
    return Problem(file, 1, "", f"file is larger than {MAX_BYTES // 1024} KiB")


def load_text(text: str, file: str) -> Document:
    """Parse `text` into a Document, or raise YamlProblem with its location."""
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise YamlProblem(_too_large(file))
    bad = _NON_PRINTABLE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - text.rfind("\n", 0, bad.start())
        raise YamlProblem(Problem(file, line, "", f"control character U+{ord(bad.group()):04X} "
                                  f"at column {column} is not allowed in a lab file"))
    try:
        return _Composer(file).compose(_events(text, fast=True))
    except yaml.YAMLError:
        pass  # libyaml's words are terser: ask the Python parser to say what is wrong
    try:
        doc = _Composer(file).compose(_events(text, fast=False))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlProblem(Problem(file, line, "", f"YAML syntax error: {_yaml_reason(exc)}")) \
            from None
    except yaml.YAMLError as exc:
        raise YamlProblem(Problem(file, 1, "", f"YAML error: {exc}")) from None
    return doc


def _events(text: str, fast: bool):
    parser = _CParser(text) if fast and _CParser else _PyParser(text)
    try:
        while parser.check_event():
            yield parser.get_event()
    finally:
        parser.dispose()


try:
    from yaml.cyaml import CParser as _CParser  # libyaml: ten times faster
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None


class _PyParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    def __init__(self, text: str):
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)

    def dispose(self) -> None:
        self.states = []
        self.state = None


_HINTS = (
    ("mapping values are not allowed", "text holding ': ' must be quoted, e.g. "
     "run: \"cut -d: -f1\""),
    ("expected <block end>", "check the indentation: the keys of one mapping line up, and "
     "list items ('- ') sit under their key"),
    ("could not find expected ':'", "a key needs ': ' after it, or the indentation is off"),
    ("found undefined alias", "an '*' starts an alias: quote text that begins with '*'"),
    ("found character '@'", "quote text that begins with '@' or '`'"),
    ("found character '`'", "quote text that begins with '@' or '`'"),
    ("while scanning a quoted scalar", "a quote is never closed"),
)


def _yaml_reason(exc: yaml.MarkedYAMLError) -> str:
    reason = exc.problem or exc.context or "invalid YAML"
    if "\\t" in reason or "tab" in reason:
        return f"{reason} (YAML forbids tabs for indentation: use spaces)"
    if "another document" in reason:
        return "a lab file holds one YAML document: remove the '---' and what follows"
    if exc.context and exc.context_mark and exc.problem_mark \
            and exc.context_mark.line != exc.problem_mark.line:
        reason = f"{reason} ({exc.context} started on line {exc.context_mark.line + 1})"
    text = f"{exc.problem or ''} {exc.context or ''}"
    hint = next((hint for needle, hint in _HINTS if needle in text), None)
    return f"{reason}; hint: {hint}" if hint else reason


@dataclass
class _Frame:
    value: dict | list
    path: Path
    tag: str | None
    anchor: str | None
    start_count: int
    line: int
    key: str | None = None  # a mapping waiting for its value
    skip_key: bool = False  # the pending key repeats an earlier one: its value is dropped


class _Composer:
    def __init__(self, file: str):
        self.doc = Document(file=file, data=None)
        self.count = 0
        self.anchors: dict[str, tuple[object, int]] = {}

    def fail(self, line: int, path: Path, message: str) -> None:
        raise YamlProblem(Problem(self.doc.file, line, dotted(path), message))

    def note(self, line: int, path: Path, message: str, replaced: bool = True) -> None:
        """Record a problem and go on; `replaced`: the value there stands for nothing now."""
        self.doc.problems.append(Problem(self.doc.file, line, dotted(path), message))
        if replaced:
            self.doc.bad_paths.add(path)

    def compose(self, events) -> Document:
        stack: list[_Frame] = []
        root: list[object] = []
        documents = 0
        for event in events:
            line = event.start_mark.line + 1
            if isinstance(event, ev.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    self.fail(line, (), "YAML syntax error: a lab file holds one YAML document: "
                                        "remove the '---' and what follows")
                continue
            if not isinstance(event, (ev.NodeEvent, ev.CollectionEndEvent)):
                continue
            parent = stack[-1] if stack else None
            if isinstance(parent, _Frame) and isinstance(parent.value, dict) \
                    and parent.key is None and not isinstance(event, ev.CollectionEndEvent):
                self._key(event, parent, line)
                continue
            if isinstance(event, ev.CollectionEndEvent):
                frame = stack.pop()
                value = frame.value
                if not self._collection_tag_ok(frame):
                    value = INVALID
                if frame.anchor:
                    self.anchors[frame.anchor] = (value, self.count - frame.start_count)
                self._place(stack, root, value)
                continue
            path = self._child_path(parent)
            if len(path) > MAX_DEPTH:
                self.fail(line, path, f"nesting is deeper than {MAX_DEPTH} levels")
            self.doc.lines.setdefault(path, line)
            if isinstance(event, ev.AliasEvent):
                if event.anchor not in self.anchors:
                    self.fail(line, path, f"unknown alias '*{event.anchor}'")
                value, size = self.anchors[event.anchor]
                self._grow(size, line, path)
                self._place(stack, root, value)
                continue
            self._grow(1, line, path)
            if isinstance(event, ev.ScalarEvent):
                value = self._scalar(event, path, line)
                if event.anchor:
                    self.anchors[event.anchor] = (value, 1)
                self._place(stack, root, value)
            else:
                container: dict | list = {} if isinstance(event, ev.MappingStartEvent) else []
                stack.append(_Frame(container, path, event.tag, event.anchor, self.count, line))
        if not root:
            raise YamlProblem(Problem(self.doc.file, 1, "",
                                      "the file is empty: expected a mapping of lab keys"))
        self.doc.data = root[0]
        return self.doc

    def _grow(self, size: int, line: int, path: Path) -> None:
        self.count += size
        if self.count > MAX_NODES:
            self.fail(line, path, f"document expands to more than {MAX_NODES} values "
                                  "(too many aliases?)")

    def _child_path(self, parent: _Frame | None) -> Path:
        if parent is None:
            return ()
        if isinstance(parent.value, list):
            return (*parent.path, len(parent.value))
        return (*parent.path, parent.key)

    def _place(self, stack: list[_Frame], root: list, value: object) -> None:
        if not stack:
            root.append(value)
            return
        parent = stack[-1]
        if isinstance(parent.value, list):
            parent.value.append(value)
            return
        if not parent.skip_key:
            parent.value[parent.key] = value
        parent.key, parent.skip_key = None, False

    def _key(self, event: ev.Event, parent: _Frame, line: int) -> None:
        if not isinstance(event, ev.ScalarEvent):
            self.fail(line, parent.path, "keys must be plain scalars")
        if event.tag not in (None, "!", f"{_TAG}str"):
            self.fail(line, parent.path, f"tag {event.tag!r} is not allowed on a key")
        # Keys are their source text: YAML 1.1 would read `on:` as True.
        key = event.value
        if key == _MERGE and event.implicit[0] and event.tag is None:
            self.fail(line, parent.path, "merge keys (<<) are not supported")
        key_path = (*parent.path, key)
        if event.anchor:
            self.anchors[event.anchor] = (key, 1)
        if key in parent.value:
            first = self.doc.lines.get(key_path, "?")
            # the first value stays and is checked as usual
            self.note(line, key_path, f"duplicate key (first defined on line {first})",
                      replaced=False)
            parent.skip_key = True
        else:
            self.doc.lines[key_path] = line
        parent.key = key

    def _collection_tag_ok(self, frame: _Frame) -> bool:
        kind = "map" if isinstance(frame.value, dict) else "seq"
        if frame.tag in (None, "!", f"{_TAG}{kind}"):
            return True
        other, what = ("seq", "mapping") if kind == "map" else ("map", "list")
        self.note(frame.line, frame.path, f"tag !!{other} on a {what}"
                  if frame.tag == f"{_TAG}{other}" else _tag_refused(frame.tag))
        return False

    def _scalar(self, event: ev.ScalarEvent, path: Path, line: int) -> object:
        text, tag = event.value, event.tag
        if tag in (None, "!"):
            if tag == "!" or not event.implicit[0]:  # quoted, or tagged `!`: text
                return text
            tag = _resolve(text)
        if tag not in _SCALAR_TAGS:
            self.note(line, path, _tag_refused(tag))
            return INVALID
        try:
            return _construct(text, tag)
        except ValueError as exc:
            self.note(line, path, str(exc))
            return INVALID


def _tag_refused(tag: str) -> str:
    return f"tag {tag!r} is not allowed: lab files hold plain data"


def _resolve(text: str) -> str:
    for pattern, kind in ((_BOOL, "bool"), (_FLOAT, "float"), (_INT, "int"), (_NULL, "null")):
        if pattern.match(text):
            return f"{_TAG}{kind}"
    return f"{_TAG}str"


def _construct(text: str, tag: str) -> object:
    """The value of a scalar with a known tag; ValueError (in the lab's words) if it has none."""
    kind = tag.removeprefix(_TAG)
    if kind == "str":
        return text
    if kind == "null":
        if not _NULL.match(text):
            raise ValueError(f"{text!r} is not null (!!null)")
        return None
    if kind == "bool":
        if not _BOOL.match(text):
            raise ValueError(f"{text!r} is not true or false (!!bool)")
        return text.lower() == "true"
    if kind == "int":
        if not _INT.match(text):
            raise ValueError(f"{text!r} is not a whole number (!!int)")
        return _int(text)
    if not (_FLOAT.match(text) or _INT.match(text)):
        raise ValueError(f"{text!r} is not a number (!!float)")
    return _float(text)


def _int(text: str) -> int:
    digits = text.replace("_", "").lstrip("+-")
    sign = -1 if text.startswith("-") else 1
    base = {"0b": 2, "0o": 8, "0x": 16}.get(digits[:2], 10)
    if base != 10:
        digits = digits[2:]
    if len(digits.lstrip("0")) > MAX_DIGITS or not digits:
        raise ValueError(f"number with {len(digits)} digits is out of range" if digits
                         else f"{text!r} is not a whole number")
    return sign * int(digits, base)


def _float(text: str) -> float:
    plain = text.replace("_", "")
    lowered = plain.lower()
    if lowered.endswith((".inf", ".nan")):
        return math.copysign(math.inf, -1 if plain.startswith("-") else 1) \
            if lowered.endswith(".inf") else math.nan
    if _INT.match(text):
        value = _int(text)
        return float(value)
    mantissa = lowered.split("e")[0].lstrip("+-")
    if len(mantissa.replace(".", "").lstrip("0")) > MAX_DIGITS:
        raise ValueError(f"number with {len(mantissa)} digits is out of range")
    return float(plain)


def dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
