"""`labctl serve` and `labctl token ...`: registered on the main app by register()."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from labctl.classroom.server import config as defaults
from labctl.errors import InvalidInput

QUEUE_SECONDS = 10  # labctl.classroom.server.limits.QUEUE_SECONDS (not imported: anyio)

StateDirOpt = Annotated[Path, typer.Option(
    "--state-dir", envvar="LABCTL_STATE_DIR", file_okay=False,
    help="Where the server keeps tokens, the audit log and students' own labs.")]

token_app = typer.Typer(help="Tokens for remote (HTTPS) access to the classroom server.",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(login)
    app.add_typer(token_app, name="token")
    from labctl.cli.class_commands import app as class_app
    app.add_typer(class_app, name="class")


def login(url: Annotated[str, typer.Argument(metavar="URL",
              help="The class server: https://HOST:PORT (or unix:///PATH).",
              show_default=False)],
          token: Annotated[str | None, typer.Option(
              envvar="LABCTL_TOKEN", help="Your token (default: asked for, not echoed).",
              show_default=False)] = None,
          ca: Annotated[Path | None, typer.Option(
              "--ca", dir_okay=False, exists=True,
              help="The server's certificate or CA, when it is not publicly signed.",
              show_default=False)] = None) -> None:
    """Store the server's URL and your token (mode 0600); later commands go there."""
    from labctl import console
    from labctl.classroom.client.api import Client
    from labctl.cli.backends import credentials
    if not url.startswith(("https://", "unix://")):
        raise InvalidInput(f"server URL {url!r}: use https://HOST:PORT or unix:///PATH")
    if token is None and url.startswith("https://"):
        token = typer.prompt("token", hide_input=True).strip()
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


