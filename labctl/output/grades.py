"""A class's grades (labctl/grades.py) as a table, CSV, JSON, JUnit or a standalone HTML page."""

from __future__ import annotations

import csv
import html
import io
import json
import xml.etree.ElementTree as ET

from labctl.grades import CHECKED, Grades, Row

FORMATS = ("table", "csv", "json", "junit", "html")


def printable(text: str) -> str:
    """Node output in a grade file (read with cat, or as XML): controls escaped."""
    from labctl.console import printable as escaped
    return escaped(text)


def cell(row: Row, index: int) -> str:
    """One grid cell in words: PASS, FAIL, or why there is no result."""
    if row.state != CHECKED:
        return row.state
    found = row.result(index)
    return "-" if found is None else "PASS" if found.passed else "FAIL"


def to_csv(grades: Grades) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "instance", "state", "score",
                     *[f"{i + 1}. {t}" for i, t in enumerate(grades.titles)], "note"])
    for row in grades.rows:
        writer.writerow([printable(row.student), row.instance, row.state, row.score,
                         *[cell(row, i) for i in range(len(grades.titles))],
                         printable(row.note)])
    return out.getvalue()


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
    from labctl import console
    from labctl.console import shown as escape  # notes carry what nodes said
    from labctl.console import table
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


def render(grades: Grades, fmt: str) -> str:
    """The grades as text in a format other than the terminal table."""
    return {"csv": to_csv, "json": to_json, "junit": to_junit, "html": to_html}[fmt](grades)
