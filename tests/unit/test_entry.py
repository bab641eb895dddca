"""The one entry (labctl.cli.entry): each form of `up` and `down` reaches the same call,
commands are imported only when they run, completion is click's, and every run ends
through the one exit path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import handlers_kept

from labctl.cli import entry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def handlers_back():
    with handlers_kept():
        yield


class _Recorder:
    """A backend that records what it was asked (and says the lab is gone)."""

    remote = True  # up names the lab by its path: no lab file is read

    def __init__(self, seen: list):
        self.seen = seen

    def up(self, lab, instance, progress):
        self.seen.append(("up", lab, instance, entry.state["server"], entry.state["command"]))
        raise SystemExit(0)

    def down(self, lab, instance, all_instances):
        self.seen.append(("down", lab, instance, all_instances, entry.state["server"],
                          entry.state["command"]))
        return 0, 0


def _calls(monkeypatch, argv: list[str]) -> list[tuple]:
    seen: list = []
    monkeypatch.setattr("labctl.cli.backends.chosen", lambda: _Recorder(seen))
    monkeypatch.setattr(sys, "argv", ["labctl", *argv])
    with pytest.raises(SystemExit) as done:
        entry.main()
    assert done.value.code == 0
    return seen


@pytest.mark.parametrize(("argv", "call"), [
    (["up", "handshake-lab"], ("up", "handshake-lab", None, None, "up")),
    (["up", "./labs/udp-lab", "-i", "pair2"], ("up", "./labs/udp-lab", "pair2", None, "up")),
    (["up", "echo-lab", "--instance=ann"], ("up", "echo-lab", "ann", None, "up")),
    (["up", "-i", "ann", "echo-lab", "--json"], ("up", "echo-lab", "ann", None, "up")),
    (["--server", "local", "up", "echo-lab"], ("up", "echo-lab", None, "local", "up")),
    (["down", "handshake-lab"], ("down", "handshake-lab", None, False, None, "down")),
    (["down", "handshake-lab", "-i", "pair2"],
     ("down", "handshake-lab", "pair2", False, None, "down")),
    (["down", "--all", "--all-instances"], ("down", None, None, True, None, "down")),
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_each_form_of_up_and_down_makes_its_call(monkeypatch, argv, call):
    for key in ("LABCTL_INSTANCE", "LABCTL_SERVER"):
        monkeypatch.delenv(key, raising=False)
    assert _calls(monkeypatch, argv) == [call]


def test_the_environment_fills_instance_and_server(monkeypatch):
    monkeypatch.setenv("LABCTL_INSTANCE", "from-env")
    monkeypatch.setenv("LABCTL_SERVER", "unix:///tmp/x.sock")
    assert _calls(monkeypatch, ["down", "echo-lab"]) == [
        ("down", "echo-lab", "from-env", False, "unix:///tmp/x.sock", "down")]


def _loaded(argv: list[str]) -> set[str]:
    """labctl.cli's modules a real run of `labctl ARGV` imported."""
    code = (f"import sys; sys.argv = ['labctl', *{argv!r}]\n"
            "from labctl.cli.entry import main\n"
            "try:\n    main()\nfinally:\n"
            "    print(sorted(m for m in sys.modules if m.startswith('labctl.cli.')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=60,
                            env={**os.environ, "LABCTL_SERVER": "local",
                                 "LABCTL_INSTANCE": "entrytest"})
    return set(eval(result.stdout.strip().splitlines()[-1]))  # noqa: S307 - our own print


def test_a_command_imports_only_its_own_module():
    commands = {target.partition(":")[0] for target in entry.COMMANDS.values()}
    loaded = _loaded(["down", "no-such-lab-here"]) & commands
    assert loaded == {"labctl.cli.down_command"}
    assert _loaded(["schema"]) & commands == {"labctl.cli.authoring_commands"}
    assert _loaded(["--help"]) & commands == commands  # help lists them all


