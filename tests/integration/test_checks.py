"""Checks, test, verify and the pytest plugin against the real engine."""

import json
import shutil
import xml.etree.ElementTree as ET

import pytest

from labctl.checks.run import LabState, run_checks
from labctl.lab import loader, naming
from labctl.service.steps import run_steps
from tests.conftest import ROOT, run_labctl

pytestmark = pytest.mark.docker


def state_after_steps(engine, lab_up, instance, name):
    lab = loader.load(name, ROOT)
    lab_up(lab)
    nodes = engine.running_nodes(lab.name, lab.nodes, instance)
    steps = run_steps(engine.runtime, lab.steps, nodes)
    assert all(s.passed for s in steps), steps
    return lab, LabState(engine.runtime, nodes)


def test_handshake_lab_checks_pass_with_one_exec_for_the_server_listings(
        engine, lab_up, instance):
    lab, state = state_after_steps(engine, lab_up, instance, "handshake-lab")
    results = run_checks(state, lab.checks)
    assert [r.title for r in results if not r.passed] == []
    assert len(results) == len(lab.checks) >= 10
    # listening, process and sockets checks on the server share one batched exec
    # (command checks run their own command, outside the testinfra host).
    assert state.hosts["server"].backend.execs == 1


@pytest.mark.parametrize("lab_name", ["echo-lab", "udp-lab"])
def test_catalogue_labs_pass(engine, lab_up, instance, lab_name):
    lab, state = state_after_steps(engine, lab_up, instance, lab_name)
    failed = [(r.title, r.message) for r in run_checks(state, lab.checks) if not r.passed]
    assert failed == []


def test_packet_checks_fail_when_no_traffic_happened(engine, lab_up, instance):
    lab = loader.load("udp-lab", ROOT)
    lab_up(lab)  # no steps: the client never sent anything
    state = LabState(engine.runtime, engine.running_nodes(lab.name, lab.nodes, instance))
    results = {r.kind: r for r in run_checks(state, lab.checks)}
    assert not results["no_handshake"].passed
    assert "no UDP datagram from client to server:50000" in results["no_handshake"].message
    assert results["udp_delivered"].passed  # the check sends its own datagram


def test_checks_explain_a_wrong_port(engine, lab_up, instance, tmp_path):
    text = (ROOT / "labs/handshake-lab/lab.yaml").read_text()
    (tmp_path / "lab.yaml").write_text(text.replace("name: handshake-lab", "name: wrong-port")
                                       .replace("{node: server, port: 80, proto: tcp}",
                                                "{node: server, port: 8080, proto: tcp}"))
    lab = loader.load(tmp_path)
    lab_up(lab)
    state = LabState(engine.runtime, engine.running_nodes(lab.name, lab.nodes, instance))
    failed = [r for r in run_checks(state, lab.checks) if not r.passed]
    assert [r.kind for r in failed] == ["listening", "handshake", "teardown", "mss"]
    listening = failed[0]
    assert "nothing listens on tcp 0.0.0.0:8080 on server" in listening.message
    assert listening.expected == "tcp://0.0.0.0:8080"
    assert listening.seen == "tcp://0.0.0.0:80"
    assert "no SYN from client to server:80" in failed[1].message  # no steps ran


def test_verify_three_labs_writes_one_junit_case_per_check(api, node_image, tmp_path):
    junit = tmp_path / "junit.xml"
    result = run_labctl("verify", "labs/handshake-lab", "labs/echo-lab", "labs/udp-lab",
                        "--junit", str(junit), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["handshake-lab", "echo-lab", "udp-lab"]
    for suite in suites:
        lab = loader.load(suite.get("name"), ROOT)
        checks = [c for c in suite.findall("testcase") if c.get("classname").endswith(".checks")]
        # the lab's checks, plus one case for its instructor tests when it has any
        extra = 1 if (ROOT / "labs" / lab.name / "tests").is_dir() else 0
        assert len(checks) == len(lab.checks) + extra
        assert all(c.find("failure") is None for c in suite.findall("testcase"))


def test_verify_fails_a_lab_expecting_the_wrong_port_and_leaves_nothing(api, node_image,
                                                                        tmp_path):
    lab_dir = tmp_path / "wrong-port-lab"
    shutil.copytree(ROOT / "labs/handshake-lab", lab_dir)
    text = (lab_dir / "lab.yaml").read_text()
    (lab_dir / "lab.yaml").write_text(
        text.replace("name: handshake-lab", "name: wrong-port-lab")
        .replace("{node: server, port: 80, proto: tcp}", "{node: server, port: 8080, proto: tcp}"))
    result = run_labctl("verify", str(lab_dir), "--json", timeout=300)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["passed"] is False
    failed = [c for c in report["labs"][0]["checks"] if not c["passed"]]
    assert [c["kind"] for c in failed] == ["listening"]
    assert failed[0]["expected"] == "tcp://0.0.0.0:8080" and failed[0]["seen"] == "tcp://0.0.0.0:80"
    assert api.containers(all=True, filters={"label": naming.LAB + "=wrong-port-lab"}) == []
    assert api.networks(filters={"label": naming.LAB + "=wrong-port-lab"}) == []


def test_check_command_on_a_running_lab(lab_up, instance):
    lab_up("handshake-lab")
    run_labctl("exec", "handshake-lab", "client", "-i", instance, "--", "curl", "-s",
               "http://server/")
    result = run_labctl("check", "handshake-lab", "-i", instance, "--json")
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["passed"] is True


def test_check_on_a_lab_that_is_not_running(instance):
    result = run_labctl("check", "handshake-lab", "-i", instance)
    assert result.returncode == 2
    assert "not fully running" in result.stderr


def test_pytest_collects_labs_and_their_checks(api, node_image, tmp_path):
    import subprocess
    import sys

    shutil.copytree(ROOT / "labs/echo-lab", tmp_path / "echo-lab")
    # The plugin names its instances pytestPID-N: other runs may share the engine.
    proc = subprocess.Popen([sys.executable, "-m", "pytest", str(tmp_path), "-q",
                             "-p", "no:cacheprovider", "--junitxml", str(tmp_path / "j.xml")],
                            stdout=subprocess.PIPE, text=True)
    stdout, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, stdout
    lab = loader.load(tmp_path / "echo-lab")
    cases = ET.parse(tmp_path / "j.xml").getroot().iter("testcase")
    assert len(list(cases)) == len(lab.steps) + len(lab.checks)
    left = api.containers(all=True, filters={"label": naming.LAB + "=echo-lab"})
    assert [c for c in left
            if c["Labels"].get(naming.INSTANCE, "").startswith(f"pytest{proc.pid}-")] == []
