"""Issue 18, item 8: terminal escapes from a node.

A student, root in their server node, answered the `http` check with a header
`\\e]0;PWNED\\a\\e[2K\\e[32mALL CHECKS PASSED`: it reached the instructor's terminal raw
under `seen:` (retitled the window, erased the line, printed green). What a node
says is now shown with its control characters escaped, wherever labctl prints it.
"""

from __future__ import annotations

import json
import time

import pytest

from labctl import console
from labctl.classroom import grades
from labctl.console import printable
from labctl.lab import loader
from labctl.lab.results import CheckResult
from tests.conftest import run_labctl

EVIL = "\x1b]0;PWNED\x07\x1b[2K\x1b[32mALL CHECKS PASSED"
SHOWN = "\\x1b]0;PWNED\\x07\\x1b[2K\\x1b[32mALL CHECKS PASSED"
CONTROLS = [chr(c) for c in (*range(0x00, 0x09), *range(0x0b, 0x20), *range(0x7f, 0xa0))]


def test_printable_escapes_every_control_but_newline_and_tab():
    assert printable(EVIL) == SHOWN
    assert printable("a\tb\nc") == "a\tb\nc"
    for char in CONTROLS:
        assert printable(char) == f"\\x{ord(char):02x}"
    assert printable("héllo → ✓") == "héllo → ✓"


def _no_controls(text: str) -> None:
    assert not [c for c in text if c in CONTROLS], repr(text)


def test_check_output_shows_a_nodes_escapes(capsys):
    from labctl.output.text import show_checks
    show_checks(console.out, [
        CheckResult(0, "http", "HTTP GET http://server/ from client → 200", False,
                    message=f"response header content-encoding is {EVIL!r}",
                    expected="content-encoding: gzip", seen=f"x-evil: {EVIL}")])
    out = capsys.readouterr().out
    _no_controls(out)
    assert f"x-evil: {SHOWN}" in out


def _grades() -> grades.Grades:
    broken = grades.broken("ann", "ann", f"server said {EVIL}")
    checked = grades.checked("ben", "ben", [{"index": 0, "title": "t", "passed": False,
                                             "message": EVIL, "expected": "x", "seen": EVIL}])
    return grades.grades("handshake-lab", ["t"], [broken, checked])


def test_class_check_table_csv_and_junit_show_escapes(capsys):
    from labctl.classroom import grade_formats as render
    render.show_table(_grades())
    out = capsys.readouterr().out
    _no_controls(out)
    assert "\\x1b" in out
    for fmt in ("csv", "junit"):
        text = render.render(_grades(), fmt)
        _no_controls(text.replace("\r\n", "\n"))  # CSV's own line ends (RFC 4180)
        assert SHOWN in text
    assert EVIL in json.loads(render.render(_grades(), "json"))["rows"][0]["note"]  # data stays


def test_an_error_message_quoting_a_node_is_escaped(capsys, monkeypatch):
    from labctl.cli import exit_path as launch
    from labctl.errors import NodeFailed

    def fail():
        raise NodeFailed(f"server exited: {EVIL}")

    monkeypatch.setattr(launch.signal, "signal", lambda *_: None)
    with pytest.raises(SystemExit):
        launch.run(fail, "up")
    err = capsys.readouterr().err
    _no_controls(err.replace("\n", ""))
    assert SHOWN in err


# -- the attack itself, on a real node -------------------------------------------------
LAB = """\
name: escape-lab
description: The student's server answers with a hostile header.
nodes:
  server: {}
  client: {}
checks:
  - http: {from: client, url: "http://server:8080/", status: 200,
           headers: {content-encoding: gzip}}
"""

# Run in the server node as root: a web server whose answer carries the escapes.
EVIL_SERVER = r"""
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self._headers_buffer.append(b"X-Note: \x1b]0;PWNED\x07\x1b[2K\x1b[32mALL CHECKS PASSED\r\n")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        print("\x1b]0;PWNED\x07\x1b[2K\x1b[32mALL CHECKS PASSED", flush=True)
http.server.HTTPServer(("", 8080), H).serve_forever()
"""


@pytest.mark.docker
def test_a_nodes_http_header_reaches_labctl_check_escaped(engine, lab_up, instance, tmp_path):
    (tmp_path / "lab.yaml").write_text(LAB)
    lab = loader.load(tmp_path)
    lab_up(lab)
    server = engine.running_nodes(lab.name, lab.nodes, instance)["server"].container
    engine.runtime.start_background(server, ["python3", "-c", EVIL_SERVER])
    for _ in range(100):
        if engine.runtime.run(server, ["sh", "-c", "ss -ltn | grep -q :8080"]).exit_code == 0:
            break
        time.sleep(0.1)
    done = run_labctl("check", str(tmp_path), "--instance", instance,
                      env={"LABCTL_SERVER": "", "COLUMNS": "200"})
    assert done.returncode == 1, done.stderr
    _no_controls(done.stdout.replace("\n", "").replace("\t", ""))
    assert "X-Note: " + SHOWN in done.stdout
    # what a node prints to its log (root writes to PID 1's stdout) is shown, not obeyed
    engine.runtime.run(server, ["sh", "-c", r"printf 'log: \033]0;PWNED\007\033[2K\n' "
                                            "> /proc/1/fd/1"])
    logs = run_labctl("logs", "escape-lab", "server", "--instance", instance,
                      env={"LABCTL_SERVER": ""})
    assert logs.returncode == 0, logs.stderr
    _no_controls(logs.stdout.replace("\n", ""))
    assert "log: \\x1b]0;PWNED\\x07\\x1b[2K" in logs.stdout
