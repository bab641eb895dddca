"""The local backend: this host's container engine, through the runtime seam."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from labctl.lab import naming

if TYPE_CHECKING:
    from labctl.cli.backends.base import Progress
    from labctl.service.report import Report


def lab_name(lab: str) -> str:
    """The lab's name for commands that only need labels: works with the YAML gone."""
    if Path(lab).exists():
        from labctl.lab import loader
        return loader.load(lab).name
    return lab


def _instance(value: str | None) -> str:
    return naming.check_instance(value) if value else naming.default_instance()


class LocalBackend:
    remote = False

    def __init__(self) -> None:
        from labctl import runtime
        from labctl.service import engine
        self.engine = engine.Engine(runtime.connect())

    def up(self, lab: str, instance: str | None, progress: Progress) -> Report:
        from labctl.lab import blueprint
        from labctl.service.lab_run import removed_on_interrupt
        from labctl.service.report import LabReport, Report
        plan = blueprint.load(lab)  # validated; an unchanged lab's from the cache
        self.engine.progress = progress
        inst = _instance(instance)
        # Interrupted even after the nodes were ready: leave nothing this `up` made.
        with removed_on_interrupt(self.engine):
            return Report("up", [LabReport(plan.name, inst, nodes=self.engine.up(plan, inst))])

    def down(self, lab: str | None, instance: str | None, all_instances: bool
             ) -> tuple[int, int]:
        inst = None if all_instances else _instance(instance)
        return self.engine.down(None if lab is None else lab_name(lab), inst)

    def status(self, lab: str | None, instance: str | None) -> Report:
        from labctl.service import sequence as runner
        return runner.status(self.engine, None if lab is None else lab_name(lab), instance)

    def node(self, lab: str, instance: str | None, node: str):
        return self.engine.find_node(lab_name(lab), _instance(instance), node)

    def exec_stream(self, lab: str, instance: str | None, node: str, argv: list[str]):
        return self.engine.runtime.exec_stream(self.node(lab, instance, node).container, argv)

    def open_shell(self, lab: str, instance: str | None, node: str):
        info = self.node(lab, instance, node)
        return self.engine.runtime.open_session(info.container, ["/bin/bash", "-i"], tty=True)

    def logs(self, lab: str, instance: str | None, node: str, follow: bool
             ) -> Iterator[bytes]:
        return self.engine.runtime.logs(self.node(lab, instance, node).container,
                                        follow=follow)

    def check(self, lab: str, instance: str | None) -> Report:
        from labctl.lab import loader
        from labctl.service import sequence as runner
        return runner.check(self.engine, loader.load(lab), _instance(instance), lab)

    def test(self, lab: str, instance: str | None, keep: bool, progress: Progress) -> Report:
        from labctl.lab import loader
        from labctl.service import sequence as runner
        from labctl.service.lab_run import refuse_if_up
        from labctl.service.report import Report
        path = loader.resolve(lab)
        refuse_if_up(self.engine, loader.load(path).name, _instance(instance))
        self.engine.progress = progress
        result = runner.test_lab(self.engine, path, _instance(instance), keep, progress)
        return Report("test", [result])

    def captures(self, lab: str, instance: str | None, node: str | None):
        from labctl.service import captures as capture
        name = lab_name(lab)
        files, nodes = capture.collect(self.engine, name, _instance(instance), node)
        return name, files, nodes

    def live_capture(self, lab: str, instance: str | None, node: str) -> Iterator[bytes]:
        from labctl.service import captures as capture
        return capture.live(self.engine, lab_name(lab), _instance(instance), node)
