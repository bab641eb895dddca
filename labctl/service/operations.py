"""The server's ONE way into the engine. Everything the server asks of the runtime goes
through these blocking functions (called from worker threads). Lab-shaped answers are
the Reports of labctl/service/report.py, so the API sends what `--json` prints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from labctl import paths
from labctl.errors import InvalidInput, LabctlError
from labctl.lab import loader, model
from labctl.runtime import NodeInfo, Runtime
from labctl.service import captures as capture
from labctl.service import sequence as runner
from labctl.service.engine import Engine
from labctl.service.lab_run import lab_session
from labctl.service.report import LabReport, Report, to_data

LAB_FILE = loader.LAB_FILE


def bundled_lab_dirs() -> list[Path]:
    """The labs shipped with labctl (not ./labs: a server offers only what it is given)."""
    nowhere = Path("/nonexistent")
    return [d for d in paths.lab_search_dirs(nowhere) if d.parent != nowhere]


class Operations:
    def __init__(self, runtime: Runtime | None = None) -> None:
        if runtime is None:
            from labctl import runtime as runtime_mod
            runtime = runtime_mod.connect()
        self.runtime = runtime
        self._engine = Engine(runtime)

    # -- labs ----------------------------------------------------------------
    @staticmethod
    def load_lab(path: Path) -> model.Lab:
        return loader.load(path)

    @staticmethod
    def parse_lab(text: str, file: str) -> model.Lab:
        return loader.parse(text, file)

    # -- lifecycle -------------------------------------------------------------
    def up(self, lab: model.Lab, instance: str) -> dict:
        # One engine per up: `created` is per call, and progress stays with its caller.
        return public_report(runner.up(Engine(self.runtime), lab, instance))

    def down(self, lab: str, instance: str) -> tuple[int, int]:
        return self._engine.down(lab, instance)

    def status(self, lab: str | None, instance: str | None) -> list[NodeInfo]:
        return self._engine.status(lab, instance)

    def public_status(self, lab: str | None, instance: str | None) -> list[dict]:
        """The nodes as the API shows them (without the runtime's handles)."""
        return [public_node(n) for n in self.status(lab, instance)]

    def running_labs(self) -> set[tuple[str, str]]:
        """(lab, instance) of everything labctl runs, from labels alone."""
        return {(n.lab, n.instance) for n in self.status(None, None)}

    # -- inside a lab ------------------------------------------------------------
    def node(self, lab: str, instance: str, node: str) -> NodeInfo:
        return self._engine.find_node(lab, instance, node)

    def exec(self, lab: str, instance: str, node: str, argv: list[str], timeout: int,
             limit: int) -> tuple[int, bytes, bytes]:
        info = self.node(lab, instance, node)
        # coreutils timeout in the node: a hung command cannot hold a server thread.
        code, out, err = self.runtime.run(
            info.container, ["timeout", "-k", "2", str(timeout), *argv])
        return code, out[:limit], err[:limit]

    def logs(self, lab: str, instance: str, node: str, tail: int) -> bytes:
        info = self.node(lab, instance, node)
        return b"".join(self.runtime.logs(info.container, follow=False, tail=tail))

    def follow_logs(self, lab: str, instance: str, node: str, tail: int) -> Iterator[bytes]:
        info = self.node(lab, instance, node)
        return self.runtime.logs(info.container, follow=True, tail=tail)

    def check(self, lab: model.Lab, instance: str) -> dict:
        return public_report(runner.check(self._engine, lab, instance, lab.name))

    def test(self, lab: model.Lab, instance: str, keep: bool) -> dict:
        """Up, steps, checks, down (the lab's own pytest files stay with the instructor).

        Refused when the lab is up on that instance: test never takes down a lab it did
        not bring up."""
        from labctl.service.lab_run import refuse_if_up
        refuse_if_up(Engine(self.runtime), lab.name, instance)
        report = LabReport(lab.name, instance, lab.name)
        try:
            with lab_session(Engine(self.runtime), lab, instance, keep=keep) as session:
                report.nodes = list(session.nodes.values())
                report.steps = session.steps()
                report.checks = session.checks()
        except LabctlError as exc:
            report.error = str(exc)
        return public_report(Report("test", [report]))

    def captures(self, lab: str, instance: str, node: str | None
                 ) -> tuple[list[capture.CapturedFile], list[NodeInfo]]:
        return capture.collect(self._engine, lab, instance, node)

    def live_capture(self, lab: str, instance: str, node: str) -> Iterator[bytes]:
        return capture.live(self._engine, lab, instance, node)


def public_report(report: Report) -> dict:
    """The report as JSON, without the runtime's handles (the server's business)."""
    data = to_data(report)
    for lab in data["labs"]:
        for node in lab["nodes"]:
            node.pop("container", None)
    return data


def public_node(info: NodeInfo) -> dict:
    from dataclasses import asdict
    data = asdict(info)
    data.pop("container", None)
    return data


def refuse_custom_images(lab: model.Lab) -> None:
    """A student's own lab runs only labctl's node image: no host image of their choice."""
    custom = sorted(name for name, node in lab.nodes.items() if node.image)
    if custom:
        raise InvalidInput(f"lab '{lab.name}': nodes {', '.join(custom)} name an image; labs "
                           "sent to the server run only labctl's node image")
