import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from labctl.lab.results import CheckResult, StepResult
from labctl.output import junit
from labctl.service.report import LabReport

XSD = Path(__file__).resolve().parents[1] / "data" / "junit.xsd"


def test_one_case_per_check_and_failures_carry_the_explanation(tmp_path):
    report = LabReport("demo", "i", "labs/demo/lab.yaml",
                       steps=[StepResult(0, "client", "curl", True)],
                       checks=[CheckResult(0, "listening", "server listens", True),
                               CheckResult(1, "handshake", "handshake", False,
                                           "no SYN/ACK", "SYN/ACK", "RST")])
    path = tmp_path / "j.xml"
    junit.write([report], path)
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases][1:] == ["1. server listens", "2. handshake"]
    failure = cases[2].find("failure")
    assert failure.get("message") == "no SYN/ACK"
    assert "expected: SYN/ACK" in failure.text and "seen: RST" in failure.text
    assert report.passed is False


def test_a_lab_that_could_not_start_is_an_error_not_a_failure(tmp_path):
    path = tmp_path / "j.xml"
    junit.write([LabReport("demo", "i", "x", error="node 'server' failed",
                           seconds={"up": 2.5})], path)
    validate(path)
    suite = ET.parse(path).getroot().find("testsuite")
    case = suite.find("testcase")
    assert case.get("name") == "up" and case.find("failure") is None
    assert case.find("error").get("type") == "infrastructure"
    assert (suite.get("errors"), suite.get("failures"), suite.get("time")) == ("1", "0", "2.500")


def test_an_invalid_lab_is_one_failing_case_with_its_lines(tmp_path):
    path = tmp_path / "j.xml"
    problems = ["labs/x/lab.yaml:3: nodes.a: unknown key", "labs/x/lab.yaml:9: steps[0].on: no"]
    junit.write([LabReport("x", "ci-0", "labs/x", error="invalid", problems=problems)], path)
    validate(path)
    case = ET.parse(path).getroot().find("testsuite/testcase")
    assert case.get("name") == "lab file is valid"
    assert case.find("failure").text == "\n".join(problems)


def test_real_times_timestamps_and_the_xsd(tmp_path):
    """Suite time from the cases when no phase was timed (`check`), a timestamp per suite,
    and the file valid against a JUnit XSD (tests/data/junit.xsd)."""
    report = LabReport("demo", "alice", "labs/demo",
                       steps=[StepResult(0, "client", "curl -s http://server/", False, 7,
                                         "curl: (7) refused", "exited with 7, expected 0",
                                         0.25, name="fetch the page")],
                       checks=[CheckResult(0, "listening", "server listens", True,
                                           seconds=0.5)])
    path = tmp_path / "j.xml"
    junit.write([report], path)
    validate(path)
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite.get("time") == "0.750" and suite.get("timestamp") == report.started
    assert root.get("tests") == "2" and root.get("failures") == "1"
    step = suite.find("testcase")
    assert step.get("name") == "step 1 on client: fetch the page"
    assert step.find("failure").text == "curl: (7) refused"


def test_the_xsd_refuses_what_ci_would_not_read(tmp_path):
    import xmlschema
    bad = tmp_path / "bad.xml"
    bad.write_text('<testsuites><testsuite name="x" tests="1" failures="0" errors="0" '
                   'time="0"><testcase name="c"/></testsuite></testsuites>')
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        validate(bad)


def validate(path) -> None:
    import xmlschema
    xmlschema.XMLSchema(str(XSD)).validate(str(path))
