"""Where CLI commands go (labctl/cli/backends), the stored login, the report round trip, the
up journal and the systemd unit: pure logic, no engine."""

from __future__ import annotations

import json
import stat

import pytest

from labctl.classroom.server import systemd
from labctl.classroom.server.journal import UpJournal
from labctl.cli import backends as backend
from labctl.cli.backends import credentials
from labctl.cli.backends.local import LocalBackend
from labctl.cli.backends.remote import RemoteBackend
from labctl.lab.results import CheckResult
from labctl.output.json import to_data
from labctl.runtime import NodeInfo
from labctl.service.report import LabReport, Report, from_data


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("LABCTL_SERVER", raising=False)
    monkeypatch.delenv("LABCTL_TOKEN", raising=False)
    monkeypatch.setattr("labctl.classroom.server.config.DEFAULT_SOCKET", tmp_path / "no.sock")
    monkeypatch.setattr("labctl.runtime.connect", lambda: None)
    return tmp_path


def test_without_a_server_commands_use_the_engine_here(home):
    assert isinstance(backend.select(), LocalBackend)


def test_labctl_server_or_the_option_sends_every_command_to_that_server(home, monkeypatch):
    monkeypatch.setenv("LABCTL_SERVER", "unix:///run/x.sock")
    chosen = backend.select()
    assert isinstance(chosen, RemoteBackend) and chosen.client.url == "unix:///run/x.sock"
    assert backend.select("https://h:1").client.url == "https://h:1"  # --server wins


def test_a_stored_login_is_used_with_its_token_and_is_private(home):
    where = credentials.store(credentials.Credentials("https://h:8443", "lct_x", None))
    assert stat.S_IMODE(where.stat().st_mode) == 0o600
    assert json.loads(where.read_text())["token"] == "lct_x"
    chosen = backend.select()
    assert chosen.client.url == "https://h:8443" and chosen.client._token == "lct_x"
    # Another server named explicitly does not get this one's token.
    assert backend.select("https://other:1").client._token is None


def test_the_local_servers_socket_is_used_when_it_exists(home, monkeypatch):
    import socket
    path = home / "labctl.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        monkeypatch.setattr("labctl.classroom.server.config.DEFAULT_SOCKET", path)
        assert backend.select().client.url == f"unix://{path}"


def test_a_report_survives_its_json_as_the_server_sends_it():
    node = NodeInfo("lab", "me", "server", "c1", "running", "10.0.0.2", "02:42", "http/tcp/80",
                    addresses={"lan": "10.0.0.2"})
    report = Report("check", [LabReport("lab", "me", "lab", nodes=[node],
                                        checks=[CheckResult(0, "listening", "t", False, "why")])])
    back = from_data(json.loads(json.dumps(to_data(report))))
    assert to_data(back) == to_data(report)
    assert back.exit_code == 1 and back.labs[0].failed_checks[0].message == "why"


def test_the_journal_names_the_ups_a_killed_server_left(tmp_path):
    journal = UpJournal(tmp_path / "ups")
    with journal.running("done-lab", "alice"):
        pass
    cut = journal.running("half-lab", "bob-2")
    cut.__enter__()  # the server dies here: no exit
    assert journal.interrupted() == [("half-lab", "bob-2")]
    journal.forget("half-lab", "bob-2")
    assert journal.interrupted() == []


def test_the_systemd_unit_runs_serve_with_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = systemd.install(["serve", "--labs", "labs", "--state-dir=state",
                            "--concurrent-ups", "6"], tmp_path / "labctl.service")
    text = path.read_text()
    line = next(x for x in text.splitlines() if x.startswith("ExecStart="))
    assert line.endswith(f"serve --labs {tmp_path}/labs --state-dir={tmp_path}/state "
                         "--concurrent-ups 6")
    assert "WantedBy=multi-user.target" in text and "Requires=docker.service" in text


@pytest.fixture
def stale_socket(home, monkeypatch):
    """What a server killed with SIGKILL leaves behind: its socket file, nobody listening."""
    import socket
    path = home / "labctl.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
    assert path.is_socket()
    monkeypatch.setattr("labctl.classroom.server.config.DEFAULT_SOCKET", path)
    return path


@pytest.fixture
def engine_here(monkeypatch):
    from fakelab import install

    from labctl.runtime.fake import FakeRuntime
    runtime = FakeRuntime()
    install(runtime, {})
    monkeypatch.setattr("labctl.runtime.connect", lambda: runtime)
    monkeypatch.setenv("LABCTL_INSTANCE", "me")
    return runtime


def _run(capsys, entry, *argv: str) -> tuple[int, str, str]:
    import sys

    from clirun import handlers_kept
    saved, sys.argv = sys.argv, ["labctl", *argv]
    try:
        with handlers_kept(), pytest.raises(SystemExit) as done:
            entry()
    finally:
        sys.argv = saved
    out, err = capsys.readouterr()
    return done.value.code, out, err


@pytest.mark.parametrize("argv", [["status"], ["down", "demo"], ["up", "demo"]])
def test_a_stale_socket_fails_and_names_the_way_to_docker(stale_socket, engine_here, capsys,
                                                          argv):
    from labctl.cli import entry as launch
    code, _, err = _run(capsys, launch.main, *argv)
    assert code == 3
    assert f"cannot reach the labctl server at unix://{stale_socket}" in err
    assert "--server local" in err and "LABCTL_SERVER=local" in err


def test_server_local_goes_to_the_engine_here_whatever_else_exists(stale_socket, engine_here,
                                                                   monkeypatch, capsys):
    from labctl.cli import entry as launch
    credentials.store(credentials.Credentials("https://h:8443", "lct_x", None))
    assert isinstance(backend.select("local"), LocalBackend)
    monkeypatch.setenv("LABCTL_SERVER", "local")
    assert isinstance(backend.select(), LocalBackend)
    for argv in (["status", "--json"], ["down", "demo"]):
        code, _, err = _run(capsys, launch.main, *argv)
        assert code == 0, err
    monkeypatch.setitem(launch.state, "server", "local")
    assert isinstance(backend.chosen(), LocalBackend)
    monkeypatch.delenv("LABCTL_SERVER")
    code, out, err = _run(capsys, launch.main, "--server", "local", "status", "--json")
    assert code == 0 and json.loads(out)["labs"] == [], err


def test_class_commands_stay_with_the_server_when_labctl_server_is_local(stale_socket):
    from labctl.cli import class_commands as class_cli
    assert class_cli._client("local", None, None).url == f"unix://{stale_socket}"
