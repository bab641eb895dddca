"""Rosters as classrooms export them, and grades as grade books import them.

The samples in tests/data/gradebooks are in the formats GitHub Classroom and Moodle
write. The grade book exports are read here the way Moodle's and Canvas's importers
read a CSV (their documented rules, written out below), so a change that would make
an LMS refuse or misread the file fails here."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from labctl.classroom import grade_formats as out
from labctl.classroom import grades
from labctl.classroom.roster import parse_students, read_students
from labctl.errors import InvalidInput

DATA = Path(__file__).resolve().parent.parent / "data" / "gradebooks"
TITLES = ["server listens on tcp/80", "handshake on port 80", "« gzip » answer"]


def test_a_github_classroom_roster_reads_identifiers_then_github_names():
    # "Ann Smith" (the name column) is never taken for a user name
    assert read_students(DATA / "github-classroom-roster.csv") == [
        "ann.smith", "bobdev", "carol", "dave.o"]


def test_a_moodle_grade_export_reads_id_numbers_then_emails():
    assert read_students(DATA / "moodle-grades-export.csv") == [
        "s1001", "bob.dev@uni.example", "s1003"]
    assert read_students(DATA / "moodle-grades-export.csv", "Email address") == [
        "ann.smith@uni.example", "bob.dev@uni.example", "chloe.mueller@uni.example"]


def test_a_named_column_must_exist():
    with pytest.raises(InvalidInput, match=r"roster.csv:1: no column 'login name'"):
        parse_students("user,group\nann,1\n", "roster.csv", "login name")


def _class() -> grades.Grades:
    return grades.grades("handshake-lab", TITLES, [
        grades.checked("s1001", "s1001", [
            {"index": i, "title": t, "passed": True, "kind": "x"} for i, t in enumerate(TITLES)]),
        grades.checked("s1003", "s1003", [
            {"index": 0, "title": TITLES[0], "passed": True},
            {"index": 1, "title": TITLES[1], "passed": False, "message": "no SYN"},
            {"index": 2, "title": TITLES[2], "passed": False}]),
        grades.no_lab("bob.dev@uni.example", "bob-dev--1", "handshake-lab"),
        grades.broken("zed", "zed", "docker: container gone"),
    ], checked_at="2026-12-06T09:00:00+00:00")


def moodle_import(text: str, id_column: str, grade_column: str, maximum: float
                  ) -> dict[str, float]:
    """What Moodle's CSV grade import does with a file (grade/import/csv): the UTF-8
    byte-order mark dropped, the first line the header, every later line one user,
    identified by the mapped column; a grade must be a number from 0 to the grade
    item's maximum; an empty grade (or '-') leaves that user's grade alone."""
    text = text.removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    assert len(set(header)) == len(header), "Moodle refuses duplicate column names"
    who, grade = header.index(id_column), header.index(grade_column)
    imported = {}
    for row in rows[1:]:
        assert len(row) == len(header), "Moodle refuses a line with another column count"
        value = row[grade].strip()
        if value in ("", "-"):
            continue
        number = float(value)  # a non-number: Moodle's "error: not a number"
        assert 0 <= number <= maximum, f"{number} is out of 0-{maximum}"
        imported[row[who]] = number
    return imported


def canvas_import(text: str) -> tuple[str, float, dict[str, float]]:
    """What Canvas's gradebook import does (Grades > Import): columns Student, ID, SIS
    User ID, SIS Login ID and Section first; a row 'Points Possible' gives each
    assignment's maximum; students matched by ID, SIS User ID or SIS Login ID; an
    assignment column without an (id) is a new assignment. -> (name, max, grades)"""
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert len(rows[0]) == 6, "one assignment column"
    assert rows[1][0].strip() == "Points Possible"
    maximum = float(rows[1][5])
    found = {}
    for row in rows[2:]:
        assert any(row[1:4]), "Canvas matches a student by ID, SIS User ID or SIS Login ID"
        if row[5] != "":
            found[row[3]] = float(row[5])
    return rows[0][5], maximum, found


def test_the_moodle_export_imports_as_moodle_reads_it():
    text = out.as_file(out.render(_class(), "moodle"), "moodle")
    assert text.startswith("\ufeff") and "\r\n" in text
    assert moodle_import(text, "Username", "handshake-lab", 3) == {
        "s1001": 3.0, "s1003": 1.0, "bob.dev@uni.example": 0.0}  # zed: not checked, kept
    feedback = {r[0]: r[2] for r in csv.reader(io.StringIO(text.removeprefix("\ufeff")))}
    assert feedback["s1003"] == ("1 of 3 checks passed; failed: 2. handshake on port 80; "
                                 "3. « gzip » answer")


def test_the_canvas_export_imports_as_canvas_reads_it():
    text = out.as_file(out.render(_class(), "canvas"), "canvas")
    assert canvas_import(text) == ("handshake-lab", 3.0, {
        "s1001": 3.0, "s1003": 1.0, "bob.dev@uni.example": 0.0})


def test_json_carries_points_maximum_and_time():
    import json
    data = json.loads(out.render(_class(), "json"))
    assert (data["max_points"], data["checked_at"]) == (3, "2026-12-06T09:00:00+00:00")
    assert [r["points"] for r in data["rows"]] == [0, 3, 1, None]
    assert grades.Grades.from_data(data).checked_at == "2026-12-06T09:00:00+00:00"
