"""Imports are at module level, but for a short list of lazy ones (ruff's PLC0415 refuses
any other import inside a function): each lazy import carries its reason, and
docs/extending.md lists every one, so the list a newcomer reads is the list there is."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARK = re.compile(r"#\s*noqa: PLC0415 - lazy: \S")


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """What an import statement loads: labctl's modules by name (a `from X import Y` of a
    submodule: X.Y), another package by its top-level name."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        names = [f"{node.module}.{alias.name}" if _is_module(f"{node.module}.{alias.name}")
                 else node.module for alias in node.names]
    return [name if name.startswith("labctl.") else name.split(".")[0] for name in names]


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # an attribute of a module, not a submodule
        return False


def lazy_imports_in_code() -> set[tuple[str, str]]:
    """(module file, imported module) of every import made inside a function."""
    found = set()
    for path in sorted((ROOT / "labctl").rglob("*.py")):
        if "node" in path.relative_to(ROOT / "labctl").parts[:1]:
            continue  # the in-node scripts: standard library, their own rules
        source = path.read_text()
        lines = source.splitlines()
        for outer in ast.walk(ast.parse(source)):
            if not isinstance(outer, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(outer):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    line = lines[node.lineno - 1]
                    assert MARK.search(line), (f"{path}:{node.lineno}: an import inside a "
                                               "function without `# noqa: PLC0415 - lazy: "
                                               "WHY`")
                    for module in _imported(node):
                        found.add((str(path.relative_to(ROOT)), module))
    return found


def lazy_imports_in_docs() -> set[tuple[str, str]]:
    text = (ROOT / "docs/extending.md").read_text()
    section = text.split("## Imports", 1)[1].split("\n## ", 1)[0]
    found = set()
    for row in re.findall(r"^\| `(labctl/[^`]+)` \| ([^|]+) \|", section, re.MULTILINE):
        for module in re.findall(r"`([\w.]+)`", row[1]):
            found.add((row[0], module))
    return found


def test_every_lazy_import_is_listed_and_every_listed_one_exists():
    in_code, in_docs = lazy_imports_in_code(), lazy_imports_in_docs()
    assert in_code - in_docs == set(), "lazy in the code, missing from docs/extending.md"
    assert in_docs - in_code == set(), "listed in docs/extending.md, not in the code"


def test_the_list_is_short():
    """A new lazy import needs a reason a budget or a dependency gives; raise this only
    with one (docs/extending.md says which)."""
    assert len({module for _, module in lazy_imports_in_code()}) <= 21
