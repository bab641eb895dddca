"""`labctl serve`, `labctl login` and `labctl token ...`: the classroom server, and the
ways into it."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from labctl import console
from labctl import runtime as runtimes
from labctl.classroom.client.api import Client
from labctl.classroom.server import config as defaults
from labctl.classroom.server import systemd
from labctl.classroom.server.tokens import TokenStore
from labctl.cli import params
from labctl.cli.backends import credentials
from labctl.errors import InvalidInput
from labctl.service.lab_service import LabService

QUEUE_SECONDS = 10  # labctl.classroom.server.limits.QUEUE_SECONDS (not imported: anyio)
SERVER = defaults.ServerConfig  # the defaults of every limit

state_dir_option = click.option(
    "--state-dir", envvar="LABCTL_STATE_DIR", show_envvar=True, type=params.directory(),
    default=defaults.DEFAULT_STATE_DIR,
    help="Where the server keeps tokens, the audit log and students' own labs.")


def _limit(name: str, default: int | float, help: str, minimum: int = 1):  # noqa: A002
    kind = click.FloatRange if isinstance(default, float) else click.IntRange
    return click.option(name, type=kind(min=minimum), default=default, help=help)


@click.command()
@params.argument("url", "URL", "The class server: https://HOST:PORT (or unix:///PATH).")
@click.option("--token", envvar="LABCTL_TOKEN", show_envvar=True, default=None,
              help="Your token (default: asked for, not echoed).")
@click.option("--ca", type=params.file(exists=True), default=None,
              help="The server's certificate or CA, when it is not publicly signed.")
def login(url: str, token: str | None, ca: Path | None) -> None:
    """Store the server's URL and your token (mode 0600); later commands go there."""
    if not url.startswith(("https://", "unix://")):
        raise InvalidInput(f"server URL {url!r}: use https://HOST:PORT or unix:///PATH")
    if token is None and url.startswith("https://"):
        token = click.prompt("token", hide_input=True).strip()
    ca_path = str(ca.resolve()) if ca else None
    with Client(url, token=token, verify=ca_path or True) as client:
        me = client.whoami()  # a bad token or URL is refused here, not at the next command
    where = credentials.store(credentials.Credentials(url, token, ca_path))
    console.err.print(f"logged in to {url} as {me['user']} ({me['role']}); saved in {where}")


