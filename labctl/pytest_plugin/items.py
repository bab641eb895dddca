"""The lab items of the pytest plugin (labctl/pytest_plugin/__init__.py has the hooks):
a lab file's steps and checks as test items, a session per lab, and the testinfra hosts
an instructor's test module gets."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from labctl import runtime
from labctl.checks.run import LabState, evaluate, title
from labctl.checks.testinfra_host import host
from labctl.errors import LabInvalid
from labctl.lab import loader, naming
from labctl.pytest_plugin import instance_for
from labctl.service import lab_service


def _item_name(word: str, index: int, text: str) -> str:
    """`check 3: handshake client → server:80`: one line, no `::` (pytest's separator)."""
    text = " ".join(text.split()).replace("::", ": :")
    return f"{word} {index + 1}: {text if len(text) <= 80 else text[:79] + '…'}"


def _service() -> lab_service.LabService:
    return lab_service.connect()


class LabFile(pytest.File):
    def collect(self):
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
        if not hasattr(self, "lab"):
            return  # invalid: its one item reports the problems
        self._stack = contextlib.ExitStack()
        self.session = self._stack.enter_context(_service().session(
            self.lab, instance_for(self.path), owned="LABCTL_RUNNING_INSTANCE" not in os.environ))
        self.step_results = self.session.steps()
        # captures and listings read once, before any active check sends anything
        self.state = LabState(self.session.engine.runtime, self.session.nodes)
        self.state.prefetch(self.lab.checks)

    def teardown(self) -> None:
        if hasattr(self, "_stack"):
            self._stack.close()

    def check(self, index: int):
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


def parametrize_nodes(metafunc, lab_file: Path, instance: str) -> None:
    lab = loader.load(lab_file)
    wanted = [n for n in metafunc.fixturenames if n in lab.nodes]
    if not wanted:
        return
    engine = runtime.connect()
    for node in wanted:
        container = naming.container_name(lab.name, instance, node)
        metafunc.parametrize(node, [host(engine, container, node)], ids=[node])


@contextlib.contextmanager
def lab_up(lab_file: Path, instance: str) -> Iterator[None]:
    """The lab up, and its steps run, for an instructor's test module."""
    with _service().session(loader.load(lab_file), instance) as session:
        session.steps()
        yield
