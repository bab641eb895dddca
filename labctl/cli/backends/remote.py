"""The remote backend: a classroom server (labctl serve), through labctl/classroom/client/api.py.

The server sends the reports `--json` prints, so the CLI renders them as it renders its
own; refusals arrive as one line (ServerError, exit code 2)."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path

from labctl.classroom.client.api import Client, ServerError
from labctl.cli.backends.base import Progress
from labctl.errors import InvalidInput, LabctlError
from labctl.lab.blueprint import lab_name
from labctl.runtime import NodeInfo
from labctl.service.captures import CapturedFile
from labctl.service.report import Report, from_data

EXEC_TIMEOUT = 600  # the server's longest; a hung command ends there (exit code 124)


class RemoteBackend:
    remote = True

    def __init__(self, url: str, token: str | None = None, verify: bool | str = True):
        self.client = Client(url, token=token, verify=verify)

    def _lab(self, lab: str) -> str:
        """A lab on this machine is sent to the server first; a name is the server's."""
        if not Path(lab).exists():
            return lab
        from labctl.lab import loader  # noqa: PLC0415 - lazy: the lab model (pydantic)
        path = loader.resolve(lab)
        return self.client.upload(path.read_text(encoding="utf-8"))["name"]

    def up(self, lab: str, instance: str | None, progress: Progress) -> Report:
        name = self._lab(lab)
        done = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(name, instance, progress, done),
                                   daemon=True)
        watcher.start()
        try:
            return from_data(self.client.up(name, instance))
        finally:
            done.set()

    def _watch(self, name: str, instance: str | None, progress: Progress,
               done: threading.Event) -> None:
        """Show the `up`'s place in the server's queue while it waits."""
        shown = ""
        with Client(self.client.url, self.client._token, self.client._verify) as own:
            while not done.wait(0.5):
                try:
                    state = own.up_progress(name, instance)
                except ServerError:
                    return
                line = {"queued": f"queued: place {state['place']} of {state['waiting']} "
                                  "waiting on the server",
                        "starting": f"starting {name} on the server"}.get(state["state"], "")
                if line and line != shown and not done.is_set():
                    progress(line)
                    shown = line

    def down(self, lab: str | None, instance: str | None, all_instances: bool
             ) -> tuple[int, int]:
        if lab is None or all_instances:
            raise InvalidInput("through the classroom server, `down` takes one LAB "
                               "(--all and --all-instances are the instructor's, on the host)")
        result = self.client.down(lab_name(lab), instance)
        return result["containers"], result["networks"]

    def status(self, lab: str | None, instance: str | None) -> Report:
        return from_data(self.client.status(None if lab is None else lab_name(lab), instance))

    def node(self, lab: str, instance: str | None, node: str) -> NodeInfo:
        nodes = self.status(lab, instance).labs
        for report in nodes:
            for info in report.nodes:
                if info.node == node:
                    return info
        raise InvalidInput(f"{lab_name(lab)} has no running node '{node}'")

    def exec_stream(self, lab: str, instance: str | None, node: str, argv: list[str]):
        result = self.client.exec(lab_name(lab), node, argv, instance, timeout=EXEC_TIMEOUT)
        return _Finished(result)

    def open_shell(self, lab: str, instance: str | None, node: str):
        return self.client.shell(lab_name(lab), node, instance)

    def logs(self, lab: str, instance: str | None, node: str, follow: bool
             ) -> Iterator[bytes]:
        if follow:
            return self.client.logs_follow(lab_name(lab), node, instance)
        return iter([self.client.logs(lab_name(lab), node, instance).encode()])

    def check(self, lab: str, instance: str | None) -> Report:
        report = from_data(self.client.check(self._lab(lab), instance))
        for each in report.labs:
            each.path = lab
        return report

    def test(self, lab: str, instance: str | None, keep: bool, progress: Progress) -> Report:
        progress("testing on the server")
        report = from_data(self.client.test(self._lab(lab), instance, keep))
        for each in report.labs:
            each.path = lab
        return report

    def captures(self, lab: str, instance: str | None, node: str | None):
        name = lab_name(lab)
        data = self.client.captures(name, instance, node)
        files = [CapturedFile(f["node"], base64.b64decode(f["pcap"])) for f in data["files"]]
        nodes = [NodeInfo(**{"container": "", **n}) for n in data["nodes"]]
        return name, files, nodes

    def live_capture(self, lab: str, instance: str | None, node: str) -> Iterator[bytes]:
        return _Closable(self.client.live_capture(lab_name(lab), node, instance),
                         self.client.abort)


class _Closable:
    """A stream another thread may end: closing the connection ends a read that waits."""

    def __init__(self, chunks: Iterator[bytes], disconnect):
        self._chunks, self._disconnect, self._closed = chunks, disconnect, False

    def __iter__(self):
        try:
            yield from self._chunks
        except LabctlError:
            if not self._closed:
                raise

    def close(self) -> None:
        self._closed = True
        self._disconnect()


class _Finished:
    """An exec the server ran to completion, as an ExecStream."""

    def __init__(self, result: dict):
        self._result = result

    def __iter__(self):
        out, err = self._result["stdout"], self._result["stderr"]
        if out:
            yield out.encode(), None
        if err:
            yield None, err.encode()

    @property
    def exit_code(self) -> int:
        return int(self._result["exit_code"])
