"""Labs on the in-memory runtime, and nodes that answer commands like real ones."""

from __future__ import annotations

import base64
import json

from labctl.lab import loader
from labctl.lab.probe_ports import NODE_PYTHON
from labctl.runtime.base import ExecResult
from labctl.runtime.fake import FakeRuntime
from labctl.service.engine import Engine

# What testinfra asks first (hosts.DISCOVERY), answered as our Debian node image does.
DISCOVERY = {
    "uname -s": (0, "Linux\n"),
    "cat /etc/os-release": (0, 'ID=debian\nVERSION_ID="12"\n'),
    "uname -m": (0, "x86_64\n"),
    "command -v command": (0, "command\n"),
    "command -v ss": (0, "/usr/bin/ss\n"),
    "realpath /bin/ps": (0, "/usr/bin/ps\n"),
    "test -e /bin/busybox": (1, ""),
}


class Shell:
    """A node's answers to shell commands: exact commands, or by a word they contain."""

    def __init__(self, answers: dict[str, tuple[int, str]] | None = None):
        self.answers = {**DISCOVERY, **(answers or {})}

    def reply(self, command: str) -> tuple[int, str, str]:
        if command in self.answers:
            code, out = self.answers[command]
            return code, out, ""
        for key, (code, out) in self.answers.items():
            if key in command:
                return code, out, ""
        return 127, "", f"sh: {command.split()[0]}: not answered by the test\n"


def install(fake: FakeRuntime, shells: dict[str, Shell]) -> None:
    """Answer commands on each node from its Shell (batched ones too, as hosts.py sends)."""
    def reply(node: str, argv: list[str]) -> ExecResult | None:
        shell = shells.get(node)
        if shell is None:
            return None
        if argv[:3] == [*NODE_PYTHON, "-c"] and len(argv) == 5 and "base64" in argv[3]:
            out = {}
            for cmd in json.loads(argv[4]):
                code, stdout, stderr = shell.reply(cmd)
                out[cmd] = [code, base64.b64encode(stdout.encode()).decode(),
                            base64.b64encode(stderr.encode()).decode()]
            return ExecResult(0, json.dumps(out).encode(), b"")
        command = argv[-1] if argv[-2:-1] == ["-c"] else " ".join(argv)
        code, stdout, stderr = shell.reply(command)
        return ExecResult(code, stdout.encode(), stderr.encode())
    fake.answer(reply)


def up(text: str, instance: str = "t", fake: FakeRuntime | None = None):
    """A lab from YAML text, brought up on a fake runtime: (engine, lab, nodes by name)."""
    fake = fake or FakeRuntime()
    engine = Engine(fake)
    lab = loader.parse(text, "lab.yaml")
    infos = engine.up(lab, instance)
    return engine, lab, {n.node: n for n in infos}
