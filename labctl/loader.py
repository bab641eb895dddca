"""Find a lab, read it safely and validate it in two passes.

Pass one (structure) is the pydantic model: unknown keys and wrong types.
Pass two (meaning) checks what the model cannot see alone: references
between nodes, ports declared twice. Every problem is reported at once,
located as `file:line: path.to.key: message`.
"""

from __future__ import annotations

import difflib
import ipaddress
from pathlib import Path

from pydantic import BaseModel, ValidationError

from labctl import model
from labctl.errors import LabInvalid, LabNotFound, Problem
from labctl.paths import lab_search_dirs
from labctl.yamlsource import Document, YamlProblem, dotted, load_text

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


def load(lab: str | Path, cwd: Path | None = None) -> model.Lab:
    path = resolve(lab, cwd)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LabInvalid([Problem(str(path), 1, "", "file is not UTF-8 text")]) from None
    except OSError as exc:
        raise LabNotFound(f"{path}: {exc.strerror}") from None
    return parse(text, str(path))


def parse(text: str, file: str) -> model.Lab:
    """Validate lab text; raise LabInvalid listing every problem."""
    try:
        doc = load_text(text, file)
    except YamlProblem as exc:
        raise LabInvalid([exc.problem]) from None
    if not isinstance(doc.data, dict):
        message = "a lab file must be a mapping with name: and nodes:"
        raise LabInvalid([Problem(file, 1, "", message)])
    try:
        lab = model.Lab.model_validate(doc.data)
    except ValidationError as exc:
        raise LabInvalid(_structure_problems(exc, doc)) from None
    problems = _meaning_problems(lab, doc)
    if problems:
        raise LabInvalid(problems)
    return lab


def _structure_problems(exc: ValidationError, doc: Document) -> list[Problem]:
    problems = []
    seen = set()
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        kind = err["type"]
        message = err["msg"]
        if "[key]" in loc:  # a dict key (a node name) failed its pattern
            loc = loc[: loc.index("[key]")]
            message = (f"invalid name {loc[-1]!r}: use lowercase letters, digits and '-', "
                       "starting with a letter")
        elif kind == "extra_forbidden" and loc[-1] in model.FORBIDDEN_NODE_KEYS \
                and len(loc) == 3 and loc[0] == "nodes":
            message = f"not allowed: {model.FORBIDDEN_NODE_KEYS[loc[-1]]}"
        elif kind == "extra_forbidden":
            message = "unknown key" + _did_you_mean(str(loc[-1]), loc[:-1], doc)
        elif kind == "missing":
            message = "required key is missing"
        elif kind in ("too_short", "too_long") and loc == ("nodes",):
            message = "a lab needs at least one node"
        elif kind == "value_error":
            message = message.removeprefix("Value error, ")
        else:
            message = _plain_message(kind, err, message)
        loc = _drop_union_tags(loc)
        key = (loc, message)
        if key in seen:
            continue
        seen.add(key)
        problems.append(Problem(doc.file, doc.line_of(loc), dotted(loc), message))
    return sorted(problems, key=lambda p: p.line)


def _plain_message(kind: str, err: dict, default: str) -> str:
    """Say what was wrong and what was given, in the words of the lab format."""
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))} (got {got!r})"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))} (got {got!r})"
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


def _drop_union_tags(loc: tuple) -> tuple:
    # pydantic names union members in locations ("function-after[...]"); users never wrote those.
    def generated(part: object) -> bool:
        return isinstance(part, str) and ("[" in part or part.startswith("function"))
    return tuple(p for p in loc if not generated(p))


def _did_you_mean(key: str, parent: tuple, doc: Document) -> str:
    allowed = _keys_at(parent)
    hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if hint:
        return f" (did you mean '{hint[0]}'?)"
    return f" (allowed: {', '.join(sorted(allowed))})" if allowed else ""


def _keys_at(loc: tuple) -> list[str]:
    """The keys the model accepts at `loc`, found by walking the model classes."""
    current: type[BaseModel] | None = model.Lab
    for part in loc:
        if current is None:
            return []
        if isinstance(part, int) or part not in current.model_fields:
            # a list index or a dict key (node name): step into the item model
            continue
        current = _model_of(current.model_fields[part].annotation)
    return list(current.model_fields) if current else []


