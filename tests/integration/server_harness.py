"""A real classroom server for tests: its own socket, state, TLS certificate and Unix users.

Everything is named after the test session (SESSION_PREFIX), so several runs can share
the host, and everything is removed afterwards: users (with their homes), the server
process, its socket and state.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from labctl.classroom.client.api import Client, ServerError
from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that the test trusts as its own CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "labctl test server")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


@dataclass
class Server:
    root: Path
    socket: Path
    state: Path
    cert: Path
    port: int
    proc: subprocess.Popen
    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def local(self) -> Client:
        return Client(f"unix://{self.socket}")

    def remote(self, token: str | None) -> Client:
        return Client(self.https, token=token, verify=str(self.cert))

    def labctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "labctl.cli", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)

    def token(self, user: str) -> str:
        done = self.labctl("token", "add", user, "--state-dir", str(self.state))
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def audit(self) -> list[dict]:
        lines = (self.state / "audit.jsonl").read_text().split("\n")
        return [json.loads(line) for line in lines if line]

    def add_user(self, name: str, *groups: str) -> str:
        extra = ["--groups", ",".join(groups)] if groups else []
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", *extra, name],
                       check=True, capture_output=True)
        self.users.append(name)
        return name

    def as_user(self, user: str, work):
        """Run work(client) in a child process with the user's uid, gid and groups.

        The client is made here, before the fork (the interpreter's files are not the
        user's to read); it connects in the child, so the kernel sees the user.
        """
        entry = pwd.getpwnam(user)
        client = self.local()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os.close(read)
            try:
                os.setgroups(os.getgrouplist(user, entry.pw_gid))
                os.setgid(entry.pw_gid)
                os.setuid(entry.pw_uid)
                outcome = {"value": work(client)}
            except ServerError as exc:
                outcome = {"status": exc.status, "message": str(exc)}
            except BaseException:  # noqa: BLE001 - reported to the parent
                outcome = {"crash": traceback.format_exc()}
            data = json.dumps(outcome).encode()
            while data:
                data = data[os.write(write, data):]
            os._exit(0)
        os.close(write)
        chunks = []
        while chunk := os.read(read, 65536):
            chunks.append(chunk)
        os.close(read)
        os.waitpid(pid, 0)
        client.close()
        outcome = json.loads(b"".join(chunks))
        assert "crash" not in outcome, outcome["crash"]
        return outcome

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for user in self.users:
            remove_user(user)
        for group in self.groups:
            subprocess.run(["groupdel", group], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def start(*extra: str, instructors: str | None = None, tls: bool = True,
          state: Path | None = None) -> Server:
    """The server, with instructors (a Unix group this function makes and stop() removes).

    Without tls, the listener on 127.0.0.1 speaks plain HTTP (what a browser test needs)."""
    if instructors is not None:
        subprocess.run(["groupadd", instructors], check=True, capture_output=True)
        extra = (*extra, "--instructors", instructors)
    root = Path(tempfile.mkdtemp(prefix="labctl-server-test-"))
    root.chmod(0o755)  # test users reach the socket inside it
    cert, key = self_signed(root)
    port = free_port()
    sock, state = root / "labctl.sock", state or root / "state"
    with open(root / "server.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "labctl.cli", "serve", "--socket", str(sock),
             "--state-dir", str(state), "--listen", f"127.0.0.1:{port}",
             *(["--tls-cert", str(cert), "--tls-key", str(key)] if tls else []), *extra],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    server = Server(root, sock, state, cert, port, proc,
                    groups=[instructors] if instructors else [])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = (root / "server.log").read_text()
            server.stop()
            raise RuntimeError(f"labctl serve exited: {log}")
        try:
            with server.local() as client:
                client.whoami()
            return server
        except ServerError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError("labctl serve did not answer within 30 s")


def nodes_of(report: dict) -> list[dict]:
    """The nodes of a status report (docs/json.md)."""
    return [node for lab in report["labs"] for node in lab["nodes"]]


@contextlib.contextmanager
def web_server(instructors: str):
    """A server with plain HTTP on loopback (what a browser needs), for a test module;
    afterwards every lab of this test session is removed (root on the socket is an
    instructor), then the server stopped."""
    from tests.conftest import SESSION_PREFIX
    srv = start(instructors=instructors, tls=False)
    srv.url = f"http://127.0.0.1:{srv.port}"
    try:
        yield srv
    finally:
        with srv.local() as root:
            for lab, instance in {(n["lab"], n["instance"]) for n in nodes_of(root.status())}:
                if instance.startswith(SESSION_PREFIX):
                    root.down(lab, instance)
        srv.stop()


def class_of(server: Server, prefix: str, instructors: str) -> dict[str, tuple[str, str]]:
    """Two students and an instructor (a Unix user in the instructors' group), with tokens:
    role -> (user, token)."""
    teacher = server.add_user(f"{prefix}t", instructors)
    names = {"ann": f"{prefix}a", "ben": f"{prefix}b", "teacher": teacher}
    return {role: (user, server.token(user)) for role, user in names.items()}


# The interpreter lives where test users may not read (/root): everything the CLI
# may import is imported here, before the fork; the child then only runs it.
CLI_PACKAGES = ["labctl", "click", "rich", "httpx", "httpcore", "h11", "anyio",
                "websockets", "pexpect", "ptyprocess", "idna", "certifi", "sniffio", "dpkt",
                "yaml", "pydantic", "pydantic_core", "annotated_types",
                "encodings", "json", "email", "http", "urllib", "concurrent", "asyncio",
                "ssl", "select", "selectors", "pty", "tty", "termios", "base64", "uuid"]
_SKIPPED = (".__main__", "labctl.node.", "labctl.classroom.server.app", "websockets.legacy",
            "pydantic.v1", "rich.jupyter", "anyio._backends._trio", "httpx._transports.wsgi")


def _import_cli() -> None:
    import importlib
    import pkgutil
    import warnings
    for name in CLI_PACKAGES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                package = importlib.import_module(name)
            except ImportError:
                continue
            for info in pkgutil.walk_packages(getattr(package, "__path__", []), name + "."):
                if any(skip in info.name + "." for skip in _SKIPPED):
                    continue
                with contextlib.suppress(Exception):
                    importlib.import_module(info.name)


def _become(user: str, env: dict | None) -> None:
    entry = pwd.getpwnam(user)
    os.setgroups(os.getgrouplist(user, entry.pw_gid))
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    os.chdir(entry.pw_dir)
    os.environ.clear()
    os.environ.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": entry.pw_dir,
                       "USER": user, "TERM": "xterm", **(env or {})})


def _own_stdio() -> None:
    """The child's streams are its fds 0-2, not pytest's captures."""
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115


def remove_user(user: str) -> None:
    """userdel refuses a user with a running process (a shell a failed test left open):
    end them first, and say so if the user still cannot go."""
    for _ in range(25):
        subprocess.run(["pkill", "-KILL", "-u", user], capture_output=True)
        done = subprocess.run(["userdel", "--remove", user], capture_output=True, text=True)
        if done.returncode in (0, 6):  # 6: no such user
            return
        time.sleep(0.2)
    raise RuntimeError(f"test user {user} could not be removed: {done.stderr.strip()}")


def pty_as(user: str, *args: str, env: dict | None = None):
    """The real CLI as `user` on a terminal: a pexpect handle on the pty's master side."""
    import pty

    from pexpect import fdpexpect
    _import_cli()
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 99
        try:
            _become(user, env)
            _own_stdio()
            sys.argv = ["labctl", *args]
            from labctl.cli.entry import main
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        except BaseException:  # noqa: BLE001 - shown on the terminal
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid, master, fdpexpect.fdspawn(master, timeout=60)


def cli_as(user: str, *args: str, env: dict | None = None, stdin: bytes = b"",
           timeout: float = 240, stdout: int | None = None) -> tuple[int, bytes, bytes]:
    """The real CLI (labctl.cli.main) run as `user`: a child with the user's uid, gid and
    groups and nothing else of the test's (it connects as the user, the kernel says so).
    Returns (exit code, stdout, stderr)."""
    _import_cli()
    pipes = [os.pipe() for _ in range(3)]
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 99
        try:
            _become(user, env)
            for fd, (read, write) in enumerate(pipes):
                os.dup2(read if fd == 0 else write, fd)
            if stdout is not None:  # straight into another process (tshark)
                os.dup2(stdout, 1)
            for pair in pipes:
                for fd in pair:
                    os.close(fd)
            _own_stdio()
            sys.argv = ["labctl", *args]
            from labctl.cli.entry import main
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        except BaseException:  # noqa: BLE001 - reported on stderr
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    stdin_read, stdin_write = pipes[0]
    os.close(stdin_read)
    os.write(stdin_write, stdin)
    os.close(stdin_write)
    for _read, write in pipes[1:]:
        os.close(write)
    import selectors
    chunks = {pipes[1][0]: [], pipes[2][0]: []}
    sel = selectors.DefaultSelector()
    for fd in chunks:
        sel.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while sel.get_map() and time.monotonic() < deadline:
        for key, _ in sel.select(1):
            data = os.read(key.fd, 65536)
            if data:
                chunks[key.fd].append(data)
            else:
                sel.unregister(key.fd)
                os.close(key.fd)
    if sel.get_map():
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    outs = [b"".join(chunks[pipes[1][0]]), b"".join(chunks[pipes[2][0]])]
    return os.waitstatus_to_exitcode(status), outs[0], outs[1]
