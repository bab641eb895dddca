"""JUnit XML for CI systems: one test suite per lab, one test case per step and check.

A step or check that failed is a `<failure>`; a lab file that failed
validation is one failing case carrying its `file:line` problems; a lab that
could not be brought up or checked at all (the engine, a node that died) is
an `<error>`: the infrastructure failed, not the lab. Times are real (per
case, and the suite's phases), each suite carries when it started.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from pathlib import Path

from labctl.service.report import LabReport

OUTPUT_LIMIT = 2000  # characters of a failed step's output kept


def step_name(step) -> str:
    what = step.name or step.command
    return f"step {step.index + 1} on {step.node}: {what}"


def write(reports: list[LabReport], path: Path) -> None:
    suites = ET.Element("testsuites", name="labctl")
    totals = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
    for report in reports:
        suite = _suite(report)
        suites.append(suite)
        for key in ("tests", "failures", "errors"):
            totals[key] += int(suite.get(key, "0"))
        totals["time"] += float(suite.get("time", "0"))
    for key, value in totals.items():
        suites.set(key, f"{value:.3f}" if key == "time" else str(value))
    ET.indent(suites)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def _suite(report: LabReport) -> ET.Element:
    suite = ET.Element("testsuite", name=report.lab)
    cases: list[ET.Element] = []
    failures = errors = 0
    if report.invalid:
        case = _case(cases, report.lab, "lab file is valid", 0.0)
        text = "\n".join(report.problems)
        ET.SubElement(case, "failure", message=report.problems[0], type="invalid").text = text
        failures += 1
    elif report.error:
        case = _case(cases, report.lab, "up", report.seconds.get("up", 0.0))
        ET.SubElement(case, "error", message=report.error.splitlines()[0],
                      type="infrastructure").text = report.error
        errors += 1
    for step in report.steps:
        case = _case(cases, f"{report.lab}.steps", step_name(step), step.seconds)
        if not step.passed:
            failure = ET.SubElement(case, "failure", message=step.message)
            failure.text = step.output[-OUTPUT_LIMIT:]
            failures += 1
    for check in report.checks:
        case = _case(cases, f"{report.lab}.checks", f"{check.index + 1}. {check.title}",
                     check.seconds)
        if not check.passed:
            text = f"{check.message}\nexpected: {check.expected}\nseen: {check.seen}"
            ET.SubElement(case, "failure", message=check.message).text = text
            failures += 1
    phases = sum(report.seconds.values())
    total = phases or sum(float(c.get("time", "0")) for c in cases)
    suite.attrib.update(tests=str(len(cases)), failures=str(failures), errors=str(errors),
                        skipped="0", time=f"{total:.3f}", timestamp=report.started,
                        hostname=socket.gethostname(),
                        id=report.instance, package=report.instance)
    suite.extend(cases)
    return suite


def _case(cases: list[ET.Element], classname: str, name: str, seconds: float) -> ET.Element:
    case = ET.Element("testcase", classname=classname, name=name, time=f"{seconds:.3f}")
    cases.append(case)
    return case