def _model_of(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found:
            return found
    return None


def _meaning_problems(lab: model.Lab, doc: Document) -> list[Problem]:
    problems: list[Problem] = []

    def add(loc: tuple, message: str) -> None:
        problems.append(Problem(doc.file, doc.line_of(loc), dotted(loc), message))

    _network_problems(lab, add)
    for name, node in lab.nodes.items():
        if node.image is not None:
            for key in AGENT_KEYS:
                if getattr(node, key):
                    add(("nodes", name, key), f"{key} needs labctl's node image (its agent "
                        f"sets them up); drop `image: {node.image}` or this key")
        seen: dict[tuple[str, int], int] = {}
        for i, service in enumerate(node.services):
            key = (service.proto, service.port)
            if key in seen:
                add(("nodes", name, "services", i),
                    f"{service.proto} port {service.port} is already used by services[{seen[key]}]")
            seen[key] = i
    for i, step in enumerate(lab.steps):
        if step.on not in lab.nodes:
            add(("steps", i, "on"), _unknown_node(step.on, lab))
    capturing = [name for name, node in lab.nodes.items() if node.capture]
    for i, check in enumerate(lab.checks):
        spec = check.spec
        for field in NODE_FIELDS:
            value = getattr(spec, field, None)
            if value is not None and value not in lab.nodes:
                key = "from" if field == "from_" else field
                add(("checks", i, check.kind, key), _unknown_node(value, lab))
        if check.kind in model.WIRE_KINDS and not capturing:
            add(("checks", i, check.kind),
                f"{check.kind} is read from captured packets, but no node captures: add "
                f"`capture: {{}}` to {spec.server} or {spec.client}")
    return sorted(problems, key=lambda p: p.line)


AGENT_KEYS = ("services", "capture", "links", "routes", "masquerade")
NODE_FIELDS = ("node", "on", "from_", "to", "client", "server", "seen_on")


def _network_problems(lab: model.Lab, add) -> None:
    nets = list(lab.networks)
    subnets = {}
    for name, net in lab.networks.items():
        if net.subnet:
            for other, other_subnet in subnets.items():
                if ipaddress.IPv4Network(net.subnet).overlaps(other_subnet):
                    add(("networks", name, "subnet"), f"{net.subnet} overlaps network "
                        f"'{other}' ({other_subnet})")
            subnets[name] = ipaddress.IPv4Network(net.subnet)
    for name, node in lab.nodes.items():
        where = ("nodes", name)
        for i, net in enumerate(node.networks or []):
            if net not in lab.networks:
                add((*where, "networks", i), _unknown(net, nets, "network"))
        if node.networks is not None and len(set(node.networks)) != len(node.networks):
            add((*where, "networks"), "a network is listed twice")
        for key in node.sysctls:
            if key not in model.ALLOWED_SYSCTLS:
                hint = difflib.get_close_matches(key, model.ALLOWED_SYSCTLS, n=1)
                add((*where, "sysctls", key), f"sysctl '{key}' is not allowed" + (
                    f" (did you mean '{hint[0]}'?)" if hint else
                    "; only namespaced net.* sysctls from labctl's list are (see `labctl schema`)"))
        for net in node.links:
            if net not in node.network_names:
                add((*where, "links", net), f"{name} is not on network '{net}' "
                    f"(its networks: {', '.join(node.network_names)})")
        if node.masquerade is not None and node.masquerade not in node.network_names:
            add((*where, "masquerade"), f"{name} is not on network '{node.masquerade}'")
        for i, route in enumerate(node.routes):
            if route.to not in lab.networks:
                add((*where, "routes", i, "to"), _unknown(route.to, nets, "network"))
            if route.via not in lab.nodes:
                add((*where, "routes", i, "via"), _unknown_node(route.via, lab))
                continue
            via = lab.nodes[route.via]
            if not set(via.network_names) & set(node.network_names):
                add((*where, "routes", i, "via"), f"{route.via} shares no network with {name}")
            elif route.to in lab.networks and route.to not in via.network_names:
                add((*where, "routes", i, "via"), f"{route.via} is not on network '{route.to}'")
    for net in nets:
        if not any(net in n.network_names for n in lab.nodes.values()):
            add(("networks", net), f"no node joins network '{net}'")


def _unknown(name: str, known: list[str], what: str) -> str:
    hint = difflib.get_close_matches(name, known, n=1)
    return f"no {what} named '{name}' " + (f"(did you mean '{hint[0]}'?)" if hint
                                          else f"({what}s: {', '.join(known)})")


def _unknown_node(name: str, lab: model.Lab) -> str:
    hint = difflib.get_close_matches(name, list(lab.nodes), n=1)
    known = f"did you mean '{hint[0]}'?" if hint else f"nodes are: {', '.join(lab.nodes)}"
    return f"no node named '{name}' ({known})"
