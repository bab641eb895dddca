"""Web logins: server-side sessions. Logging in with the CLI's token starts a session
(a random id, in an HttpOnly, SameSite=Strict cookie, Secure over HTTPS); the token
itself never goes back to the browser. A session ends at logout, after
SESSION_SECONDS, when the server restarts, and as soon as its token is revoked. A
middleware turns the session into the Authorization header the one authorisation
dependency (server/access.py) reads, for /web pages only: the /v1 API stays
bearer-only, so a browser's cookie never authorises an API call. Every page is sent
`Cache-Control: no-store` (Back after logout shows no student's page). It also feeds
the live grid: every check, up and down that goes through the API is announced."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labctl.classroom.server.access import PEER_KEY
from labctl.classroom.server.identity import user_name
from labctl.classroom.web.words import for_the_page

COOKIE = "labctl_session"
PUBLIC = ("/web/login", "/web/static/")
_SECRET = secrets.token_bytes(32)  # CSRF tokens last as long as the server process
SESSION_SECONDS = 8 * 3600
SESSIONS_PER_USER = 20  # beyond: the oldest of that user's sessions ends
NO_STORE = (b"cache-control", b"no-store")
_API_CHECK = re.compile(r"^/v1/labs/([^/]+)/check$")
_API_LIFECYCLE = re.compile(r"^/v1/labs/([^/]+)/(up|down)$")


def csrf_token(user: str) -> str:
    """The form token a page carries for its POST buttons (bound to the user)."""
    return hmac.new(_SECRET, user.encode(), hashlib.sha256).hexdigest()[:32]


def csrf_ok(user: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(csrf_token(user), given)


def same_origin(headers: dict[str, str], scheme: str) -> bool:
    """A POST's Origin (when the browser sends one) names this very server."""
    origin = headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-site form (those always carry Origin)
    parts = urlsplit(origin)
    return parts.scheme == scheme and parts.netloc == headers.get("host")


@dataclass
class WebSession:
    user: str
    token: str  # what the session acts with (checked, so revoking it ends the session)
    expires: float  # time.monotonic()


class Sessions:
    """The server's web sessions, in memory: id -> WebSession; and one message per user
    that the next page shows (the outcome of a button)."""

    def __init__(self, seconds: float = SESSION_SECONDS):
        self.seconds = seconds
        self._by_id: dict[str, WebSession] = {}
        self._said: dict[str, str] = {}
        self._lock = threading.Lock()

    def start(self, user: str, token: str) -> str:
        sid = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            for old in [k for k, v in self._by_id.items() if v.expires <= now]:
                del self._by_id[old]
            mine = [k for k, v in self._by_id.items() if v.user == user]
            for old in mine[:max(0, len(mine) - SESSIONS_PER_USER + 1)]:
                del self._by_id[old]  # dicts keep insertion order: the oldest first
            self._by_id[sid] = WebSession(user, token, now + self.seconds)
        return sid

    def get(self, sid: str | None) -> WebSession | None:
        if not sid:
            return None
        with self._lock:
            found = self._by_id.get(sid)
            if found is not None and found.expires <= time.monotonic():
                del self._by_id[sid]
                return None
            return found

    def end(self, sid: str | None) -> None:
        with self._lock:
            self._by_id.pop(sid or "", None)

    def say(self, user: str, message: str) -> None:
        with self._lock:
            self._said[user] = message[:2000]

    def said(self, user: str) -> str | None:
        with self._lock:
            return self._said.pop(user, None)


def cookie_header(token: str, secure: bool, max_age: int | None = SESSION_SECONDS) -> str:
    value = f"{COOKIE}={token}; Path=/web; HttpOnly; SameSite=Strict"
    if max_age is not None:
        value += f"; Max-Age={max_age}"
    return value + ("; Secure" if secure else "")


def _redirect(location: str, clear: bool = False) -> list[Message]:
    headers = [(b"location", location.encode()), (b"content-length", b"0"), NO_STORE]
    if clear:
        headers.append((b"set-cookie", f"{COOKIE}=; Path=/web; Max-Age=0".encode()))
    return [{"type": "http.response.start", "status": 303, "headers": headers},
            {"type": "http.response.body", "body": b""}]


