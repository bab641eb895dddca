import xml.etree.ElementTree as ET

from labctl import junit
from labctl.checks import CheckResult
from labctl.runner import LabReport
from labctl.steps import StepResult


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


def test_a_lab_that_could_not_start_is_one_failing_case(tmp_path):
    path = tmp_path / "j.xml"
    junit.write([LabReport("demo", "i", "x", error="node 'server' failed")], path)
    case = ET.parse(path).getroot().find("testsuite/testcase")
    assert case.get("name") == "up" and case.find("failure") is not None
