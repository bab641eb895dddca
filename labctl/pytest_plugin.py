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

import contextlib
import os
from pathlib import Path

import pytest

LAB_FILE = "lab.yaml"
_labs_up: dict[Path, tuple] = {}  # lab file -> (engine, instance, model), for tests/ modules


_lab_numbers: dict[Path, int] = {}  # lab file -> its number in collection order
_prefix: list[str] = []  # set in pytest_configure


def pytest_addoption(parser) -> None:
    parser.getgroup("labctl").addoption(
        "--labctl-instance", "--instance", dest="labctl_instance", default=None,
        help="Instance prefix for the labs: lab N runs as PREFIX-N "
             "(default: LABCTL_INSTANCE, else pytestPID).")


def pytest_configure(config) -> None:
    from labctl.errors import InvalidInput
    from labctl.lab import naming

    given = config.getoption("labctl_instance") or os.environ.get("LABCTL_INSTANCE")
    try:
        _prefix[:] = [naming.check_instance(given) if given else f"pytest{os.getpid()}"]
    except InvalidInput as exc:
        raise pytest.UsageError(str(exc)) from None
    # One lab's items on one worker: `-n` alone means "load", which splits them.
    # "loadscope" keeps each lab.yaml's items together (their scope is the file).
    if getattr(config.option, "dist", None) == "load":
        config.option.dist = "loadscope"


def _instance(lab_file: Path | None = None, suffix: str = "") -> str:
    running = os.environ.get("LABCTL_RUNNING_INSTANCE")
    if running:
        return running
    prefix = _prefix[0] if _prefix else f"pytest{os.getpid()}"
    if lab_file is None:
        return prefix
    number = _lab_numbers.setdefault(lab_file.resolve(), len(_lab_numbers))
    return f"{prefix}-{number}{suffix}"


def _item_name(word: str, index: int, text: str) -> str:
    """`check 3: handshake client → server:80`: one line, no `::` (pytest's separator)."""
    text = " ".join(text.split()).replace("::", ": :")
    return f"{word} {index + 1}: {text if len(text) <= 80 else text[:79] + '…'}"


def _service():
    from labctl.service import lab_service

    return lab_service.connect()


def pytest_collect_file(file_path: Path, parent):
    if file_path.name == LAB_FILE:
        _lab_numbers.setdefault(file_path.resolve(), len(_lab_numbers))
        return LabFile.from_parent(parent, path=file_path)
    return None


class LabFile(pytest.File):
    def collect(self):
        from labctl.checks.run import title
        from labctl.errors import LabInvalid
        from labctl.lab import loader

        group = pytest.mark.xdist_group(name=str(self.path.parent.name))
        try:
            self.lab = loader.load(self.path)
        except LabInvalid as exc:
            item = InvalidLabItem.from_parent(self, name="lab file is valid",
                                              problems=str(exc))
            item.add_marker(group)
            yield item
            return
        items: list[_LabItem] = [
            StepItem.from_parent(self, name=_item_name("step", i, step.name or
                                                       f"on {step.on}: {step.run}"), index=i)
            for i, step in enumerate(self.lab.steps)]
        items += [CheckItem.from_parent(self, name=_item_name("check", i, title(check)),
                                        index=i) for i, check in enumerate(self.lab.checks)]
        for item in items:
            item.add_marker(group)
            yield item

    def setup(self) -> None:
        from labctl.checks.run import LabState

        if not hasattr(self, "lab"):
            return  # invalid: its one item reports the problems
        self._stack = contextlib.ExitStack()
        self.session = self._stack.enter_context(_service().session(
            self.lab, _instance(self.path), owned="LABCTL_RUNNING_INSTANCE" not in os.environ))
        self.step_results = self.session.steps()
        # captures and listings read once, before any active check sends anything
        self.state = LabState(self.session.engine.runtime, self.session.nodes)
        self.state.prefetch(self.lab.checks)

    def teardown(self) -> None:
        if hasattr(self, "_stack"):
            self._stack.close()

    def check(self, index: int):
        from labctl.checks.run import evaluate
        return evaluate(self.state, index, self.lab.checks[index])


class LabFailure(Exception):
    pass


class _LabItem(pytest.Item):
    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, LabFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        # the domain is "LAB: NAME": pytest -v shows a domain that ends the node id with
        # its dots turned into "::" (0.0.0.0 -> 0::0::0::0); this one never ends it
        return self.path, None, f"{self.path.parent.name}: {self.name}"


class InvalidLabItem(_LabItem):
    def __init__(self, *, problems: str, **kwargs):
        super().__init__(**kwargs)
        self.problems = problems

    def setup(self) -> None:  # nothing to bring up for an invalid lab
        pass

    def runtest(self) -> None:
        raise LabFailure(self.problems)


class StepItem(_LabItem):
    def __init__(self, *, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = index

    def runtest(self) -> None:
        results = self.parent.step_results
        if self.index >= len(results):
            pytest.skip("an earlier step failed")
        result = results[self.index]
        if not result.passed:
            raise LabFailure(f"{result.message}\n{result.output[-2000:]}")


class CheckItem(_LabItem):
    def __init__(self, *, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = index

    def runtest(self) -> None:
        result = self.parent.check(self.index)
        if not result.passed:
            raise LabFailure(f"{result.message}\nexpected: {result.expected}\n"
                             f"seen:     {result.seen}")


# -- instructors' own testinfra tests in labs/<lab>/tests/ -----------------------------

def _owning_lab(path: Path) -> Path | None:
    for parent in path.parents:
        if (parent / LAB_FILE).is_file():
            return parent / LAB_FILE
        if parent.name == "tests" and (parent.parent / LAB_FILE).is_file():
            return parent.parent / LAB_FILE
    return None


def pytest_generate_tests(metafunc) -> None:
    lab_file = _owning_lab(Path(str(metafunc.definition.path)))
    if lab_file is None:
        return
    from labctl.lab import loader, naming

    lab = loader.load(lab_file)
    wanted = [n for n in metafunc.fixturenames if n in lab.nodes]
    if not wanted:
        return
    from labctl.checks.testinfra_host import host
    from labctl.runtime import connect

    runtime = connect()
    instance = _instance(lab_file, "t")
    for node in wanted:
        container = naming.container_name(lab.name, instance, node)
        metafunc.parametrize(node, [host(runtime, container, node)], ids=[node])


@pytest.fixture(scope="module", autouse=True)
def _labctl_lab_for_tests(request):
    """Bring the owning lab up for an instructor's test module (unless already running)."""
    path = Path(str(request.node.path))
    lab_file = _owning_lab(path) if path.name.startswith("test_") else None
    if lab_file is None or "LABCTL_RUNNING_INSTANCE" in os.environ:
        yield
        return
    from labctl.lab import loader

    with _service().session(loader.load(lab_file), _instance(lab_file, "t")) as session:
        session.steps()
        yield
