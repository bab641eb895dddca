"""Find a lab, read it safely and validate it in two passes.

Pass one (structure) is the pydantic model: unknown keys and wrong types.
Pass two (labctl.lab.references) checks what the model cannot see alone:
references between nodes, ports declared twice. Both passes always run, and
every problem is reported at once, located as `file:line: path.to.key: message`.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

from pydantic import ValidationError

from labctl.errors import LabInvalid, Problem
from labctl.lab import model, references
from labctl.lab import suggestions as suggest
from labctl.lab.files import LAB_FILE, available_labs, find_labs, resolve
from labctl.lab.references import Parts
from labctl.lab.yaml_reader import Document, YamlProblem, dotted, load_text, read_bounded

__all__ = ["LAB_FILE", "available_labs", "find_labs", "load", "load_once", "parse", "resolve"]


def load(lab: str | Path, cwd: Path | None = None) -> model.Lab:
    path = resolve(lab, cwd)
    try:
        text = read_bounded(path)
    except YamlProblem as exc:
        raise LabInvalid([exc.problem]) from None
    return parse(text, str(path))


# load_once: (file, sha256 of its text) -> the lab, or the problems that refused it.
_ONCE: OrderedDict[tuple[str, str], model.Lab | list[Problem]] = OrderedDict()
_ONCE_MAX = 512
_ONCE_LOCK = threading.Lock()


def load_once(path: Path) -> model.Lab:
    """load(path), validated once per content: a long-running caller (the classroom
    server lists every lab, uploaded ones too, at each GET /v1/labs and page) reads
    the file each time but parses it only when its text changed. Labs are frozen
    models, so the one kept is safe to share."""
    try:
        text = read_bounded(path)
    except YamlProblem as exc:
        raise LabInvalid([exc.problem]) from None
    key = (str(path), hashlib.sha256(text.encode("utf-8")).hexdigest())
    with _ONCE_LOCK:
        found = _ONCE.get(key)
        if found is not None:
            _ONCE.move_to_end(key)
    if found is None:
        try:
            found = parse(text, str(path))
        except LabInvalid as exc:
            found = list(exc.problems)
        with _ONCE_LOCK:
            _ONCE[key] = found
            while len(_ONCE) > _ONCE_MAX:
                _ONCE.popitem(last=False)
    if isinstance(found, list):
        raise LabInvalid(found)
    return found


def parse(text: str, file: str) -> model.Lab:
    """Validate lab text; raise LabInvalid listing every problem."""
    try:
        doc = load_text(text, file)
    except YamlProblem as exc:
        raise LabInvalid([exc.problem]) from None
    if not isinstance(doc.data, dict):
        message = "a lab file must be a mapping with name: and nodes:"
        raise LabInvalid([*doc.problems, Problem(file, 1, "", message)])
    problems = list(doc.problems)
    try:
        lab = model.Lab.model_validate(doc.data)
    except ValidationError as exc:
        lab = None
        problems += _structure_problems(exc, doc)
    parts = Parts.of_lab(lab) if lab is not None else Parts.of_data(doc.data)
    problems += references.problems(parts, doc)
    if problems or lab is None:
        raise LabInvalid(_in_order(problems) or [Problem(file, 1, "", "invalid lab")])
    return lab


def _in_order(problems: list[Problem]) -> list[Problem]:
    unique = {str(p): p for p in problems}
    return sorted(unique.values(), key=lambda p: p.line)


def _structure_problems(exc: ValidationError, doc: Document) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if doc.already_reported(_drop_union_tags(tuple(p for p in loc if p != "[key]"))):
            continue  # the YAML reader said what is wrong there
        kind = err["type"]
        message = err["msg"]
        if "[key]" in loc:  # a dict key (a node name, a sysctl) failed its pattern
            loc = loc[: loc.index("[key]")]
            message = _bad_key_message(loc)
        elif kind == "extra_forbidden" and loc[-1] in model.FORBIDDEN_NODE_KEYS \
                and len(loc) == 3 and loc[0] == "nodes":
            message = f"not allowed: {model.FORBIDDEN_NODE_KEYS[loc[-1]]}"
        elif kind == "extra_forbidden":
            message = "unknown key" + suggest.did_you_mean(str(loc[-1]), _drop_union_tags(loc[:-1]))
        elif kind == "missing":
            message = "required key is missing"
        elif kind in ("too_short", "too_long") and loc == ("nodes",):
            message = "a lab needs at least one node"
        elif kind == "value_error":
            message = message.removeprefix("Value error, ")
        else:
            message = _plain_message(kind, err, message)
        loc = _drop_union_tags(loc)
        problems.append(Problem(doc.file, doc.line_of(loc), dotted(loc), message))
    return problems


def _bad_key_message(loc: tuple) -> str:
    name = loc[-1]
    if len(loc) >= 2 and loc[-2] == "sysctls":
        return suggest.sysctl_refused(str(name))
    return (f"invalid name {name!r}: use lowercase letters, digits and '-', "
            "starting with a letter")


def _plain_message(kind: str, err: dict, default: str) -> str:
    """Say what was wrong and what was given, in the words of the lab format."""
    ctx = err.get("ctx") or {}
    got = _Shown(err.get("input"))
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))} (got {got!r})"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))} (got {got!r})"
    if kind == "finite_number":
        return f"must be a finite number (got {got!r})"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"must be a whole number (got {got!r})"
    if kind in ("bool_parsing", "bool_type"):
        return f"must be true or false (got {got!r})"
    if kind in ("string_type",):
        return f"must be text (got {got!r})"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping of keys (got {got!r})"
    if kind == "list_type":
        return f"must be a list (got {got!r})"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {got!r})"
    if kind == "string_pattern_mismatch":
        if err["loc"] and err["loc"][-1] in ("name", "on"):
            return (f"invalid name {got!r}: use lowercase letters, digits and '-', "
                    "starting with a letter")
        return f"{got!r} does not match {ctx.get('pattern')}"
    if kind == "string_too_long":
        return f"is longer than {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return "must not be empty"
    return default


class _Shown:
    """A value as a message quotes it: its repr, cut short (a list may hold 20,000 items)."""

    def __init__(self, value: object):
        self.value = value

    def __repr__(self) -> str:
        text = repr(self.value)
        return text if len(text) <= 80 else text[:77] + "..."


def _drop_union_tags(loc: tuple) -> tuple:
    # pydantic names union members in locations ("function-after[...]"); users never wrote those.
    def generated(part: object) -> bool:
        return isinstance(part, str) and ("[" in part or part.startswith("function"))
    return tuple(p for p in loc if not generated(p))