def test_every_listed_command_loads():
    ctx = entry.labctl.make_context("labctl", ["--help"], resilient_parsing=True)
    for name in entry.COMMANDS:
        command = entry.labctl.get_command(ctx, name)
        assert command is not None and command.name in (name, name.rstrip("_")), name
    assert entry.labctl.get_command(ctx, "nosuch") is None


def _complete(words: str) -> list[str]:
    result = subprocess.run([sys.executable, "-m", "labctl.cli"], capture_output=True,
                            text=True, cwd=ROOT, timeout=60,
                            env={**os.environ, "_LABCTL_COMPLETE": "bash_complete",
                                 "COMP_WORDS": words, "COMP_CWORD": str(len(words.split())
                                                                         - 1)})
    assert result.returncode == 0, result.stderr
    return [line.split(",", 1)[1] for line in result.stdout.splitlines()]


def test_completion_lists_commands_and_options():
    assert {"up", "status"} <= set(_complete("labctl u")) | set(_complete("labctl s"))
    assert "up" in _complete("labctl u")
    assert "--instance" in _complete("labctl down --")
    assert {"add", "list", "revoke"} == set(_complete("labctl token ''"))


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_installs_for_each_shell(tmp_path, shell):
    env = {**os.environ, "HOME": str(tmp_path), "SHELL": f"/bin/{shell}"}
    shown = subprocess.run([sys.executable, "-m", "labctl.cli", "--show-completion"],
                           capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert shown.returncode == 0 and "_LABCTL_COMPLETE" in shown.stdout, shown.stderr
    for _ in range(2):  # twice: the rc file gets its line once
        done = subprocess.run([sys.executable, "-m", "labctl.cli", "--install-completion"],
                              capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
    script = next(p for p in tmp_path.rglob("*") if p.is_file() and "labctl" in p.name)
    assert script.read_text() == shown.stdout
    if shell != "fish":
        rc = (tmp_path / (".bashrc" if shell == "bash" else ".zshrc")).read_text()
        assert rc.count(f"source {script}") == 1
    if shell == "bash":  # the script itself is valid bash
        assert subprocess.run(["bash", "-n", str(script)], timeout=30).returncode == 0


def test_an_unknown_shell_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "labctl.cli", "--show-completion"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60,
                            env={**os.environ, "SHELL": "/bin/tcsh"})
    assert result.returncode == 2 and "tcsh" in result.stderr
    assert "Traceback" not in result.stderr


def test_errors_are_one_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["labctl", "up", "no-such-lab"])
    monkeypatch.setenv("LABCTL_SERVER", "local")
    with pytest.raises(SystemExit) as done:
        entry.main()
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.startswith("labctl: error: ") and "no-such-lab" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("argv", "said"), [
    (["nosuch"], "No such command 'nosuch'"),
    (["up", "lab", "--bogus"], "No such option '--bogus'"),
    (["up"], "Missing argument 'LAB'"),
])
def test_usage_errors_exit_2(monkeypatch, capsys, argv, said):
    monkeypatch.setattr(sys, "argv", ["labctl", *argv])
    with pytest.raises(SystemExit) as done:
        entry.main()
    assert done.value.code == 2 and said in capsys.readouterr().err


@pytest.mark.parametrize(("raised", "code", "said"), [
    (BrokenPipeError, 1, ""),  # `labctl up LAB | head -1`: as click ends it
    (EOFError, 130, "labctl: interrupted\n"),
    (KeyboardInterrupt, 130, "labctl: interrupted\n"),
])
def test_every_ending_is_one_exit(capsys, raised, code, said):
    def call():
        raise raised
    with pytest.raises(SystemExit) as done:
        entry.run(call)
    assert done.value.code == code and capsys.readouterr().err == said


def test_run_as_a_module_it_keeps_its_server(tmp_path):
    """`python -m labctl.cli.entry` fills the state labctl.cli.backends reads (not __main__'s)."""
    sock = tmp_path / "none.sock"
    result = subprocess.run([sys.executable, "-m", "labctl.cli.entry", "down", "handshake-lab"],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "LABCTL_SERVER": f"unix://{sock}"})
    assert result.returncode == 3 and str(sock) in result.stderr, result.stderr
