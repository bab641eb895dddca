"""The Backend protocol: what a CLI command asks, whoever does it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from labctl.runtime.base import Progress

if TYPE_CHECKING:  # `down` and `status` must not pay for the model and pcap imports
    from labctl.runtime import ExecStream, NodeInfo, Session
    from labctl.service.captures import CapturedFile
    from labctl.service.report import Report



class Backend(Protocol):
    """`lab` is a name or a path to a lab; `instance` None means the caller's own."""

    remote: bool

    def up(self, lab: str, instance: str | None, progress: Progress) -> Report: ...

    def down(self, lab: str | None, instance: str | None, all_instances: bool
             ) -> tuple[int, int]: ...

    def status(self, lab: str | None, instance: str | None) -> Report: ...

    def exec_stream(self, lab: str, instance: str | None, node: str, argv: list[str]
                    ) -> ExecStream: ...

    def node(self, lab: str, instance: str | None, node: str) -> NodeInfo: ...

    def open_shell(self, lab: str, instance: str | None, node: str) -> Session: ...

    def logs(self, lab: str, instance: str | None, node: str, follow: bool
             ) -> Iterator[bytes]: ...

    def check(self, lab: str, instance: str | None) -> Report: ...

    def test(self, lab: str, instance: str | None, keep: bool, progress: Progress
             ) -> Report: ...

    def captures(self, lab: str, instance: str | None, node: str | None
                 ) -> tuple[str, list[CapturedFile], list[NodeInfo]]:
        """(the lab's name, its capture files, its nodes)."""

    def live_capture(self, lab: str, instance: str | None, node: str) -> Iterator[bytes]: ...
