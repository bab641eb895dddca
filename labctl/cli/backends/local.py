"""The local backend: this host's container engine, through the service layer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from labctl.lab import blueprint, naming
from labctl.lab.blueprint import lab_name
from labctl.service.lab_service import LabService, connect

if TYPE_CHECKING:
    from labctl.cli.backends.base import Progress
    from labctl.service.report import Report


def _instance(value: str | None) -> str:
    return naming.instance_or_default(value)


class LocalBackend:
    remote = False

    def __init__(self, service: LabService | None = None) -> None:
        self.service = service or connect()

    def up(self, lab: str, instance: str | None, progress: Progress) -> Report:
        plan = blueprint.load(lab)  # validated; an unchanged lab's from the cache
        return self.service.up(plan, _instance(instance), progress)

    def down(self, lab: str | None, instance: str | None, all_instances: bool
             ) -> tuple[int, int]:
        inst = None if all_instances else _instance(instance)
        return self.service.down(None if lab is None else lab_name(lab), inst)

    def status(self, lab: str | None, instance: str | None) -> Report:
        return self.service.status(None if lab is None else lab_name(lab), instance)

    def node(self, lab: str, instance: str | None, node: str):
        return self.service.node(lab_name(lab), _instance(instance), node)

    def exec_stream(self, lab: str, instance: str | None, node: str, argv: list[str]):
        return self.service.exec_stream(lab_name(lab), _instance(instance), node, argv)

    def open_shell(self, lab: str, instance: str | None, node: str):
        return self.service.open_shell(lab_name(lab), _instance(instance), node)

    def logs(self, lab: str, instance: str | None, node: str, follow: bool
             ) -> Iterator[bytes]:
        return self.service.logs(lab_name(lab), _instance(instance), node, follow)

    def check(self, lab: str, instance: str | None) -> Report:
        from labctl.lab import loader  # noqa: PLC0415 - lazy: the lab model (pydantic)
        return self.service.check(loader.load(lab), _instance(instance), lab)

    def test(self, lab: str, instance: str | None, keep: bool, progress: Progress) -> Report:
        from labctl.lab import loader  # noqa: PLC0415 - lazy: the lab model (pydantic)
        path = loader.resolve(lab)
        return self.service.test(loader.load(path), _instance(instance), keep, progress, path)

    def captures(self, lab: str, instance: str | None, node: str | None):
        name = lab_name(lab)
        files_, nodes = self.service.captures(name, _instance(instance), node)
        return name, files_, nodes

    def live_capture(self, lab: str, instance: str | None, node: str) -> Iterator[bytes]:
        return self.service.live_capture(lab_name(lab), _instance(instance), node)
