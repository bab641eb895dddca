"""The real CLI through a real classroom server, as real Unix users made by the test:
every command keeps its output and exit codes; refusals are one line and exit code 2."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time

import pytest

from labctl.classroom.server import instances
from tests.conftest import SESSION_PREFIX
from tests.integration import server_harness
from tests.integration.test_server import LAB, api_down, running

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(os.geteuid() != 0, reason="creates Unix users: needs root")]


@pytest.fixture(scope="module")
def server(node_image):
    srv = server_harness.start("--concurrent-ups", "4")
    try:
        yield srv
    finally:
        srv.stop()


def _env(server) -> dict:
    return {"LABCTL_SERVER": f"unix://{server.socket}"}


def test_a_student_uses_the_cli_through_the_socket_and_a_classmate_is_refused(server, api):
    carol = server.add_user(f"{SESSION_PREFIX}cc")
    dave = server.add_user(f"{SESSION_PREFIX}dd")
    env = _env(server)
    mine = instances.base_instance(carol)
    try:
        code, out, err = server_harness.cli_as(carol, "up", LAB, env=env)
        assert code == 0, err
        assert f"{LAB} is up (instance {mine})" in out.decode()
        assert running(api, LAB, mine) == ["running", "running"]

        code, out, err = server_harness.cli_as(
            carol, "exec", LAB, "client", "--", "sh", "-c", "echo out; echo err >&2; exit 7",
            env=env)
        assert (code, out, err) == (7, b"out\n", b"err\n")

        # Live capture into tshark while a curl runs: the handshake, as it happens.
        tshark = subprocess.Popen(["tshark", "-r", "-", "-c", "3", "-T", "fields",
                                   "-e", "tcp.flags.str"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        result = {}
        capture = threading.Thread(target=lambda: result.setdefault("capture", (
            server_harness.cli_as(carol, "capture", LAB, "server", "--live", "-w", "-",
                                  env=env, stdout=tshark.stdin.fileno(), timeout=90))))
        capture.start()
        time.sleep(3)
        code, out, _ = server_harness.cli_as(carol, "exec", LAB, "client", "--", "curl",
                                             "-s", "http://server/", env=env)
        assert code == 0 and b"Hello World!" in out
        tshark.wait(timeout=60)
        flags = tshark.stdout.read()
        capture.join(timeout=60)
        tshark.stdin.close()
        assert not capture.is_alive(), "live capture did not end after its reader did"
        assert result["capture"][0] == 0, result["capture"]
        assert [f.replace("\u00b7", "") for f in flags.decode().split()] == ["S", "AS", "A"]

        code, out, err = server_harness.cli_as(carol, "trace", LAB, env=env)
        assert code == 0, err
        assert "3-Way handshake (SYN)" in out.decode()
        code, out, err = server_harness.cli_as(carol, "check", LAB, env=env)
        assert code == 0, out.decode() + err.decode()

        # An interactive shell on a terminal: resizes reach it; its exit code comes back.
        pid, master, term = server_harness.pty_as(carol, "shell", LAB, "client", env=env)
        term.expect(r"[#$] ")
        term.sendline("hostname")
        term.expect("client")
        import fcntl
        import struct
        import termios
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
        os.kill(pid, signal.SIGWINCH)
        _await_size(term, "33 111")
        term.sendline("exit 3")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 3

        # dave tries every way into carol's lab: one line, exit code 2, lab untouched.
        for args in (["exec", LAB, "server", "-i", mine, "--", "id"],
                     ["logs", LAB, "server", "-i", mine],
                     ["check", LAB, "-i", mine],
                     ["capture", LAB, "-i", mine, "-o", "caps"],
                     ["trace", LAB, "-i", mine],
                     ["capture", LAB, "server", "-i", mine, "--live", "-w", "-"],
                     ["down", LAB, "-i", mine]):
            code, out, err = server_harness.cli_as(dave, *args, env=env)
            lines = err.decode().splitlines()
            assert code == 2 and len(lines) == 1 and "not yours" in lines[0], (args, err)
        pid, _, term = server_harness.pty_as(dave, "shell", LAB, "client", "-i", mine, env=env)
        term.expect("not yours")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 2
        assert running(api, LAB, mine) == ["running", "running"]

        seen = {(e["user"], e["action"], e["result"].split(":")[0]) for e in server.audit()}
        assert {(carol, "shell", "ok"), (carol, "live_capture", "ok"),
                (dave, "live_capture", "refused 403")} <= seen, seen
        # dave's shell was refused at its first request (finding the node).
        assert (dave, "status", "refused 403") in seen

        code, _, err = server_harness.cli_as(carol, "down", LAB, env=env)
        assert code == 0 and b"removed handshake-lab: 2 containers" in err
        assert running(api, LAB, mine) == []
    finally:
        api_down(api, LAB, mine)


def test_a_token_user_logs_in_over_https_and_uses_the_cli(server, api):
    erin = server.add_user(f"{SESSION_PREFIX}ee")
    token = server.token(erin)
    env = {"LABCTL_TOKEN": token}
    try:
        code, _, err = server_harness.cli_as(erin, "login", server.https, "--ca",
                                             str(server.cert), env=env)
        assert code == 0, err
        stored = f"/home/{erin}/.config/labctl/credentials"
        assert oct(os.stat(stored).st_mode & 0o777) == "0o600"
        # No LABCTL_SERVER, no token in the environment: the stored login is used.
        code, out, err = server_harness.cli_as(erin, "up", LAB)
        assert code == 0, err
        code, out, _ = server_harness.cli_as(erin, "exec", LAB, "client", "--", "sh", "-c",
                                             "hostname; exit 4")
        assert (code, out) == (4, b"client\n")
        code, _, err = server_harness.cli_as(erin, "down", LAB)
        assert code == 0, err
        server.labctl("token", "revoke", erin, "--state-dir", str(server.state))
        code, _, err = server_harness.cli_as(erin, "status")
        assert code == 2 and err.decode().strip() == "labctl: error: unknown or revoked token"
    finally:
        api_down(api, LAB, erin)


def test_a_server_killed_during_an_up_leaves_nothing_once_restarted(api, node_image):
    instance = f"{SESSION_PREFIX}kill"
    first = server_harness.start()
    state = first.state
    try:
        pressed = threading.Thread(target=lambda: _quietly_up(first, instance))
        pressed.start()
        deadline = time.monotonic() + 60
        while not running(api, LAB, instance) and time.monotonic() < deadline:
            time.sleep(0.05)
        first.proc.kill()  # SIGKILL: no drain, the up is cut half-way
        first.proc.wait()
        pressed.join(timeout=60)
        second = server_harness.start(state=state)
        try:
            assert running(api, LAB, instance) == []
            log = (second.root / "server.log").read_text()
            assert re.search(rf"removed the half-made lab {LAB} \(instance {instance}\)", log)
        finally:
            second.stop()
    finally:
        first.stop()
        api_down(api, LAB, instance)


def _quietly_up(server, instance: str) -> None:
    try:
        with server.local() as client:
            client.up(LAB, instance=instance)
    except server_harness.ServerError:
        pass  # the server was killed under it


def test_a_shell_client_that_goes_away_leaves_no_process_in_the_node(server, api):
    instance = f"{SESSION_PREFIX}gone"
    try:
        with server.local() as client:  # root: an instructor, any instance
            client.up(LAB, instance=instance)
            session = client.shell(LAB, "client", instance=instance)
            session.send(b"sleep 4321 & sleep 4322\n")
            time.sleep(2)
            seen = client.exec(LAB, "client", ["ps", "-eo", "args"], instance=instance)
            assert "sleep 4321" in seen["stdout"] and "sleep 4322" in seen["stdout"]
            session.close()  # the client goes, without `exit`
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                left = client.exec(LAB, "client", ["ps", "-eo", "args"], instance=instance)
                if "sleep 432" not in left["stdout"] and "bash" not in left["stdout"]:
                    break
                time.sleep(0.5)
            assert "sleep 432" not in left["stdout"] and "bash" not in left["stdout"], left
    finally:
        api_down(api, LAB, instance)


def _await_size(term, size: str, tries: int = 20) -> None:
    """The shell sees the new size: a resize and keys typed at once may reach the node in
    either order, as on any terminal, so ask again until it shows (or say what it said)."""
    import pexpect
    for _ in range(tries):
        term.sendline("stty size")
        if term.expect([size, pexpect.TIMEOUT], timeout=3) == 0:
            return
    raise AssertionError(f"the shell never saw {size}; it printed: {term.before!r}")