def serve(
    socket: Annotated[Path, typer.Option(help="The Unix socket local users connect to.",
                                         dir_okay=False)] = defaults.DEFAULT_SOCKET,
    no_socket: Annotated[bool, typer.Option("--no-socket", help="HTTPS only.")] = False,
    socket_group: Annotated[str | None, typer.Option(
        help="Only this group may connect (socket mode 0660); default: everyone (0666).",
        show_default=False)] = None,
    listen: Annotated[str | None, typer.Option(
        help="Also serve HTTPS on HOST:PORT (needs --tls-cert and --tls-key; without them, "
             "plain HTTP on a loopback address only).",
        show_default=False)] = None,
    tls_cert: Annotated[Path | None, typer.Option(dir_okay=False, show_default=False)] = None,
    tls_key: Annotated[Path | None, typer.Option(dir_okay=False, show_default=False)] = None,
    instructors: Annotated[str, typer.Option(
        help="Members of this Unix group (and root) may act on every lab."
    )] = defaults.DEFAULT_INSTRUCTORS,
    labs: Annotated[list[Path] | None, typer.Option(
        help="A directory of labs to offer (repeatable); the bundled labs come too.",
        file_okay=False, exists=True, show_default=False)] = None,
    state_dir: StateDirOpt = defaults.DEFAULT_STATE_DIR,
    no_user_labs: Annotated[bool, typer.Option(
        "--no-user-labs", help="Students may not send lab files of their own.")] = False,
    labs_per_student: Annotated[int, typer.Option(
        min=1, help="Labs up at once per student (up, test --keep and the web's Up count).",
        )] = defaults.ServerConfig.labs_per_student,
    nodes_per_lab: Annotated[int, typer.Option(
        min=1, help="Largest lab a student may run or send, in nodes.",
        )] = defaults.ServerConfig.nodes_per_lab,
    max_networks: Annotated[int, typer.Option(
        min=1, help="Networks per lab a student may run (each takes a subnet of the pool; "
        "a student's fixed subnets must lie in the pool, a /24 or smaller each).",
        )] = defaults.ServerConfig.max_networks,
    max_requests: Annotated[int, typer.Option(
        min=1, help=f"Requests of one student under way at once; more wait up to "
        f"{QUEUE_SECONDS} s for one to end, then are refused.",
        )] = defaults.ServerConfig.max_requests,
    max_rate: Annotated[int, typer.Option(
        min=1, help="Requests a minute per student (as many may come at once).",
        )] = defaults.ServerConfig.max_rate,
    max_streams: Annotated[int, typer.Option(
        min=1, help="Shells, live captures and log follows one student has open at once.",
        )] = defaults.ServerConfig.max_streams,
    max_step_seconds: Annotated[float, typer.Option(
        min=1, help="Seconds a student's test may spend in its steps, in all (and a step "
        "run from the web page)."
    )] = defaults.ServerConfig.max_step_seconds,
    max_output: Annotated[int, typer.Option(
        min=1024, help="Bytes of stdout (and of stderr) an exec returns; a command that "
        "prints more is stopped there."
    )] = defaults.ServerConfig.output_limit,
    concurrent_ups: Annotated[int, typer.Option(min=1, help="`up`s run at once; the rest "
                                                "queue.")] = defaults.ServerConfig.concurrent_ups,
    max_connections: Annotated[int, typer.Option(
        min=10, help="Connections each listener keeps at once (everyone's); beyond, a "
        "request is answered 503 at once.")] = defaults.ServerConfig.max_connections,
    header_seconds: Annotated[float, typer.Option(
        min=1, help="Seconds a connection has to send a request's headers (a half-open or "
        "slow one is closed).")] = defaults.ServerConfig.header_seconds,
    audit_max_mb: Annotated[int, typer.Option(
        min=1, help="MiB of audit log before it rotates (four old files are kept)."
    )] = defaults.ServerConfig.audit_max_mb,
    runtime: Annotated[str, typer.Option(
        envvar="LABCTL_RUNTIME", help="Where labs run: docker (this host's engine) or swarm "
        "(a Docker Swarm: --swarm-manager, --swarm-certs; docs/classroom.md).")] = "docker",
    swarm_manager: Annotated[str | None, typer.Option(
        envvar="LABCTL_SWARM_MANAGER", help="The swarm manager's engine: tcp://HOST:2376 "
        "(mutual TLS; every host's engine listens on the same port).",
        show_default=False)] = None,
    swarm_certs: Annotated[Path | None, typer.Option(
        envvar="LABCTL_SWARM_CERTS", file_okay=False,
        help="A directory with ca.pem, cert.pem and key.pem: labctl's client certificate "
        "for the swarm's engines.", show_default=False)] = None,
    swarm_placement: Annotated[str, typer.Option(
        envvar="LABCTL_SWARM_PLACEMENT", help="lab: a lab's nodes on one host (the one with "
        "the fewest lab nodes); spread: each node on the host with the fewest.")] = "lab",
    install_systemd: Annotated[bool, typer.Option(
        "--install-systemd", help="Write /etc/systemd/system/labctl.service running "
        "`labctl serve` with these options, then exit (enable it with systemctl).")] = False,
) -> None:
    """Run the classroom server: students use labs without Docker access."""
    import logging
    import sys

    if install_systemd:
        from labctl.classroom.server import systemd
        args = [a for a in sys.argv[1:] if a != "--install-systemd"]
        path = systemd.install(args)
        from labctl import console
        console.err.print(f"wrote {path}; now: systemctl daemon-reload && "
                          "systemctl enable --now labctl")
        return

    from labctl.classroom import app as app_mod
    from labctl.classroom.server import transport
    from labctl.classroom.server.config import ServerConfig

    logging.basicConfig(level=logging.INFO, format="labctl serve: %(message)s")
    config = ServerConfig(
        socket=None if no_socket else socket, socket_group=socket_group, listen=_listen(listen),
        tls_cert=tls_cert, tls_key=tls_key, instructors=instructors, lab_dirs=list(labs or []),
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
    ops = _lab_service(runtime, swarm_manager, swarm_certs, swarm_placement)
    transport.serve(app_mod.create_app(config, ops), config)


def _lab_service(runtime: str, manager: str | None, certs: Path | None, placement: str):
    """The labs' runtime, chosen (and its settings checked) before the server starts."""
    import os

    from labctl.runtime import connect
    from labctl.service.lab_service import LabService
    if runtime not in ("docker", "swarm"):
        raise InvalidInput(f"--runtime {runtime}: use docker or swarm")
    # Whatever else in this process connects (runtime.connect()) gets the same runtime.
    os.environ["LABCTL_RUNTIME"] = runtime
    if runtime == "swarm":
        if not manager or certs is None:
            raise InvalidInput("--runtime swarm needs --swarm-manager tcp://HOST:2376 and "
                               "--swarm-certs DIR (ca.pem, cert.pem, key.pem)")
        os.environ.update(LABCTL_SWARM_MANAGER=manager, LABCTL_SWARM_CERTS=str(certs),
                          LABCTL_SWARM_PLACEMENT=placement)
    chosen = connect()
    if runtime == "swarm":  # a wrong address or certificate is told now, not at the first up
        hosts = chosen.hosts()
        from labctl import console
        console.err.print(f"labs run on the swarm at {manager}: "
                          f"{', '.join(h.name for h in hosts)}")
    return LabService(chosen)


def _store(state_dir: Path):
    from labctl.classroom.server.tokens import TokenStore
    return TokenStore(state_dir / "tokens.json")


@token_app.command("add")
def token_add(user: Annotated[str, typer.Argument(metavar="USER", help="Who the token is for.",
                                                  show_default=False)],
              state_dir: StateDirOpt = defaults.DEFAULT_STATE_DIR) -> None:
    """Make a token for USER (replacing theirs) and print it, once: it is stored hashed."""
    from labctl import console
    token = _store(state_dir).add(user)
    console.out.print(token, markup=False, highlight=False)
    console.err.print(f"token for {user} made; give it to them now (it is not shown again)")


@token_app.command("revoke")
def token_revoke(user: Annotated[str, typer.Argument(metavar="USER", show_default=False)],
                 state_dir: StateDirOpt = defaults.DEFAULT_STATE_DIR) -> None:
    """Revoke USER's token: the server refuses it from the next request on."""
    from labctl import console
    if not _store(state_dir).revoke(user):
        raise InvalidInput(f"{user} has no token")
    console.err.print(f"token of {user} revoked")


@token_app.command("list")
def token_list(state_dir: StateDirOpt = defaults.DEFAULT_STATE_DIR) -> None:
    """Who holds a token, and since when."""
    from labctl import console
    users = _store(state_dir).users()
    if not users:
        console.err.print("no tokens")
    for user, created in users.items():
        console.out.print(f"{user}\t{created}", markup=False, highlight=False)
