"""The short way in (labctl.cli.entry) makes the same calls the full command line makes,
and leaves every other form to the full command line."""

from __future__ import annotations

import sys

import pytest
from clirun import handlers_kept

from labctl.cli import commands as cli
from labctl.cli import entry as launch

SAME = [
    ["up", "handshake-lab"],
    ["up", "./labs/udp-lab", "-i", "pair2"],
    ["up", "echo-lab", "--instance", "ann"],
    ["up", "echo-lab", "--instance=ann"],
    ["down", "handshake-lab"],
    ["down", "handshake-lab", "-i", "pair2"],
]
NOT_SHORT = [
    [], ["up"], ["down"], ["up", "--help"], ["up", "lab", "--json"], ["down", "--all"],
    ["down", "lab", "--all-instances"], ["status"], ["up", "lab", "-i"],
    ["up", "lab", "-i", "a", "b"], ["up", "-i", "a", "lab"], ["--debug", "up", "lab"],
    ["up", "lab", "-i", "--json"], ["check", "lab"],
]


@pytest.fixture(autouse=True)
def handlers_back():
    with handlers_kept():
        yield


def _calls(monkeypatch, entry, argv: list[str]) -> list[tuple]:
    """What `labctl ARGV` asks of labctl.cli.up_down, and the run's server and command."""
    seen = []
    monkeypatch.setattr("labctl.cli.up_down.up", lambda lab, instance, json_out=False: seen.append(
        ("up", lab, instance, json_out, launch.state["server"], launch.state["command"])))
    monkeypatch.setattr("labctl.cli.up_down.down", lambda lab, instance, all_labs=False,
                        all_instances=False: seen.append(
        ("down", lab, instance, all_labs, all_instances, launch.state["server"],
         launch.state["command"])))
    monkeypatch.setattr(sys, "argv", ["labctl", *argv])
    with pytest.raises(SystemExit) as done:
        entry()
    assert done.value.code == 0
    return seen


@pytest.mark.parametrize("argv", SAME, ids=" ".join)
@pytest.mark.parametrize("env", [{}, {"LABCTL_INSTANCE": "from-env", "LABCTL_SERVER":
                                      "unix:///tmp/x.sock"}], ids=["no-env", "env"])
def test_the_short_way_makes_the_calls_typer_makes(monkeypatch, argv, env):
    for key in ("LABCTL_INSTANCE", "LABCTL_SERVER"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert launch.quick(argv) is not None
    short = _calls(monkeypatch, launch.main, argv)
    full = _calls(monkeypatch, cli.main, argv)
    assert short == full and len(short) == 1


@pytest.mark.parametrize("argv", NOT_SHORT, ids=lambda a: " ".join(a) or "nothing")
def test_every_other_form_goes_through_typer(argv):
    assert launch.quick(argv) is None


def test_completion_goes_through_typer(monkeypatch):
    monkeypatch.setenv("_LABCTL_COMPLETE", "complete_bash")
    assert launch.quick(["up", "handshake-lab"]) is None


def test_errors_leave_the_short_way_as_one_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["labctl", "up", "no-such-lab"])
    with pytest.raises(SystemExit) as done:
        launch.main()
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.startswith("labctl: error: ") and "no-such-lab" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("raised", "code", "said"), [
    (BrokenPipeError, 1, ""),  # `labctl up LAB | head -1`: as click ends it
    (EOFError, 130, "labctl: interrupted\n"),
    (KeyboardInterrupt, 130, "labctl: interrupted\n"),
])
def test_both_ways_end_alike(capsys, raised, code, said):
    def call():
        raise raised
    with pytest.raises(SystemExit) as done:
        launch.run(call)
    assert done.value.code == code and capsys.readouterr().err == said


def test_run_as_a_module_it_keeps_its_server(tmp_path):
    """`python -m labctl.cli.entry` fills the state labctl.cli.up_down reads (not __main__'s)."""
    import os
    import subprocess
    sock = tmp_path / "none.sock"
    result = subprocess.run([sys.executable, "-m", "labctl.cli.entry", "down", "handshake-lab"],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "LABCTL_SERVER": f"unix://{sock}"})
    assert result.returncode == 3 and str(sock) in result.stderr, result.stderr
