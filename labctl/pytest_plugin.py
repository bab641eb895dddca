"""pytest plugin: `pytest labs/` collects each lab and its checks as test items.

- Each `lab.yaml` becomes a collector: the lab comes up (and its steps run)
  before its first item, and goes down after its last.
- Each step and each check is one item; all checks run together on the
  first check item (one exec per node), then each item reports its own.
- Test files in `labs/<lab>/tests/test_*.py` get one fixture per node, by
  node name (`server`, `client`), each a testinfra host. With
  LABCTL_RUNNING_INSTANCE set (as `labctl test` does), they use that running
  lab instead of bringing one up.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

LAB_FILE = "lab.yaml"
_labs_up: dict[Path, tuple] = {}  # lab file -> (engine, instance, model), for tests/ modules


def _instance() -> str:
    return os.environ.get("LABCTL_RUNNING_INSTANCE") or f"pytest{os.getpid()}"


def _engine():
    from labctl.engine import Engine
    from labctl.runtime import connect

    return Engine(connect())


def pytest_collect_file(file_path: Path, parent):
    if file_path.name == LAB_FILE:
        return LabFile.from_parent(parent, path=file_path)
    return None


class LabFile(pytest.File):
    def collect(self):
        from labctl import loader
        from labctl.checks import title
        from labctl.errors import LabInvalid

        try:
            self.lab = loader.load(self.path)
        except LabInvalid as exc:
            yield InvalidLabItem.from_parent(self, name="valid", problems=str(exc))
            return
        for index, step in enumerate(self.lab.steps):
            yield StepItem.from_parent(self, name=f"step {index + 1} on {step.on}: {step.run}",
                                       index=index)
        for index, check in enumerate(self.lab.checks):
            yield CheckItem.from_parent(self, name=f"{index + 1}. {title(check)}", index=index)

    def setup(self) -> None:
        from labctl.runner import running_nodes
        from labctl.steps import run_steps

        if not hasattr(self, "lab"):
            return  # invalid: its one item reports the problems
        self.engine = _engine()
        self.instance = _instance()
        self.owned = "LABCTL_RUNNING_INSTANCE" not in os.environ
        infos = self.engine.up(self.lab, self.instance) if self.owned else None
        self.nodes = running_nodes(self.engine, self.lab, self.instance, infos)
        self.step_results = run_steps(self.engine.runtime, self.lab.steps, self.nodes)
        self.check_results = None

    def teardown(self) -> None:
        if getattr(self, "owned", False):
            self.engine.down(self.lab.name, self.instance)

    def results(self):
        if self.check_results is None:
            from labctl.checks import LabState, run_checks

            self.check_results = run_checks(
                LabState(self.engine.runtime, self.nodes), self.lab.checks)
        return self.check_results


class LabFailure(Exception):
    pass


class _LabItem(pytest.Item):
    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, LabFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, self.name


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
            raise LabFailure(f"{result.message}\n{result.output[-1000:]}")


class CheckItem(_LabItem):
    def __init__(self, *, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = index

    def runtest(self) -> None:
        result = self.parent.results()[self.index]
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
    from labctl import loader, naming

    lab = loader.load(lab_file)
    wanted = [n for n in metafunc.fixturenames if n in lab.nodes]
    if not wanted:
        return
    from labctl.hosts import host
    from labctl.runtime import connect

    runtime = connect()
    instance = _instance()
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
    from labctl import loader
    from labctl.runner import running_nodes
    from labctl.steps import run_steps

    lab = loader.load(lab_file)
    engine, instance = _engine(), _instance()
    infos = engine.up(lab, instance)
    try:
        run_steps(engine.runtime, lab.steps, running_nodes(engine, lab, instance, infos))
        yield
    finally:
        engine.down(lab.name, instance)
