"""Listening: the Unix socket (the kernel tells who connects) and, optionally, HTTPS.

uvicorn serves both, in one event loop. A small subclass of its HTTP protocol reads
SO_PEERCRED once per connection and puts it into every request's ASGI scope; nothing
the client sends can set or change it. Over TCP the scope carries no peer at all, so
only a token identifies the caller there.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import signal
import socket
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from labctl.classroom.server.access import PEER_KEY
from labctl.classroom.server.config import LOOPBACK, ServerConfig
from labctl.classroom.server.identity import peer_credentials
from labctl.errors import InvalidInput

log = logging.getLogger("labctl.classroom.server")
WORKER_THREADS = 64
KEEP_ALIVE = 5.0  # seconds an idle connection stays open between requests

# After SIGTERM (or Ctrl-C) the server is gone within this many seconds, whatever it
# was doing: connections get uvicorn's graceful 5 s, `up`s under way the rest (one cut
# short is removed by the next start, from the journal), engine calls none.
SHUTDOWN_SECONDS = 9.0
# The server's scheduling priority (nice), taken when it may (as root): on a host whose
# cores the labs keep busy (a student's execs, a node's loop), it answers first. Its own
# work is small and bounded (limits.py); the labs' runs in Docker, at theirs.
PRIORITY = -10


class _Workers(ThreadPoolExecutor):
    """The loop's threads for engine calls. Nobody waits for them at shutdown: each call
    ends by its own deadline (labctl.runtime), or with the process."""

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=True)


def _tag_with_peer(protocol, transport) -> None:
    """Wrap the protocol's app so every request on this connection carries the peer's
    credentials, read once from the kernel (never from anything the client sends)."""
    peer = peer_credentials(transport.get_extra_info("socket"))
    if peer is not None:
        app = protocol.app

        async def with_peer(scope, receive, send):
            scope[PEER_KEY] = peer
            await app(scope, receive, send)

        protocol.app = with_peer


class PeerCredentialsProtocol(H11Protocol):
    """Also a deadline on request headers: uvicorn has none, so a connection that never
    finishes its headers (a half-open or a slow one) would stay open for ever. From the
    connection and after each response, the next request's headers must be in within
    `header_timeout` seconds (`labctl serve --header-seconds`), or the connection is
    closed."""

    header_timeout = ServerConfig.header_seconds
    _headers_due: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _tag_with_peer(self, transport)
        self._await_headers()

    def _await_headers(self) -> None:
        self._stop_waiting()
        self._headers_due = self.loop.call_later(self.header_timeout, self._headers_late)

    def _stop_waiting(self) -> None:
        if self._headers_due is not None:
            self._headers_due.cancel()
            self._headers_due = None

    def _headers_late(self) -> None:
        self._headers_due = None
        if not self.transport.is_closing():
            self.transport.close()

    def handle_events(self) -> None:
        before = self.scope
        super().handle_events()
        if self.scope is not before:  # a request's headers came (an upgrade's too)
            self._stop_waiting()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_headers()

    def connection_lost(self, exc) -> None:
        self._stop_waiting()
        super().connection_lost(exc)


class PeerCredentialsWebSocket(WebSocketsSansIOProtocol):
    """The same for a connection upgraded to a WebSocket (`labctl shell`): uvicorn hands
    the socket to a new protocol, which reads the peer again, from the kernel."""

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _tag_with_peer(self, transport)


class _Listener(uvicorn.Server):
    """One of several servers in one loop: signals are handled once, by serve()."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


