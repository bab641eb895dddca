"""The lab's page without Docker: the sheet is rendered without a lab file's HTML, the
server's CLI words become what to click, static files (xterm.js) are served by the
server itself, and a page's terminal WebSocket opens only with the session cookie from
this server's own page."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from labctl.classroom.app import create_app
from labctl.classroom.server.config import ServerConfig
from labctl.classroom.server.tokens import TokenStore
from labctl.classroom.web import assets, sheet, words
from labctl.errors import NotRunning
from labctl.service.engine import not_running
from tests.unit.test_class_web import LAB, FakeOps, _web, make_world


class Ops(FakeOps):
    def node(self, lab, instance, node):
        raise NotRunning(not_running(lab, instance))


@pytest.fixture
def world(tmp_path):
    return make_world(tmp_path, Ops())


def test_a_sheet_shows_a_lab_files_html_as_text():
    page = sheet.render("# Title\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
                        "[click](javascript:alert(1)) ![x](http://elsewhere/x.png)\n\n"
                        "| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert "<script" not in page and "<img" not in page and "javascript:" not in page.split(
        "[click]")[0]
    assert "&lt;script&gt;" in page and 'href="javascript' not in page
    assert "<h2>Title</h2>" in page and "<table>" in page  # under the page's own h1


def test_the_bundled_sheet_renders():
    from labctl.classroom.server.catalogue import bundled_lab_dirs
    lab = next(d / LAB / "lab.yaml" for d in bundled_lab_dirs() if (d / LAB).is_dir())
    html = sheet.for_lab(lab)
    assert html is not None and "three-way handshake" in html


def test_cli_instructions_become_what_to_click():
    said = words.for_the_page(not_running(LAB, "uxstu1"))
    assert "labctl" not in said and "“Bring up”" in said
    assert "labctl" not in words.for_the_page(
        "handshake-lab is half-made: `labctl up handshake-lab -i a` repairs it")


def test_static_files_are_served_gzipped_and_cached(world):
    app, _, _ = world
    client = TestClient(app)
    own = client.get("/web/static/lab.js", headers={"accept-encoding": "gzip"})
    assert own.status_code == 200 and own.headers["content-encoding"] == "gzip"
    assert "no-store" not in own.headers["cache-control"]
    again = client.get("/web/static/lab.js", headers={"if-none-match": own.headers["etag"]})
    assert again.status_code == 304
    for sneaky in ("/web/static/%2e%2e/pages.py", "/web/static/xterm/%2e%2e%2f%2e%2e/x",
                   "/web/static/.hidden"):
        assert client.get(sneaky, follow_redirects=False).status_code == 404, sneaky
    if assets.has_terminal():
        term = client.get("/web/static/xterm/xterm.js")
        assert term.status_code == 200 and len(term.content) > assets.MIN_BROWSER_BUILD


def test_the_terminal_websocket_needs_the_cookie_and_this_origin(world):
    app, _, tokens = world
    path = f"/web/labs/{LAB}/nodes/client/shell"
    anonymous = TestClient(app)
    with pytest.raises(WebSocketDisconnect) as refused, \
            anonymous.websocket_connect(path, headers={"origin": "http://testserver"}):
        pass
    assert refused.value.code == 4403
    zoe = _web(app, tokens["zoeq"])
    for origin in (None, "http://evil.example"):
        headers = {"origin": origin} if origin else {}
        with pytest.raises(WebSocketDisconnect) as refused, \
                zoe.websocket_connect(path, headers=headers):
            pass
        assert refused.value.code == 4403, origin
    with zoe.websocket_connect(path, headers={"origin": "http://testserver"}) as socket:
        said = socket.receive_json()
    assert "Bring up" in said["error"] and "labctl up" not in said["error"]
    with pytest.raises(WebSocketDisconnect), zoe.websocket_connect(
            path + "?instance=ben", headers={"origin": "http://testserver"}) as socket:
        socket.receive_json()


def test_the_lab_page_of_a_lab_that_is_down(world):
    app, _, tokens = world
    page = _web(app, tokens["zoeq"]).get(f"/web/labs/{LAB}")
    assert page.status_code == 200
    assert "Student sheet" in page.text and "Bring up" in page.text
    assert 'role="img"' in page.text and "address at up" in page.text  # the topology


class ClassOps(Ops):
    def up(self, lab, instance):
        from labctl.service.report import LabReport, Report
        self.running.add((lab.name, instance))
        return Report("up", [LabReport(lab.name, instance, lab.name)])


def _post(client, path, **form):
    from labctl.classroom.web import sessions as session
    return client.post(path, data={"csrf": session.csrf_token("root"), **form},
                       headers={"origin": "http://testserver"}, follow_redirects=True)


def test_the_class_is_the_roster_the_instructor_gives(tmp_path):
    config = ServerConfig(socket=None, state_dir=tmp_path, instructors="no-such-group-here")
    ops = ClassOps()
    app = create_app(config, ops=ops)
    root = _web(app, TokenStore(config.tokens_file).add("root"))
    ops.running = {(LAB, "stranger"), (LAB, "root")}  # another server's lab, root's own
    github = ("identifier,github_username,github_id,name\n"
              "ann,ann-gh,1,Ann A\n,ben-gh,2,Ben B\n")
    page = _post(root, "/web/class/roster", names=github, mode="replace", lab=LAB)
    assert "2 students make the class" in page.text and 'role="status"' in page.text
    grid = root.get(f"/web/class/{LAB}/grid").text
    assert "ann" in grid and "ben-gh" in grid and "stranger" not in grid
    assert ">root<" not in grid

    page = _post(root, f"/web/class/{LAB}/up")
    assert f"{LAB}: 2 of 2 up." in page.text and (LAB, "ann") in ops.running
    page = _post(root, f"/web/class/{LAB}/check")
    assert "Checked every student." in page.text and "2 students" in page.text
    grid = root.get(f"/web/class/{LAB}/grid").text
    assert grid.count("<time") == 2  # each row's last-checked time
    page = _post(root, f"/web/class/{LAB}/down")
    assert f"{LAB}: 2 of 2 removed." in page.text and (LAB, "ann") not in ops.running
    assert (LAB, "stranger") in ops.running  # not the class's: left alone

    page = _post(root, "/web/class/roster/remove", student="ben-gh", lab=LAB)
    assert "ben-gh is no longer on the class list" in page.text
    assert "ben-gh" not in root.get(f"/web/class/{LAB}/grid").text
    bad = _post(root, "/web/class/roster", names="Name,Score\nAnn,3\n", mode="add")
    assert "no column of user names" in bad.text and 'role="alert"' in bad.text


def test_a_student_who_logs_in_joins_the_class(tmp_path):
    config = ServerConfig(socket=None, state_dir=tmp_path, instructors="no-such-group-here")
    app = create_app(config, ops=ClassOps())
    tokens = TokenStore(config.tokens_file)
    root = _web(app, tokens.add("root"))
    _post(root, "/web/class/roster", names="ann\n", mode="replace")
    _web(app, tokens.add("cleo")).get("/web/labs")
    status = root.get("/web/class").text
    assert "cleo" in status and "joined by using the server" in status
