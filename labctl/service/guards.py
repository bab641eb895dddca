"""What keeps one call's labs honest: a test starts only on an instance that holds
nothing of the lab, and an interrupted call removes what it made."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from labctl.errors import LabBusy
from labctl.interrupts import shielded
from labctl.service.engine import Engine


def refuse_if_up(engine: Engine, lab: str, instance: str) -> None:
    if engine.status(lab, instance) or engine.runtime.networks(lab, instance):
        raise LabBusy(lab, instance)


@contextlib.contextmanager
def removed_on_interrupt(engine: Engine,
                         also: Iterable[tuple[str | None, str]] = ()) -> Iterator[None]:
    """On Ctrl-C (or SIGTERM), remove what this engine brought up, and `also` these
    (lab, instance) pairs (lab None: every lab of the instance); then re-raise."""
    try:
        yield
    except KeyboardInterrupt:
        with shielded():
            for lab, instance in [*engine.created, *also]:
                engine.down(lab, instance)
        raise