def unix_socket(path: Path, group: str | None) -> socket.socket:
    """Bind the socket: 0666, or 0660 owned by group; refuse to steal a live one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    if path.exists() or path.is_symlink():
        if not path.is_socket():
            raise InvalidInput(f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # left by a server that is gone
        else:
            raise InvalidInput(f"{path}: another server is listening there")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    if group is None:
        os.chmod(path, 0o666)
    else:
        os.chown(path, -1, grp.getgrnam(group).gr_gid)
        os.chmod(path, 0o660)
    sock.listen(128)
    sock.setblocking(False)
    return sock




def check_tls(cert: Path | None, key: Path | None, host: str | None = None) -> None:
    """HTTPS needs a certificate; plain HTTP only on loopback (a local proxy, tests)."""
    if cert is None and key is None and host in LOOPBACK:
        return
    if cert is None or key is None:
        raise InvalidInput("--listen needs --tls-cert and --tls-key (HTTPS only: tokens "
                           "never cross the network in clear)")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(f"--tls-cert {cert} / --tls-key {key}: {exc}") from None


def check_group(group: str | None) -> None:
    if group is not None:
        try:
            grp.getgrnam(group)
        except KeyError:
            raise InvalidInput(f"--socket-group: no Unix group '{group}'") from None


def _config(app, config: ServerConfig, **kwargs) -> uvicorn.Config:
    http = type("Protocol", (PeerCredentialsProtocol,),
                {"header_timeout": config.header_seconds})
    return uvicorn.Config(app, http=http,
                          ws=PeerCredentialsWebSocket, ws_ping_interval=None, lifespan="off",
                          proxy_headers=False, access_log=False, log_level="info",
                          timeout_graceful_shutdown=5, timeout_keep_alive=KEEP_ALIVE,
                          limit_concurrency=config.max_connections, **kwargs)


async def _serve(app, config: ServerConfig) -> None:
    servers: list[tuple[_Listener, list | None]] = []
    if config.socket is not None:
        sock = unix_socket(config.socket, config.socket_group)
        servers.append((_Listener(_config(app, config)), [sock]))
        log.info("listening on unix:%s", config.socket)
    if config.listen is not None:
        host, port = config.listen
        tls = ({} if config.tls_cert is None else
               {"ssl_certfile": str(config.tls_cert), "ssl_keyfile": str(config.tls_key)})
        servers.append((_Listener(_config(app, config, host=host, port=port, **tls)), None))
        log.info("listening on %s://%s:%d", "https" if tls else "http", host, port)
    if not servers:
        raise InvalidInput("nothing to listen on: give --socket or --listen")

    loop = asyncio.get_running_loop()
    stopping: list[float] = []  # when the stop was asked

    def stop() -> None:
        for server, _ in servers:
            server.should_exit = True
        if not stopping:
            stopping.append(loop.time())
            # Whatever still runs then (a wedged engine call, a stuck connection) does
            # not keep the server: it is gone by the deadline.
            watchdog = threading.Timer(SHUTDOWN_SECONDS, _exit_now, args=(config,))
            watchdog.daemon = True
            watchdog.start()

    # Docker calls block a thread each; the default pool (cores + 4) would let a few
    # long `up`s starve every exec and check of a class.
    loop.set_default_executor(_Workers(max_workers=WORKER_THREADS,
                                       thread_name_prefix="labctl-serve"))
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    # A server killed during an `up` left a half-made lab: remove it before serving.
    state = app.state.server
    swept = await asyncio.to_thread(state.ups.sweep, state.ops.down)
    for lab, instance in swept:
        log.info("removed the half-made lab %s (instance %s)", lab, instance)
    try:
        await asyncio.gather(*(server.serve(sockets=socks) for server, socks in servers))
        left = SHUTDOWN_SECONDS - 0.5 - (loop.time() - (stopping or [loop.time()])[0])
        try:  # `up`s under way finish (no half-made lab), as long as the deadline allows
            await asyncio.wait_for(app.state.server.ups.drain(), max(left, 0.1))
        except TimeoutError:
            log.info("stopping with `up`s under way: the next start removes those labs")
    finally:
        state.audit.close()  # the roster's latest activity, saved
        _unlink(config)


def _unlink(config: ServerConfig) -> None:
    if config.socket is not None:
        with contextlib.suppress(FileNotFoundError):
            config.socket.unlink()


def _exit_now(config: ServerConfig) -> None:
    log.info("stopped (engine calls or connections still under way were left)")
    _unlink(config)
    logging.shutdown()
    os._exit(0)


def serve(app, config: ServerConfig) -> None:
    check_group(config.socket_group)
    if config.listen is not None:
        check_tls(config.tls_cert, config.tls_key, config.listen[0])
    with contextlib.suppress(OSError):  # before any thread starts: they all inherit it
        os.setpriority(os.PRIO_PROCESS, 0, PRIORITY)
    asyncio.run(_serve(app, config))
    busy = [t for t in threading.enumerate()
            if t is not threading.current_thread() and not t.daemon and t.is_alive()]
    if busy:  # engine calls under way, each bounded, but the server does not wait
        _exit_now(config)
