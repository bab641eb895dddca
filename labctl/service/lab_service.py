"""LabService: the one way into the engine, for every caller.

The command line's local backend, the classroom server's API, its web pages and the
pytest plugin all call these methods; none builds an Engine of its own. Stateless per
call: progress is passed in, and each call that starts labs gets an Engine of its own,
so what one caller's `up` created is never another's to roll back.

Labs come in as a validated model (lab.loader) or, for `up`, a blueprint; names and
instances are already checked (callers resolve a lab argument with lab.files and
lab.naming). Lab-shaped answers are Reports (service/report.py), so `--json`, the API
and the web pages show one shape.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from labctl import runtime
from labctl.runtime.base import NodeInfo, Progress, Runtime, quiet
from labctl.service.engine import Engine
from labctl.service.guards import refuse_if_up, removed_on_interrupt
from labctl.service.report import LabReport, Report, by_lab

if TYPE_CHECKING:
    from labctl.lab import model
    from labctl.lab.blueprint import Blueprint
    from labctl.lab.results import StepResult
    from labctl.runtime.base import ExecStream, Session
    from labctl.service.captures import CapturedFile
    from labctl.service.lab_run import LabSession




class LabService:
    # The time budget, in seconds, of one `test`'s steps in all and of a single step
    # (run_step); None: each step's own timeout only. The classroom server sets it.
    step_seconds: float | None = None

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    # -- lab files -------------------------------------------------------------------
    @staticmethod
    def load_lab(path: Path) -> model.Lab:
        from labctl.lab import loader  # noqa: PLC0415 - lazy: the lab model (pydantic)
        return loader.load(path)

    @staticmethod
    def parse_lab(text: str, file: str) -> model.Lab:
        from labctl.lab import loader  # noqa: PLC0415 - lazy: the lab model (pydantic)
        return loader.parse(text, file)

    def engine(self, progress: Progress = quiet) -> Engine:
        """An engine for one call (the only place one is built)."""
        return Engine(self.runtime, progress)

    # -- lifecycle ---------------------------------------------------------------
    def up(self, lab: model.Lab | Blueprint, instance: str, progress: Progress = quiet
           ) -> Report:
        """Start the lab; return once every service listens. Interrupted at any moment
        (even after the nodes were ready), it leaves nothing this call made."""
        engine = self.engine(progress)
        with removed_on_interrupt(engine):
            nodes = engine.up(lab, instance)
        return Report("up", [LabReport(lab.name, instance, nodes=nodes)])

    def down(self, lab: str | None, instance: str | None) -> tuple[int, int]:
        """(containers, networks) removed; None for lab or instance means every one."""
        return self.engine().down(lab, instance)

    def gc(self, instance: str | None) -> tuple[int, int]:
        return self.engine().gc(instance)

    def nodes(self, lab: str | None = None, instance: str | None = None) -> list[NodeInfo]:
        return self.engine().status(lab, instance)

    def status(self, lab: str | None, instance: str | None) -> Report:
        return by_lab("status", self.nodes(lab, instance), self.runtime.networks(lab, instance))

    def running_labs(self) -> set[tuple[str, str]]:
        """(lab, instance) of everything labctl runs, from labels alone."""
        return {(n.lab, n.instance) for n in self.nodes()}

    # -- inside a lab --------------------------------------------------------------
    def node(self, lab: str, instance: str, node: str) -> NodeInfo:
        return self.engine().find_node(lab, instance, node)

    def exec_stream(self, lab: str, instance: str, node: str, argv: list[str]) -> ExecStream:
        return self.runtime.exec_stream(self.node(lab, instance, node).container, argv)

    def run(self, lab: str, instance: str, node: str, argv: list[str], timeout: int,
            limit: int) -> tuple[int, bytes, bytes, bool]:
        """A command to its end, bounded: coreutils' timeout in the node (a hung command
        cannot hold the caller), output cut at `limit` bytes as it arrives (the command
        is stopped there). The last value says whether it was cut."""
        info = self.node(lab, instance, node)
        code, out, err = self.runtime.run(
            info.container, ["timeout", "-k", "2", str(timeout), *argv], limit=limit + 1,
            deadline=timeout + 15)
        return code, out[:limit], err[:limit], len(out) > limit or len(err) > limit

    def open_shell(self, lab: str, instance: str, node: str) -> Session:
        info = self.node(lab, instance, node)
        return self.runtime.open_session(info.container, ["/bin/bash", "-i"], tty=True)

    def logs(self, lab: str, instance: str, node: str, follow: bool,
             tail: int | None = None) -> Iterator[bytes]:
        info = self.node(lab, instance, node)
        if tail is None:
            return self.runtime.logs(info.container, follow=follow)
        return self.runtime.logs(info.container, follow=follow, tail=tail)

    def run_step(self, lab: model.Lab, instance: str, index: int) -> StepResult:
        from labctl.service import steps  # noqa: PLC0415 - lazy: the steps (the lab model)
        step = lab.steps[index]
        node = self.node(lab.name, instance, step.on)
        budget = None if self.step_seconds is None else steps.Budget(self.step_seconds)
        return steps.run_step(self.runtime, index, step, node.container, budget)

    # -- checks and tests --------------------------------------------------------------
    def check(self, lab: model.Lab, instance: str, path: str | None = None) -> Report:
        """The lab's checks on the running lab (brought up by someone before)."""
        from labctl.checks.run import LabState, run_checks  # noqa: PLC0415 - lazy: the checks (testinfra)
        nodes = self.engine().running_nodes(lab.name, lab.nodes, instance)
        checks = run_checks(LabState(self.runtime, nodes), lab.checks)
        return Report("check", [LabReport(lab.name, instance, path,
                                          nodes=list(nodes.values()), checks=checks)])

    def test(self, lab: model.Lab, instance: str, keep: bool = False,
             progress: Progress = quiet, path: Path | None = None) -> Report:
        """Up, steps, checks, the lab's own pytest files (when `path` is given), then
        down unless `keep`. Refused when the lab is up on that instance: a test never
        takes down a lab it did not bring up."""
        from labctl.service import sequence  # noqa: PLC0415 - lazy: the test sequence (YAML, the checks)
        engine = self.engine(progress)
        refuse_if_up(engine, lab.name, instance)
        with removed_on_interrupt(engine):
            return Report("test", [sequence.test_lab(engine, lab, instance, keep, progress,
                                                     path, step_seconds=self.step_seconds)])

    def refuse_if_up(self, lab: str, instance: str) -> None:
        """LabBusy if the lab holds anything on that instance (a test starts afresh)."""
        refuse_if_up(self.engine(), lab, instance)

    def test_after_up(self, lab: model.Lab, instance: str, keep: bool = False) -> Report:
        """The rest of a test whose `up` the caller made itself, after refuse_if_up (the
        classroom server brings labs up in its queue, and runs the steps outside it):
        steps within step_seconds, checks, then down unless keep."""
        from labctl.service import sequence  # noqa: PLC0415 - lazy: the test sequence (YAML, the checks)
        return Report("test", [sequence.test_lab(self.engine(), lab, instance, keep,
                                                 up_done=True,
                                                 step_seconds=self.step_seconds)])

    def verify(self, lab_paths: list[Path], instance_prefix: str, workers: int,
               progress: Progress = quiet) -> list[LabReport]:
        from labctl.service import sequence  # noqa: PLC0415 - lazy: the test sequence (YAML, the checks)
        engine = self.engine(progress)
        return sequence.verify(engine, lab_paths, instance_prefix, workers, progress)

    @contextlib.contextmanager
    def session(self, lab: model.Lab, instance: str, *, owned: bool = True,
                keep: bool = False) -> Iterator[LabSession]:
        """The lab up for the length of a block (see lab_run.lab_session)."""
        from labctl.service.lab_run import lab_session  # noqa: PLC0415 - lazy: the checks (testinfra)
        with lab_session(self.engine(), lab, instance, owned=owned, keep=keep) as session:
            yield session

    # -- packets -------------------------------------------------------------------------
    def captures(self, lab: str, instance: str, node: str | None = None
                 ) -> tuple[list[CapturedFile], list[NodeInfo]]:
        from labctl.service import captures  # noqa: PLC0415 - lazy: the pcap stack (dpkt)
        return captures.collect(self.engine(), lab, instance, node)

    def all_captures(self, lab: str, instance: str, node: str | None = None
                     ) -> tuple[list[CapturedFile], list[NodeInfo]]:
        from labctl.service import captures  # noqa: PLC0415 - lazy: the pcap stack (dpkt)
        return captures.collect_all(self.engine(), lab, instance, node)

    def live_capture(self, lab: str, instance: str, node: str) -> Iterator[bytes]:
        from labctl.service import captures  # noqa: PLC0415 - lazy: the pcap stack (dpkt)
        return captures.live(self.engine(), lab, instance, node)


def connect() -> LabService:
    """The service over this host's engine."""
    return LabService(runtime.connect())
