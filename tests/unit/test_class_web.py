"""The instructor's API and the web pages, in process with a fake engine (pure logic):
who may see what, the cookie login, CSRF, the live board and the roster."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient

from labctl.classroom.app import create_app
from labctl.classroom.server import class_state, instances
from labctl.classroom.server.config import ServerConfig
from labctl.classroom.server.tokens import TokenStore
from labctl.classroom.web import sessions as session
from labctl.errors import RuntimeFailure
from labctl.runtime import NodeInfo
from labctl.service.lab_service import LabService

LAB = "handshake-lab"


class FakeOps:
    """The lab service without Docker: `running` is {(lab, instance)}; checks all pass."""

    load_lab = staticmethod(LabService.load_lab)
    parse_lab = staticmethod(LabService.parse_lab)

    def __init__(self):
        self.running: set[tuple[str, str]] = set()

    def nodes(self, lab=None, instance=None):
        return [NodeInfo(lb, i, node, f"c-{lb}-{i}-{node}", "running", "10.0.0.2",
                         "02:00:00:00:00:02", "")
                for lb, i in sorted(self.running) for node in ("client", "server")
                if lab in (None, lb) and instance in (None, i)]

    def running_labs(self):
        return set(self.running)

    def check(self, lab, instance):
        if instance == "broke":
            raise RuntimeFailure("docker: the server container is gone")
        if instance == "bug":
            raise KeyError("surprise")
        from labctl.lab.results import CheckResult
        from labctl.service.report import LabReport, Report
        checks = [CheckResult(i, c.kind, f"check {i}", True) for i, c in enumerate(lab.checks)]
        return Report("check", [LabReport(lab.name, instance, lab.name, checks=checks)])

    def down(self, lab, instance):
        self.running.discard((lab, instance))
        return 2, 1


def make_world(state_dir, ops):
    """The app over `ops`, and tokens for two students and root: (app, ops, tokens)."""
    config = ServerConfig(socket=None, state_dir=state_dir, instructors="no-such-group-here")
    app = create_app(config, ops=ops)
    tokens = TokenStore(config.tokens_file)
    return app, ops, {u: tokens.add(u) for u in ("zoeq", "ben", "root")}


@pytest.fixture
def world(tmp_path):
    return make_world(tmp_path, FakeOps())


def _web(app, token):
    client = TestClient(app, base_url="http://testserver")
    page = client.post("/web/login", data={"token": token}, follow_redirects=False)
    assert page.status_code == 303, page.text
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    return client


def test_class_api_is_for_instructors_only(world):
    app, ops, tokens = world
    client = TestClient(app)
    for method, path in (("GET", "/v1/class/status"), ("POST", f"/v1/class/{LAB}/check")):
        refused = client.request(method, path,
                                 headers={"authorization": f"Bearer {tokens['zoeq']}"})
        assert refused.status_code == 403 and "not an instructor" in refused.json()["detail"]
    ops.running = {(LAB, "zoeq")}
    grid = client.post(f"/v1/class/{LAB}/check", json={"students": ["zoeq", "ben"]},
                       headers={"authorization": f"Bearer {tokens['root']}"})
    assert grid.status_code == 200, grid.text
    rows = {r["student"]: r for r in grid.json()["rows"]}
    assert rows["zoeq"]["complete"] and rows["ben"]["state"] == "no lab"


def test_a_broken_lab_is_a_row_not_a_crash(world):
    app, ops, tokens = world
    ops.running = {(LAB, "zoeq"), (LAB, "broke"), (LAB, "bug"), (LAB, "stranger")}
    app.state.server.audit.roster.add_members(["broke", "bug"])
    grid = TestClient(app).post(f"/v1/class/{LAB}/check", json={"students": None},
                                headers={"authorization": f"Bearer {tokens['root']}"})
    assert grid.status_code == 200, grid.text
    rows = {r["student"]: r for r in grid.json()["rows"]}
    assert rows["broke"]["state"] == "error"
    assert rows["broke"]["note"] == "docker: the server container is gone"
    assert rows["bug"]["state"] == "error" and "KeyError" in rows["bug"]["note"]
    assert rows["zoeq"]["score"] == "10/10" and rows["ben"]["state"] == "no lab"
    assert "root" not in rows  # instructors are not graded
    assert "stranger" not in rows  # a lab on the engine whose owner is not of the class


def test_pages_need_a_login_and_the_cookie_never_authorises_the_api(world):
    app, _, tokens = world
    anonymous = TestClient(app)
    assert anonymous.get("/web/labs", follow_redirects=False).headers["location"] == \
        "/web/login"
    zoe = _web(app, tokens["zoeq"])
    assert zoe.get("/v1/whoami").status_code == 401  # bearer only on the API


def test_a_student_sees_only_their_own_page(world):
    app, ops, tokens = world
    ops.running = {(LAB, "zoeq")}
    ben = _web(app, tokens["ben"])
    mine = ben.get("/web/labs")
    assert mine.status_code == 200 and "zoeq" not in mine.text
    for path in ("/web/labs?instance=zoeq", f"/web/labs/{LAB}/trace?instance=zoeq",
                 f"/web/labs/{LAB}/pcaps/server?instance=zoeq", "/web/class",
                 f"/web/class/{LAB}/grades.csv", f"/web/class/{LAB}/events"):
        refused = ben.get(path)
        assert refused.status_code == 403, path
        assert "text/html" in refused.headers["content-type"]
    audit = [json.loads(line) for line in
             (app.state.server.config.audit_file).read_text().splitlines()]
    refusals = [a for a in audit if a["result"].startswith("refused 403")]
    assert len(refusals) == 6 and all(a["user"] == "ben" for a in refusals)
    assert refusals[0]["instance"] == "zoeq"


def test_buttons_need_the_csrf_token_and_this_origin(world):
    app, ops, tokens = world
    ops.running = {(LAB, "zoeq")}
    zoe = _web(app, tokens["zoeq"])
    assert zoe.post(f"/web/labs/{LAB}/down", data={}).status_code == 403
    csrf = session.csrf_token("zoeq")
    foreign = zoe.post(f"/web/labs/{LAB}/down", data={"csrf": csrf},
                       headers={"origin": "http://evil.example"})
    assert foreign.status_code == 403 and ops.running
    done = zoe.post(f"/web/labs/{LAB}/down", data={"csrf": csrf},
                    headers={"origin": "http://testserver"}, follow_redirects=False)
    assert done.status_code == 303 and not ops.running


def test_a_revoked_token_ends_the_web_session(world, tmp_path):
    app, _, tokens = world
    zoe = _web(app, tokens["zoeq"])
    TokenStore(tmp_path / "tokens.json").revoke("zoeq")
    page = zoe.get("/web/labs", follow_redirects=False)
    assert page.headers["location"] == "/web/login?expired=1"


def test_an_api_check_reaches_the_board(world):
    app, ops, tokens = world
    ops.running = {(LAB, "zoeq")}
    client = TestClient(app)
    before = app.state.board.version
    reply = client.post(f"/v1/labs/{LAB}/check",
                        headers={"authorization": f"Bearer {tokens['zoeq']}"})
    assert reply.status_code == 200
    assert app.state.board.version > before
    assert app.state.board.results[(LAB, "zoeq")]["checks"][0]["passed"]
    csv = _web(app, tokens["root"]).get(f"/web/class/{LAB}/grades.csv").text
    rows = {line.split(",")[0]: line for line in csv.splitlines()[1:]}
    assert rows["zoeq"].startswith("zoeq,zoeq,handshake-lab,checked,10,10,10/10,")
    moodle = _web(app, tokens["root"]).get(f"/web/class/{LAB}/grades.csv?for=moodle").text
    assert moodle.splitlines()[:2] == ["\ufeffUsername,handshake-lab,Feedback",
                                       "ben,0,handshake-lab is not running"]
    assert rows["ben"].startswith("ben,ben,handshake-lab,no lab,0,10,")


def test_board_wakes_waiters():
    async def scenario():
        board = class_state.Board()
        waiter = asyncio.create_task(board.wait(board.version, 5))
        await asyncio.sleep(0.01)
        board.record(LAB, "zoeq", {"checks": []})
        return await asyncio.wait_for(waiter, 1), await board.wait(1, 0.01)
    assert asyncio.run(scenario()) == (1, 1)


def test_activity_and_roster(tmp_path):
    log = tmp_path / "audit.jsonl"
    lines = [{"time": "t1", "user": "zoeq", "action": "up", "lab": LAB, "instance": "zoeq",
              "result": "ok"},
             {"time": "t2", "user": "zoeq", "action": "exec", "lab": LAB, "instance": "zoeq",
              "result": "ok: exit 0"}]
    log.write_text("cut line\n" + "".join(json.dumps(x) + "\n" for x in lines))
    found = class_state.read_activity(log)
    assert found.last == {"zoeq": "t2"} and found.ups == {(LAB, "zoeq"): "t1"}
    roster = class_state.students({"zoeq", "John Doe"}, {"zoeq-2", "zed"}, "no-such-group")
    assert roster == {"zoeq": "zoeq", "John Doe": instances.base_instance("John Doe"), "zed": "zed"}


def test_plain_http_only_on_loopback(tmp_path):
    from labctl.classroom.server.transport import check_tls
    from labctl.errors import InvalidInput
    check_tls(None, None, "127.0.0.1")
    with pytest.raises(InvalidInput, match="--listen needs --tls-cert"):
        check_tls(None, None, "0.0.0.0")
