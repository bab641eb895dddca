"""`labctl class status|check|up|down`: the whole class at once, through the server."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import click

from labctl import console
from labctl.classroom import grade_formats as render
from labctl.classroom.client.class_api import ClassClient
from labctl.classroom.grades import Grades
from labctl.classroom.roster import read_students
from labctl.classroom.server import config as defaults
from labctl.cli import params
from labctl.errors import EXIT_FAILED, EXIT_OK, InvalidInput

server_option = click.option(
    "--server", envvar="LABCTL_SERVER", show_envvar=True, default=None,
    help=f"unix:///PATH or https://HOST:PORT (default unix://{defaults.DEFAULT_SOCKET}).")
token_option = click.option("--token", envvar="LABCTL_TOKEN", show_envvar=True, default=None,
                            help="Your token, for an https:// server.")
cacert_option = click.option(
    "--cacert", envvar="LABCTL_CACERT", show_envvar=True, type=params.file(), default=None,
    help="The server's certificate (or its CA), for an https:// server.")
students_option = click.option(
    "--students", type=params.file(), default=None,
    help="The class list: one user name per line, or a CSV with a user-name column (a "
         "GitHub Classroom roster and Moodle exports are read as they are).")
column_option = click.option(
    "--students-column", "column", default=None,
    help="The --students CSV's column of user names, when not the usual one.")
output_option = click.option("-o", "--output", type=params.file(), default=None,
                             help="Write to FILE instead of stdout.")


def server_options(command):
    """--server, --token and --cacert: where the class is."""
    return server_option(token_option(cacert_option(command)))


@click.group("class", no_args_is_help=True)
def class_() -> None:
    """The whole class at once (instructors; through the labctl server)."""


def _client(server: str | None, token: str | None, cacert: Path | None) -> ClassClient:
    if server is not None and server.strip().lower() == "local":
        server = None  # LABCTL_SERVER=local sends a user's own commands to Docker; a class
        # is always the server's: its socket here
    url = server or f"unix://{defaults.DEFAULT_SOCKET}"
    if url.startswith("unix://") and not Path(url[len("unix://"):]).exists():
        raise InvalidInput(f"no labctl server at {url}: start `labctl serve`, or give "
                           "--server / LABCTL_SERVER")
    return ClassClient(url, token=token, verify=str(cacert) if cacert else True)


def _students(path: Path | None, column: str | None = None) -> list[str] | None:
    return None if path is None else read_students(path, column)


def _format(value: str) -> str:
    if value not in render.FORMATS:
        raise InvalidInput(f"--format {value}: use one of {', '.join(render.FORMATS)}")
    return value


STATUS_COLUMNS = ["Student", "Lab", "Instance", "State", "Nodes", "Up for", "Last active"]


@class_.command("status")
@server_options
@click.option("--format", "fmt", default="table", help="table, csv or json.")
@output_option
def status(server: str | None, token: str | None, cacert: Path | None, fmt: str,
           output: Path | None) -> None:
    """Every student: their labs, state, nodes, up for, last activity."""
    if fmt not in ("table", "csv", "json"):
        raise InvalidInput(f"--format {fmt}: class status is table, csv or json")
    with _client(server, token, cacert) as client:
        found = client.class_status()
    rows = []
    for s in found:
        for lab in s["labs"] or [None]:
            rows.append([s["student"], lab["lab"] if lab else "-",
                         lab["instance"] if lab else s["instance"],
                         lab["state"] if lab else "no lab",
                         ", ".join(lab["nodes"]) if lab else "",
                         _ago(lab["up_since"]).removesuffix(" ago") if lab else "",
                         _ago(s["last_activity"]),
                         ", ".join(lab.get("hosts") or []) if lab else ""])
    columns = list(STATUS_COLUMNS)
    if any(row[-1] for row in rows):  # a swarm: the host(s) each lab runs on
        columns.append("Host")
    else:
        rows = [row[:-1] for row in rows]
    if fmt == "table" and output is None:
        if not rows:
            console.err.print("no students yet (token holders, users of the server)")
            return
        console.out.print(console.table(None, columns, rows))
        return
    if fmt == "json":
        text = json.dumps(found, indent=2) + "\n"
    else:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([c.lower().replace(" ", "_") for c in columns])
        writer.writerows(rows)
        text = out.getvalue()
    _write(text, output)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        print(text, end="")
        return
    output.write_text(text, encoding="utf-8")
    console.err.print(f"wrote {output}", markup=False)


def _ago(when: str | None) -> str:
    if not when:
        return "-"
    seconds = int((datetime.now(UTC) - datetime.fromisoformat(when)).total_seconds())
    if seconds < 60:
        return f"{seconds}s ago" if seconds >= 0 else "just now"
    minutes, hours = seconds // 60, seconds // 3600
    return f"{minutes}m ago" if hours == 0 else f"{hours}h{minutes % 60:02d}m ago"


@class_.command("check")
@params.argument("lab", "LAB", "The lab to grade.")
@students_option
@column_option
@click.option("--format", "fmt", default="table",
              help="table, csv, json, junit, html, or a grade book's import: moodle, canvas.")
@click.option("-o", "--output", type=params.file(), default=None,
              help="Write the grades to FILE (the summary still goes to stderr).")
@server_options
def check(lab: str, students: Path | None, column: str | None, fmt: str, output: Path | None,
          server: str | None, token: str | None, cacert: Path | None) -> None:
    """Run LAB's checks on every student's copy: a grade table (student x check)."""
    fmt = _format(fmt)
    wanted = _students(students, column)
    with _client(server, token, cacert) as client:
        found = Grades.from_data(client.class_check(lab, wanted))
    if fmt == "table" and output is None:
        render.show_table(found)
        return
    fmt = "csv" if fmt == "table" else fmt
    text = render.render(found, fmt)
    _write(text if output is None else render.as_file(text, fmt), output)
    console.err.print(found.summary(), markup=False)


def _progress(action: str, lines) -> int:
    failed = 0
    for line in lines:
        mark = "ok" if line["ok"] else "FAILED"
        failed += not line["ok"]
        console.err.print(console.printable(f"[{line['done']}/{line['total']}] "
                                            f"{line['student']} ({line['instance']}): {mark}: "
                                            f"{line['detail']}"), markup=False)
    if failed:
        console.err.print(f"{action}: {failed} failed", markup=False)
        return EXIT_FAILED
    return EXIT_OK


@class_.command("up")
@params.argument("lab", "LAB", "The lab to bring up.")
@click.option("--students", type=params.file(), required=True,
              help="The class list (see class check).")
@column_option
@server_options
def up(lab: str, students: Path, column: str | None, server: str | None, token: str | None,
       cacert: Path | None) -> int:
    """Bring LAB up for every student in the list (before class); shows each as it is ready."""
    wanted = _students(students, column)
    console.err.print(f"bringing {lab} up for {len(wanted)} students", markup=False)
    with _client(server, token, cacert) as client:
        return _progress("up", client.class_up(lab, wanted))


@class_.command("down")
@params.argument("lab", "LAB", "The lab to remove.")
@students_option
@column_option
@server_options
def down(lab: str, students: Path | None, column: str | None, server: str | None,
         token: str | None, cacert: Path | None) -> int:
    """Remove LAB for the students in the list, or every running copy of it."""
    with _client(server, token, cacert) as client:
        return _progress("down", client.class_down(lab, _students(students, column)))

