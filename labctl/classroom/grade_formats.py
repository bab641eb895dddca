"""A class's grades (classroom/grades.py) as a table, CSV, JSON, JUnit or a standalone HTML page."""

from __future__ import annotations

import csv
import html
import io
import json
import xml.etree.ElementTree as ET

from labctl import console
from labctl.classroom.grades import CHECKED, Grades, Row
from labctl.console import printable as escaped
from labctl.console import shown as escape
from labctl.console import table

FORMATS = ("table", "csv", "json", "junit", "html", "moodle", "canvas")
CSV_FORMATS = ("csv", "moodle", "canvas")
# A CSV file for a spreadsheet or a grade book starts with a byte-order mark: Excel
# reads it as UTF-8 only then (accents, arrows); Moodle and Canvas skip it. Output to
# a pipe has none (scripts read it as they read any CSV).
BOM = "\ufeff"


def printable(text: str) -> str:
    """Node output in a grade file (read with cat, or as XML): controls escaped."""
    return escaped(text)


def cell(row: Row, index: int) -> str:
    """One grid cell in words: PASS, FAIL, or why there is no result."""
    if row.state != CHECKED:
        return row.state
    found = row.result(index)
    return "-" if found is None else "PASS" if found.passed else "FAIL"


def _points(row: Row, grades: Grades) -> str:
    points = row.points(grades.max_points)
    return "" if points is None else str(points)


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def to_csv(grades: Grades) -> str:
    """Every column a spreadsheet wants: numeric points and their maximum, the lab, when
    it was checked, a cell per check."""
    header = ["student", "instance", "lab", "state", "points", "max_points", "score",
              "checked_at", *[f"{i + 1}. {t}" for i, t in enumerate(grades.titles)], "note"]
    return _csv([header, *[
        [printable(row.student), row.instance, grades.lab, row.state, _points(row, grades),
         str(grades.max_points), row.score, grades.checked_at,
         *[cell(row, i) for i in range(len(grades.titles))], printable(row.note)]
        for row in grades.rows]])


def _feedback(row: Row, grades: Grades) -> str:
    if row.state != CHECKED:
        return printable(row.note or row.state)
    failed = [f"{r.index + 1}. {r.title}" for r in row.results if not r.passed]  # titles: the lab's
    return (f"{row.passed} of {grades.max_points} checks passed" +
            (f"; failed: {'; '.join(failed)}" if failed else ""))


def to_moodle(grades: Grades) -> str:
    """Moodle's "Import grades: CSV file": map Username to username, the lab's column to
    its grade item (or a new one, maximum max_points) and Feedback to its feedback.
    Students whose lab could not be checked have an empty grade: Moodle skips them."""
    return _csv([["Username", grades.lab, "Feedback"], *[
        [printable(row.student), _points(row, grades), _feedback(row, grades)]
        for row in grades.rows]])


def to_canvas(grades: Grades) -> str:
    """Canvas's gradebook import: students matched by SIS Login ID (the user name); a
    column without an assignment id becomes a new assignment, its Points Possible row
    the maximum. An empty grade leaves the student's grade as it is."""
    return _csv([["Student", "ID", "SIS User ID", "SIS Login ID", "Section", grades.lab],
                 ["Points Possible", "", "", "", "", str(grades.max_points)], *[
                     [printable(row.student), "", "", printable(row.student), "",
                      _points(row, grades)]
                     for row in grades.rows]])


def to_json(grades: Grades) -> str:
    return json.dumps(grades.to_data(), indent=2) + "\n"


def to_junit(grades: Grades) -> str:
    """One test suite per student, one test case per check (CI dashboards read it)."""
    suites = ET.Element("testsuites", name=f"labctl class check {grades.lab}")
    for row in grades.rows:
        suite = ET.SubElement(suites, "testsuite", name=row.student, errors="0",
                              tests=str(max(len(grades.titles), 1)),
                              failures=str(len(grades.titles) - row.passed
                                           if row.state == CHECKED else 1))
        if row.state != CHECKED:
            case = ET.SubElement(suite, "testcase", classname=row.student, name=grades.lab)
            note = printable(row.note)
            ET.SubElement(case, "failure", message=note or row.state).text = note
            continue
        for res in row.results:
            case = ET.SubElement(suite, "testcase", classname=row.student,
                                 name=f"{res.index + 1}. {res.title}")
            if not res.passed:
                ET.SubElement(case, "failure", message=printable(res.message)).text = printable(
                    f"{res.message}\nexpected: {res.expected}\nseen: {res.seen}")
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def to_html(grades: Grades) -> str:
    """A page on its own (for a file, or an e-mail): the grid and the summary."""
    e = html.escape
    head = "".join(f"<th scope='col'>{i + 1}. {e(t)}</th>" for i, t in enumerate(grades.titles))
    body = []
    for row in grades.rows:
        cells = "".join(f"<td class='{cell(row, i).replace(' ', '-').lower()}'>"
                        f"{e(cell(row, i))}</td>" for i in range(len(grades.titles)))
        body.append(f"<tr><th scope='row'>{e(row.student)}</th><td>{e(row.score)}</td>"
                    f"{cells}<td>{e(row.note)}</td></tr>")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{e(grades.lab)}: grades</title><style>"
            "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #bbb;padding:4px 8px}.pass{background:#c8f0c8}"
            ".fail{background:#f6c6c6}.no-lab,.error{background:#eee;color:#555}"
            "</style></head><body>"
            f"<h1>{e(grades.lab)}: grades</h1><p>{e(grades.summary())}</p>"
            f"<table><thead><tr><th scope='col'>Student</th><th scope='col'>Score</th>{head}"
            f"<th scope='col'>Note</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
            "</body></html>\n")


def show_table(grades: Grades) -> None:
    colours = {"PASS": "green", "FAIL": "red"}
    t = table(f"{grades.lab}: grades", ["Student", "Score",
                                         *[str(i + 1) for i in range(len(grades.titles))],
                                         "Note"], [])
    for row in grades.rows:
        marks = [f"[{colours.get(c, 'dim')}]{escape(c)}[/]"
                 for c in (cell(row, i) for i in range(len(grades.titles)))]
        t.add_row(escape(row.student), row.score, *marks, escape(row.note))
    console.out.print(t)
    for i, title in enumerate(grades.titles):
        console.out.print(f"  {i + 1}. {escape(title)}", highlight=False)
    console.out.print(grades.summary(), highlight=False)


def as_file(text: str, fmt: str) -> str:
    """What goes into a file (or a download) of that format: CSVs start with the BOM."""
    return BOM + text if fmt in CSV_FORMATS else text


def render(grades: Grades, fmt: str) -> str:
    """The grades as text in a format other than the terminal table."""
    return {"csv": to_csv, "json": to_json, "junit": to_junit, "html": to_html,
            "moodle": to_moodle, "canvas": to_canvas}[fmt](grades)
