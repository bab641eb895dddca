"""JUnit XML for CI systems: one test suite per lab, one test case per check."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from labctl.runner import LabReport


def write(reports: list[LabReport], path: Path) -> None:
    suites = ET.Element("testsuites", name="labctl")
    for report in reports:
        cases = len(report.checks) + len(report.steps) + (1 if report.error else 0)
        failures = (len(report.failed_checks) + sum(1 for s in report.steps if not s.passed)
                    + (1 if report.error else 0))
        suite = ET.SubElement(suites, "testsuite", name=report.lab, tests=str(cases),
                              failures=str(failures), errors="0",
                              time=f"{sum(report.seconds.values()):.3f}")
        if report.error:
            case = ET.SubElement(suite, "testcase", classname=report.lab, name="up", time="0")
            ET.SubElement(case, "failure", message=report.error).text = report.error
        for step in report.steps:
            case = ET.SubElement(suite, "testcase", classname=f"{report.lab}.steps",
                                 name=f"step {step.index + 1} on {step.node}: {step.command}",
                                 time=f"{step.seconds:.3f}")
            if not step.passed:
                ET.SubElement(case, "failure", message=step.message).text = step.output[-2000:]
        for check in report.checks:
            case = ET.SubElement(suite, "testcase", classname=f"{report.lab}.checks",
                                 name=f"{check.index + 1}. {check.title}",
                                 time=f"{check.seconds:.3f}")
            if not check.passed:
                text = f"{check.message}\nexpected: {check.expected}\nseen: {check.seen}"
                ET.SubElement(case, "failure", message=check.message).text = text
    ET.indent(suites)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