class CookieLogin:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"].startswith("/web/"):
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith("/web/static/"):
            await self.app(scope, receive, send)  # public, and cached (assets.py)
            return
        if path.startswith("/v1/"):
            await self._observe(scope, receive, send)
            return
        if path in ("/", "/web"):
            for message in _redirect("/web/"):
                await send(message)
            return
        token = None
        if path.startswith("/web/") and not path.startswith(PUBLIC) \
                and scope.get(PEER_KEY) is None:
            sessions: Sessions = scope["app"].state.web_sessions
            sid = _cookie(dict(scope["headers"]).get(b"cookie", b"").decode("latin-1"))
            found = sessions.get(sid)
            if found is not None and scope["app"].state.server.tokens.user_for(
                    found.token) is None:
                sessions.end(sid)  # its token was revoked: so is the session
                found = None
            if found is None:
                # no login, an ended session or a revoked token: to the login page
                where = "/web/login?expired=1" if sid else "/web/login"
                for message in _redirect(where, clear=bool(sid)):
                    await send(message)
                return
            token = found.token
            scope = dict(scope)
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"authorization"]
            scope["headers"].append((b"authorization", f"Bearer {token}".encode()))
        if path.startswith("/web/"):
            await self.app(scope, receive, _html_errors(_no_store(send),
                                                        self._auditor(scope, token)))
            return
        await self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A page's WebSocket (a terminal): the session cookie is the login, and only a
        page of this very server may open it (the Origin a browser always sends). Refused
        before the handshake: the browser sees the connection fail, nothing else."""
        headers = dict(scope["headers"])
        origin = headers.get(b"origin", b"").decode("latin-1")
        scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
        sessions: Sessions = scope["app"].state.web_sessions
        found = sessions.get(_cookie(headers.get(b"cookie", b"").decode("latin-1")))
        if found is not None and scope["app"].state.server.tokens.user_for(
                found.token) is None:
            found = None
        if not origin or not same_origin({"origin": origin, "host": headers.get(
                b"host", b"").decode("latin-1")}, scheme) or found is None:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 4403})
            return
        scope = dict(scope)
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"authorization"]
        scope["headers"].append((b"authorization", f"Bearer {found.token}".encode()))
        await self.app(scope, receive, send)

    @staticmethod
    def _auditor(scope: Scope, token: str | None):
        """Refusals of pages go to the audit log, as the API's do."""
        server = scope["app"].state.server

        def record(status: int, detail: str) -> None:
            if status not in (401, 403):
                return
            peer = scope.get(PEER_KEY)
            user = server.tokens.user_for(token) if token else None
            if user is None and peer is not None:
                user = user_name(peer.uid)
            query = dict(_query(scope))
            server.audit.record(user=user, action=f"web {scope['method']} {scope['path']}",
                                lab=_lab_of(scope["path"]) or query.get("lab"),
                                instance=query.get("instance"),
                                result=f"refused {status}: {detail}")
        return record

    async def _observe(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Announce API checks, ups and downs to the live grid."""
        check = _API_CHECK.match(scope["path"])
        lifecycle = _API_LIFECYCLE.match(scope["path"])
        if scope["method"] != "POST" or not (check or lifecycle):
            await self.app(scope, receive, send)
            return
        status, body = [0], bytearray()

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            elif message["type"] == "http.response.body" and status[0] == 200:
                body.extend(message.get("body", b"")[:4_000_000])
            await send(message)

        await self.app(scope, receive, watch)
        if status[0] != 200:
            return
        board = scope["app"].state.board
        try:
            reply = json.loads(bytes(body))
        except ValueError:
            board.touch()
            return
        # a check's results stand until the next check, up or down of that lab instance
        entry = reply["labs"][0] if reply.get("labs") else reply  # a report, or down's reply
        board.record(entry["lab"], entry["instance"],
                     {"checks": entry.get("checks", [])} if check else None)


_WEB_LAB = re.compile(r"^/web/(?:labs|class)/([^/]+)(?:/|$)")


def _lab_of(path: str) -> str | None:
    """The lab a page or button is about (/web/labs/LAB/..., /web/class/LAB/...)."""
    found = _WEB_LAB.match(path)
    return found.group(1) if found else None


def _no_store(send: Send) -> Send:
    """Pages are never cached: after logout, Back shows no student's page."""
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [h for h in message.get("headers", []) if h[0].lower() != NO_STORE[0]]
            message = {**message, "headers": [*headers, NO_STORE]}
        await send(message)
    return wrapped


def _html_errors(send: Send, record) -> Send:
    """A refusal on a page reads as a page (the API's JSON message, in words)."""
    held: dict = {}

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] >= 400 and dict(
                message.get("headers", [])).get(b"content-type", b"").startswith(
                b"application/json"):
            held["start"], held["body"] = message, bytearray()
            return
        if "start" not in held:
            await send(message)
            return
        held["body"].extend(message.get("body", b""))
        if message.get("more_body"):
            return
        try:
            detail = json.loads(bytes(held["body"])).get("detail", "")
        except (ValueError, AttributeError):
            detail = bytes(held["body"]).decode("utf-8", "replace")
        status = held["start"]["status"]
        record(status, str(detail))
        page = ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                "<meta name='viewport' content='width=device-width, initial-scale=1'>"
                "<title>Refused</title><style>body{font:18px/1.45 system-ui,sans-serif;"
                "margin:0}main{padding:1em 1.5em}.error{background:#fadcd9;"
                "border-left:6px solid #9c1f17;padding:.5em 1em}</style></head><body><main>"
                "<h1>Not possible</h1><p class='error' role='alert'>"
                f"{html.escape(for_the_page(str(detail)))}</p>"
                f"<p><a href='/web/'>Back to your page</a></p><p><small>HTTP {status}"
                "</small></p></main></body></html>").encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                (b"content-length", str(len(page)).encode())]})
        await send({"type": "http.response.body", "body": page})

    return wrapped


def _query(scope: Scope) -> list[tuple[str, str]]:
    return parse_qsl(scope.get("query_string", b"").decode("latin-1"))


def _cookie(header: str) -> str | None:
    jar = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # noqa: BLE001 - a malformed cookie header is no login
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel and morsel.value else None
