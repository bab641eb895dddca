"""Safe YAML reading that remembers where every key came from.

The document is composed into nodes (never constructed into arbitrary
objects), so tags that build Python objects are refused, duplicate keys are
caught, and size, depth and alias expansion are bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from labctl.errors import Problem

MAX_BYTES = 256 * 1024
MAX_DEPTH = 32
MAX_NODES = 20_000  # after alias expansion: stops "billion laughs" documents

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}

Path = tuple[str | int, ...]


@dataclass
class Document:
    """Plain data from a YAML file plus the line of every path in it."""

    file: str
    data: object
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int:
        """Line of the deepest known prefix of `path` (1 when nothing matches)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1


class YamlProblem(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def load_text(text: str, file: str) -> Document:
    """Parse `text` into a Document, or raise YamlProblem with its location."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise YamlProblem(Problem(file, 1, "", f"file is larger than {MAX_BYTES // 1024} KiB"))
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        reason = f"YAML syntax error: {_yaml_reason(exc)}"
        raise YamlProblem(Problem(file, line, "", reason)) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(Problem(file, 1, "", f"YAML error: {exc}")) from None
    except RecursionError:
        raise YamlProblem(Problem(file, 1, "", "nesting is too deep")) from None
    finally:
        loader.dispose()
    if root is None:
        raise YamlProblem(Problem(file, 1, "", "the file is empty: expected a mapping of lab keys"))
    doc = Document(file=file, data=None)
    walker = _Walker(doc, loader)
    doc.data = walker.convert(root, (), 0)
    return doc


def _yaml_reason(exc: yaml.MarkedYAMLError) -> str:
    reason = exc.problem or exc.context or "invalid YAML"
    if "\\t" in reason or "tab" in reason:
        return f"{reason} (YAML forbids tabs for indentation: use spaces)"
    if "another document" in reason:
        return "a lab file holds one YAML document: remove the '---' and what follows"
    if exc.context and exc.context_mark and exc.problem_mark \
            and exc.context_mark.line != exc.problem_mark.line:
        return f"{reason} ({exc.context} started on line {exc.context_mark.line + 1})"
    return reason


class _Walker:
    def __init__(self, doc: Document, loader: yaml.SafeLoader):
        self.doc = doc
        self.loader = loader
        self.count = 0

    def fail(self, node: Node, path: Path, message: str) -> None:
        raise YamlProblem(
            Problem(self.doc.file, node.start_mark.line + 1, _dotted(path), message)
        )

    def convert(self, node: Node, path: Path, depth: int) -> object:
        self.count += 1
        if self.count > MAX_NODES:
            self.fail(node, path, f"document expands to more than {MAX_NODES} values "
                                  "(too many aliases?)")
        if depth > MAX_DEPTH:
            self.fail(node, path, f"nesting is deeper than {MAX_DEPTH} levels")
        if node.tag not in _PLAIN_TAGS:
            self.fail(node, path, f"tag {node.tag!r} is not allowed: lab files hold plain data")
        self.doc.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, ScalarNode):
            return self.loader.construct_object(node)
        if isinstance(node, SequenceNode):
            return [self.convert(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth)
        self.fail(node, path, "unsupported YAML node")  # pragma: no cover
        return None

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict:
        result: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.fail(key_node, path, "merge keys (<<) are not supported")
            if not isinstance(key_node, ScalarNode):
                self.fail(key_node, path, "keys must be plain scalars")
            if key_node.tag not in _PLAIN_TAGS:
                self.fail(key_node, path, f"tag {key_node.tag!r} is not allowed")
            # Keys are their source text: YAML 1.1 would read `on:` as True.
            key = key_node.value
            key_path = (*path, key)
            if key in result:
                first = self.doc.lines.get(key_path, "?")
                self.fail(key_node, key_path, f"duplicate key (first defined on line {first})")
            self.doc.lines[key_path] = key_node.start_mark.line + 1
            result[key] = self.convert(value_node, key_path, depth + 1)
        return result


def _dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


dotted = _dotted
