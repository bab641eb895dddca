"""Grades: one row per student, whatever state their lab is in, in every format."""

import csv
import io
import json
import xml.etree.ElementTree as ET

from labctl.classroom import grade_formats as out
from labctl.classroom import grades

TITLES = ["server listens on tcp/80", "handshake on port 80"]


def _class() -> grades.Grades:
    return grades.grades("handshake-lab", TITLES, [
        grades.checked("carol", "carol", [
            {"index": 0, "title": TITLES[0], "passed": True},
            {"index": 1, "title": TITLES[1], "passed": False, "message": "no SYN",
             "expected": "SYN, SYN/ACK, ACK", "seen": "nothing"}]),
        grades.checked("alice", "alice", [
            {"index": 0, "title": TITLES[0], "passed": True, "kind": "listening"},
            {"index": 1, "title": TITLES[1], "passed": True}]),
        grades.no_lab("bob", "bob", "handshake-lab"),
        grades.broken("dave", "dave", "docker: container gone"),
    ])


def test_rows_sorted_scored_and_summarised():
    g = _class()
    assert [r.student for r in g.rows] == ["alice", "bob", "carol", "dave"]
    assert [r.score for r in g.rows] == ["2/2", "-", "1/2", "-"]
    assert [r.complete for r in g.rows] == [True, False, False, False]
    assert g.summary() == ("4 students: 1 passed every check, 1 failed some, "
                           "1 had no lab running, 1 could not be checked")


def test_csv_one_row_per_student_with_numeric_points():
    text = out.to_csv(_class())
    assert not text.startswith("\ufeff")  # to a pipe: none; in a file, for spreadsheets:
    assert out.as_file(text, "csv") == "\ufeff" + text
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0][:8] == ["student", "instance", "lab", "state", "points", "max_points",
                           "score", "checked_at"]
    assert rows[0][8] == "1. server listens on tcp/80"
    by = {r[0]: r for r in rows[1:]}
    assert len(by) == 4
    assert by["alice"][2:10] == ["handshake-lab", "checked", "2", "2", "2/2",
                                 by["alice"][7], "PASS", "PASS"]
    assert by["alice"][7].endswith("+00:00")  # ISO 8601, UTC
    assert by["carol"][4] == "1" and by["carol"][8:10] == ["PASS", "FAIL"]
    assert by["bob"][3:10] == ["no lab", "0", "2", "-", by["bob"][7], "no lab", "no lab"]
    assert by["bob"][-1] == "handshake-lab is not running"
    assert by["dave"][4] == ""  # could not be checked: no grade, not a zero
    assert by["dave"][-1] == "docker: container gone"


def test_json_round_trips():
    data = json.loads(out.to_json(_class()))
    assert data["rows"][0]["complete"] is True
    again = grades.Grades.from_data(data)
    assert out.to_csv(again) == out.to_csv(_class())


def test_junit_counts_failures_per_student():
    root = ET.fromstring(out.to_junit(_class()).split("\n", 1)[1])
    failures = {s.get("name"): s.get("failures") for s in root}
    assert failures == {"alice": "0", "bob": "1", "carol": "1", "dave": "1"}
    carol = next(s for s in root if s.get("name") == "carol")
    assert "expected: SYN, SYN/ACK, ACK" in carol.find("testcase/failure").text


def test_html_escapes_and_marks_cells():
    g = grades.grades("lab", ["<b>x</b>"], [grades.checked("<eve>", "eve", [
        {"index": 0, "title": "<b>x</b>", "passed": False}])])
    page = out.to_html(g)
    assert "<eve>" not in page and "&lt;eve&gt;" in page
    assert "<td class='fail'>FAIL</td>" in page
