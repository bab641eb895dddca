"""Issue 18, item 9: the web pages' sessions and connections.

- Logging out did not end the session: the cookie was the API token itself, so a
  copy of it (or Back) still worked. Sessions are now the server's (a random id that
  ends at logout, on expiry and when the token is revoked).
- Pages sent no Cache-Control: Back after logout showed the student's page.
- 200 connections that never finished their headers stayed open for ever.
- /web/labs?error=... put the URL's words into the page's red alert box.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import socket

import httpx
import pytest

from labctl.classroom.server import transport
from tests.conftest import SESSION_PREFIX
from tests.integration import server_harness

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(os.geteuid() != 0, reason="creates Unix users: needs root")]

HALF_OPEN = 200


@pytest.fixture(scope="module")
def server(node_image):
    with server_harness.web_server(f"{SESSION_PREFIX}h9t") as srv:
        yield srv


@pytest.fixture
def student(server, request):
    name = server.add_user(f"{SESSION_PREFIX}h9{len(server.users)}")
    return name, server.token(name)


def _browser(server) -> httpx.Client:
    return httpx.Client(base_url=server.url, follow_redirects=False, timeout=60,
                        headers={"origin": server.url})


def _login(web: httpx.Client, token: str) -> str:
    reply = web.post("/web/login", data={"token": token})
    assert reply.status_code == 303, reply.text
    return web.cookies["labctl_session"]


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_logout_ends_the_session_and_the_cookie_is_not_the_token(server, student):
    _, token = student
    with _browser(server) as web:
        cookie = _login(web, token)
        assert token not in cookie
        page = web.get("/web/labs")
        assert page.status_code == 200
        assert web.post("/web/logout", data={"csrf": _csrf(page.text)}).status_code == 303
    # The cookie as it was (a copy, or a browser that kept it): the session is over.
    with _browser(server) as later:
        later.cookies.set("labctl_session", cookie, domain="127.0.0.1", path="/web")
        again = later.get("/web/labs")
        assert again.status_code == 303
        assert again.headers["location"] == "/web/login?expired=1"
        # and the token in the cookie (the old scheme) opens nothing either
        later.cookies.set("labctl_session", token, domain="127.0.0.1", path="/web")
        assert later.get("/web/labs").status_code == 303


def test_revoking_the_token_ends_its_sessions(server, student):
    user, token = student
    with _browser(server) as web:
        _login(web, token)
        assert web.get("/web/labs").status_code == 200
        done = server.labctl("token", "revoke", user, "--state-dir", str(server.state))
        assert done.returncode == 0, done.stderr
        assert web.get("/web/labs").status_code == 303


def test_pages_are_never_cached(server, student):
    _, token = student
    with _browser(server) as web:
        assert "no-store" in web.get("/web/login").headers.get("cache-control", "")
        _login(web, token)
        for path in ("/web/", "/web/labs", "/web/labs?instance=someone-else"):
            reply = web.get(path)
            assert "no-store" in reply.headers.get("cache-control", ""), (path, reply.headers)


def test_the_alert_box_never_shows_the_urls_words(server, student):
    _, token = student
    words = "Your instructor says: ALL CHECKS PASSED, grade A"
    with _browser(server) as web:
        _login(web, token)
        for code in (words, "up", "<b>bold</b>"):
            page = web.get("/web/labs", params={"error": code})
            assert page.status_code == 200
            assert "ALL CHECKS PASSED" not in page.text and "bold" not in page.text
        # a code the server knows shows the server's own text
        assert "The lab could not be brought up." in web.get(
            "/web/labs", params={"error": "up"}).text


def _half_open(connect) -> list[socket.socket]:
    opened = []
    for _ in range(HALF_OPEN):
        sock = connect()
        sock.sendall(b"GET /web/login HTTP/1.1\r\nHost: x\r\n")  # and never the end
        opened.append(sock)
    return opened


def _all_closed_by_the_server(opened: list[socket.socket]) -> bool:
    """Each socket reads its end (b"" or a reset) within a minute: no timing asserted,
    only that the server closes them at all."""
    waiting = set(opened)
    while waiting:
        ready, _, _ = select.select(list(waiting), [], [], 60)
        if not ready:
            return False
        for sock in ready:
            with contextlib.suppress(OSError):
                if sock.recv(4096):
                    continue
            waiting.discard(sock)
    return True


def test_half_open_connections_are_closed(server):
    def tcp():
        return socket.create_connection(("127.0.0.1", server.port))

    def unix():
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(server.socket))
        return sock

    for connect in (tcp, unix):
        opened = _half_open(connect)
        try:
            assert _all_closed_by_the_server(opened)
        finally:
            for sock in opened:
                sock.close()
    # the server still answers
    with _browser(server) as web:
        assert web.get("/web/login").status_code == 200


def test_a_slow_second_request_is_closed_too(server):
    sock = socket.create_connection(("127.0.0.1", server.port))
    try:
        sock.sendall(b"GET /web/login HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while b"</html>" not in first.lower():
            first += sock.recv(65536)
        sock.sendall(b"GET /web/login HTTP/1.1\r\n")  # keep-alive, then stall
        assert _all_closed_by_the_server([sock])
    finally:
        sock.close()


def test_connections_are_limited():
    from labctl.classroom.server.config import ServerConfig
    config = transport._config(object(), ServerConfig(max_connections=50, header_seconds=3))
    assert config.limit_concurrency == 50
    assert config.http.header_timeout == 3
    assert config.timeout_keep_alive == transport.KEEP_ALIVE


def test_a_refused_page_is_audited_with_its_lab(server, student):
    user, token = student
    with _browser(server) as web:
        _login(web, token)
        refused = web.get("/web/labs/handshake-lab/trace", params={"instance": "someone"})
        assert refused.status_code == 403
    entries = [e for e in server.audit() if e["user"] == user and "trace" in e["action"]]
    assert entries and entries[-1]["lab"] == "handshake-lab"