def _listen(value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(f"--listen {value}: give HOST:PORT, e.g. 0.0.0.0:8443")
    return host.strip("[]"), int(port)


@click.command()
@click.option("--socket", type=params.file(), default=defaults.DEFAULT_SOCKET,
              help="The Unix socket local users connect to.")
@click.option("--no-socket", is_flag=True, help="HTTPS only.")
@click.option("--socket-group", default=None,
              help="Only this group may connect (socket mode 0660); default: everyone (0666).")
@click.option("--listen", default=None,
              help="Also serve HTTPS on HOST:PORT (needs --tls-cert and --tls-key; without "
                   "them, plain HTTP on a loopback address only).")
@click.option("--tls-cert", type=params.file(), default=None)
@click.option("--tls-key", type=params.file(), default=None)
@click.option("--instructors", default=defaults.DEFAULT_INSTRUCTORS,
              help="Members of this Unix group (and root) may act on every lab.")
@click.option("--labs", type=params.directory(exists=True), multiple=True,
              help="A directory of labs to offer (repeatable); the bundled labs come too.")
@state_dir_option
@click.option("--no-user-labs", is_flag=True,
              help="Students may not send lab files of their own.")
@_limit("--labs-per-student", SERVER.labs_per_student,
        "Labs up at once per student (up, test --keep and the web's Up count).")
@_limit("--nodes-per-lab", SERVER.nodes_per_lab, "Largest lab a student may run or send, in "
        "nodes.")
@_limit("--max-networks", SERVER.max_networks,
        "Networks per lab a student may run (each takes a subnet of the pool; a student's "
        "fixed subnets must lie in the pool, a /24 or smaller each).")
@_limit("--max-requests", SERVER.max_requests,
        f"Requests of one student under way at once; more wait up to {QUEUE_SECONDS} s for "
        "one to end, then are refused.")
@_limit("--max-rate", SERVER.max_rate, "Requests a minute per student (as many may come at "
        "once).")
@_limit("--max-streams", SERVER.max_streams,
        "Shells, live captures and log follows one student has open at once.")
@_limit("--max-step-seconds", SERVER.max_step_seconds,
        "Seconds a student's test may spend in its steps, in all (and a step run from the "
        "web page).")
@_limit("--max-output", SERVER.output_limit,
        "Bytes of stdout (and of stderr) an exec returns; a command that prints more is "
        "stopped there.", minimum=1024)
@_limit("--concurrent-ups", SERVER.concurrent_ups, "`up`s run at once; the rest queue.")
@_limit("--max-connections", SERVER.max_connections,
        "Connections each listener keeps at once (everyone's); beyond, a request is "
        "answered 503 at once.", minimum=10)
@_limit("--header-seconds", SERVER.header_seconds,
        "Seconds a connection has to send a request's headers (a half-open or slow one is "
        "closed).")
@_limit("--audit-max-mb", SERVER.audit_max_mb,
        "MiB of audit log before it rotates (four old files are kept).")
@click.option("--runtime", envvar="LABCTL_RUNTIME", show_envvar=True, default="docker",
              type=click.Choice(["docker", "swarm"]),
              help="Where labs run: docker (this host's engine) or swarm (a Docker Swarm: "
                   "--swarm-manager, --swarm-certs; docs/classroom.md).")
@click.option("--swarm-manager", envvar="LABCTL_SWARM_MANAGER", show_envvar=True, default=None,
              help="The swarm manager's engine: tcp://HOST:2376 (mutual TLS; every host's "
                   "engine listens on the same port).")
@click.option("--swarm-certs", envvar="LABCTL_SWARM_CERTS", show_envvar=True,
              type=params.directory(), default=None,
              help="A directory with ca.pem, cert.pem and key.pem: labctl's client "
                   "certificate for the swarm's engines.")
@click.option("--swarm-placement", envvar="LABCTL_SWARM_PLACEMENT", show_envvar=True,
              default="lab", type=click.Choice(["lab", "spread"]),
              help="lab: a lab's nodes on one host (the one with the fewest lab nodes); "
                   "spread: each node on the host with the fewest.")
@click.option("--install-systemd", is_flag=True,
              help="Write /etc/systemd/system/labctl.service running `labctl serve` with "
                   "these options, then exit (enable it with systemctl).")
def serve(socket: Path, no_socket: bool, socket_group: str | None, listen: str | None,
          tls_cert: Path | None, tls_key: Path | None, instructors: str,
          labs: tuple[Path, ...], state_dir: Path, no_user_labs: bool, labs_per_student: int,
          nodes_per_lab: int, max_networks: int, max_requests: int, max_rate: int,
          max_streams: int, max_step_seconds: float, max_output: int, concurrent_ups: int,
          max_connections: int, header_seconds: float, audit_max_mb: int, runtime: str,
          swarm_manager: str | None, swarm_certs: Path | None, swarm_placement: str,
          install_systemd: bool) -> None:
    """Run the classroom server: students use labs without Docker access."""
    if install_systemd:
        path = systemd.install([a for a in sys.argv[1:] if a != "--install-systemd"])
        console.err.print(f"wrote {path}; now: systemctl daemon-reload && "
                          "systemctl enable --now labctl")
        return
    # The server's stack loads when a server starts, not for every `labctl --help`.
    from labctl.classroom import app as server_app  # noqa: PLC0415 - lazy: FastAPI, the pages
    from labctl.classroom.server import transport  # noqa: PLC0415 - lazy: uvicorn

    logging.basicConfig(level=logging.INFO, format="labctl serve: %(message)s")
    config = defaults.ServerConfig(
        socket=None if no_socket else socket, socket_group=socket_group, listen=_listen(listen),
        tls_cert=tls_cert, tls_key=tls_key, instructors=instructors, lab_dirs=list(labs),
        state_dir=state_dir, user_labs=not no_user_labs, labs_per_student=labs_per_student,
        nodes_per_lab=nodes_per_lab, max_networks=max_networks, max_requests=max_requests,
        max_rate=max_rate, max_streams=max_streams, max_step_seconds=max_step_seconds,
        output_limit=max_output, concurrent_ups=concurrent_ups,
        max_connections=max_connections, header_seconds=header_seconds,
        audit_max_mb=audit_max_mb)
    if config.socket is None and config.listen is None:
        raise InvalidInput("nothing to listen on: drop --no-socket or give --listen")
    if config.listen is not None:
        transport.check_tls(tls_cert, tls_key, config.listen[0])
    service = _lab_service(runtime, swarm_manager, swarm_certs, swarm_placement)
    transport.serve(server_app.create_app(config, service), config)


def _lab_service(runtime: str, manager: str | None, certs: Path | None, placement: str
                 ) -> LabService:
    """The labs' runtime, chosen (and its settings checked) before the server starts."""
    # Whatever else in this process connects (runtime.connect()) gets the same runtime.
    os.environ["LABCTL_RUNTIME"] = runtime
    if runtime == "swarm":
        if not manager or certs is None:
            raise InvalidInput("--runtime swarm needs --swarm-manager tcp://HOST:2376 and "
                               "--swarm-certs DIR (ca.pem, cert.pem, key.pem)")
        os.environ.update(LABCTL_SWARM_MANAGER=manager, LABCTL_SWARM_CERTS=str(certs),
                          LABCTL_SWARM_PLACEMENT=placement)
    chosen = runtimes.connect()
    if runtime == "swarm":  # a wrong address or certificate is told now, not at the first up
        hosts = chosen.hosts()
        console.err.print(f"labs run on the swarm at {manager}: "
                          f"{', '.join(h.name for h in hosts)}")
    return LabService(chosen)


def _store(state_dir: Path) -> TokenStore:
    return TokenStore(state_dir / "tokens.json")


@click.group(no_args_is_help=True)
def token() -> None:
    """Tokens for remote (HTTPS) access to the classroom server."""


@token.command("add")
@params.argument("user", "USER", "Who the token is for.")
@state_dir_option
def token_add(user: str, state_dir: Path) -> None:
    """Make a token for USER (replacing theirs) and print it, once: it is stored hashed."""
    made = _store(state_dir).add(user)
    console.out.print(made, markup=False, highlight=False)
    console.err.print(f"token for {user} made; give it to them now (it is not shown again)")


@token.command("revoke")
@params.argument("user", "USER", "Whose token to revoke.")
@state_dir_option
def token_revoke(user: str, state_dir: Path) -> None:
    """Revoke USER's token: the server refuses it from the next request on."""
    if not _store(state_dir).revoke(user):
        raise InvalidInput(f"{user} has no token")
    console.err.print(f"token of {user} revoked")


@token.command("list")
@state_dir_option
def token_list(state_dir: Path) -> None:
    """Who holds a token, and since when."""
    users = _store(state_dir).users()
    if not users:
        console.err.print("no tokens")
    for user, created in users.items():
        console.out.print(f"{user}\t{created}", markup=False, highlight=False)
