"""pytest plugin: `pytest labs/` collects each lab and its checks as test items.

- Each `lab.yaml` becomes a collector: the lab comes up (and its steps run)
  before its first item, and goes down after its last.
- Each step and each check is one item, named `step N: ...` / `check N: ...`.
  The lab's captures and node listings are fetched once when the lab comes
  up; each check item then evaluates its own check, so each item's time is
  its own.
- Instances: lab number N (in collection order) runs as PREFIX-N, PREFIX from
  `--labctl-instance` (or `--instance`), else LABCTL_INSTANCE, else
  `pytestPID`. A lab already up on that instance is refused, not reused.
- With pytest-xdist, `-n` distributes with `loadscope`: a lab file's items
  go to one worker, so the lab comes up once. They also carry
  `xdist_group(lab)`, for `--dist loadgroup`. An instructor's test module
  brings up its own copy (instance PREFIX-Nt), so it may run on another worker.
- Test files in `labs/<lab>/tests/test_*.py` get one fixture per node, by
  node name (`server`, `client`), each a testinfra host. With
  LABCTL_RUNNING_INSTANCE set, they use that running instance instead of
  bringing the lab up: `labctl test` sets it when it runs a lab's tests/,
  and you may set it to run them against a lab you brought up yourself.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labctl.errors import InvalidInput
from labctl.lab import naming

LAB_FILE = "lab.yaml"
_lab_numbers: dict[Path, int] = {}  # lab file -> its number in collection order
_prefix: list[str] = []  # set in pytest_configure


def _items():
    """The lab items' module: a pytest run that meets no lab never loads the lab stack
    (the lab model, the checks, the engine), as this plugin loads in every pytest run."""
    from labctl.pytest_plugin import items  # noqa: PLC0415 - lazy: every pytest run loads this plugin
    return items


def pytest_addoption(parser) -> None:
    parser.getgroup("labctl").addoption(
        "--labctl-instance", "--instance", dest="labctl_instance", default=None,
        help="Instance prefix for the labs: lab N runs as PREFIX-N "
             "(default: LABCTL_INSTANCE, else pytestPID).")


def pytest_configure(config) -> None:
    given = config.getoption("labctl_instance") or os.environ.get("LABCTL_INSTANCE")
    try:
        _prefix[:] = [naming.check_instance(given) if given else f"pytest{os.getpid()}"]
    except InvalidInput as exc:
        raise pytest.UsageError(str(exc)) from None
    # One lab's items on one worker: `-n` alone means "load", which splits them.
    # "loadscope" keeps each lab.yaml's items together (their scope is the file).
    if getattr(config.option, "dist", None) == "load":
        config.option.dist = "loadscope"


def instance_for(lab_file: Path | None = None, suffix: str = "") -> str:
    running = os.environ.get("LABCTL_RUNNING_INSTANCE")
    if running:
        return running
    prefix = _prefix[0] if _prefix else f"pytest{os.getpid()}"
    if lab_file is None:
        return prefix
    number = _lab_numbers.setdefault(lab_file.resolve(), len(_lab_numbers))
    return f"{prefix}-{number}{suffix}"


def pytest_collect_file(file_path: Path, parent):
    if file_path.name == LAB_FILE:
        _lab_numbers.setdefault(file_path.resolve(), len(_lab_numbers))
        return _items().LabFile.from_parent(parent, path=file_path)
    return None


# -- instructors' own testinfra tests in labs/<lab>/tests/ -----------------------------

def _owning_lab(path: Path) -> Path | None:
    for parent in path.parents:
        if (parent / LAB_FILE).is_file():
            return parent / LAB_FILE
        if parent.name == "tests" and (parent.parent / LAB_FILE).is_file():
            return parent.parent / LAB_FILE
    return None


def pytest_generate_tests(metafunc) -> None:
    """Each node a test function names (`server`, `client`) becomes a testinfra host."""
    lab_file = _owning_lab(Path(str(metafunc.definition.path)))
    if lab_file is not None:
        _items().parametrize_nodes(metafunc, lab_file, instance_for(lab_file, "t"))


@pytest.fixture(scope="module", autouse=True)
def _labctl_lab_for_tests(request):
    """Bring the owning lab up for an instructor's test module (unless already running)."""
    path = Path(str(request.node.path))
    lab_file = _owning_lab(path) if path.name.startswith("test_") else None
    if lab_file is None or "LABCTL_RUNNING_INSTANCE" in os.environ:
        yield
        return
    with _items().lab_up(lab_file, instance_for(lab_file, "t")):
        yield
