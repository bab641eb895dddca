"""One lab session: up, the running nodes, steps and checks, then down.

`labctl test`, `labctl verify`, the pytest plugin and the instructors'
test modules all run a lab through `lab_session`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from labctl.checks.run import LabState, run_checks
from labctl.interrupts import shielded
from labctl.runtime.base import NodeInfo
from labctl.service.engine import Engine
from labctl.service.guards import refuse_if_up
from labctl.service.steps import run_steps

if TYPE_CHECKING:
    from labctl.lab import model


@dataclass
class LabSession:
    engine: Engine
    lab: model.Lab
    instance: str
    nodes: dict[str, NodeInfo]  # by node name, every one running

    def steps(self, budget=None) -> list:
        """The lab's steps in order (within `budget`, a steps.Budget, when given)."""
        return run_steps(self.engine.runtime, self.lab.steps, self.nodes, budget)

    def checks(self) -> list:
        return run_checks(LabState(self.engine.runtime, self.nodes), self.lab.checks)


@contextlib.contextmanager
def lab_session(engine: Engine, lab: model.Lab, instance: str, *, owned: bool = True,
                keep: bool = False, up_done: bool = False) -> Iterator[LabSession]:
    """Bring the lab up (when `owned`) and yield it running; take it down afterwards.

    Not owned: the lab is already up (someone else's session), only found.
    Owned on an instance that already holds the lab (running or not): refused
    with LabBusy, so a session never takes down a lab it did not bring up.
    `up_done`: owned, but the caller brought it up itself (the classroom server, in its
    queue) after checking it was not up. `keep` leaves it running. Down is shielded
    from a second Ctrl-C.
    """
    if owned and not up_done:
        refuse_if_up(engine, lab.name, instance)
    try:
        infos = engine.up(lab, instance) if owned and not up_done else None
        yield LabSession(engine, lab, instance,
                         engine.running_nodes(lab.name, lab.nodes, instance, infos))
    finally:
        if owned and not keep:
            with shielded():
                engine.down(lab.name, instance)
