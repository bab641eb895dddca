"""verify and the pytest plugin: instances named by --instance, invalid labs as failed
cases, JUnit that validates, one lab's items on one xdist worker (the real engine)."""

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import xmlschema

from labctl.lab import naming
from tests.conftest import ROOT, run_labctl

pytestmark = pytest.mark.docker
XSD = ROOT / "tests" / "data" / "junit.xsd"


def labs_with_one_invalid(tmp_path):
    labs = tmp_path / "labs"
    for name in ("echo-lab", "udp-lab"):
        shutil.copytree(ROOT / "labs" / name, labs / name)
    (labs / "broken-lab").mkdir()
    (labs / "broken-lab" / "lab.yaml").write_text(
        "name: broken-lab\nnodes:\n  server: {}\nsteps:\n  - on: clinet\n    run: 'true'\n")
    return labs


def left_over(api, prefix):
    return [c["Names"][0] for c in api.containers(all=True, filters={"label": naming.LAB})
            if c["Labels"].get(naming.INSTANCE, "").startswith(prefix)]


def test_verify_with_an_invalid_lab_runs_the_others(api, node_image, tmp_path, instance):
    junit = tmp_path / "x.xml"
    result = run_labctl("verify", str(labs_with_one_invalid(tmp_path)), "--instance", instance,
                        "--junit", str(junit), "--json", timeout=300)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert [(lab["lab"], lab["instance"], lab["passed"]) for lab in report["labs"]] == [
        ("broken-lab", f"{instance}-0", False), ("echo-lab", f"{instance}-1", True),
        ("udp-lab", f"{instance}-2", True)]
    assert report["labs"][0]["problems"] == [
        f"{tmp_path}/labs/broken-lab/lab.yaml:5: steps[0].on: no node named 'clinet' "
        "(nodes are: server)"]
    xmlschema.XMLSchema(str(XSD)).validate(str(junit))
    suites = ET.parse(junit).getroot().findall("testsuite")
    failure = suites[0].find("testcase/failure")
    assert failure is not None and "lab.yaml:5: steps[0].on" in failure.text
    assert all(float(s.get("time")) > 0 and s.get("timestamp") for s in suites[1:])
    assert left_over(api, instance) == []


def test_pytest_keeps_a_lab_on_one_worker_with_real_times(api, node_image, tmp_path,
                                                          instance):
    labs = labs_with_one_invalid(tmp_path)
    junit = tmp_path / "j.xml"
    proc = subprocess.run([sys.executable, "-m", "pytest", str(labs), "-n", "2", "-v",
                           "-p", "no:cacheprovider", "-o", "addopts=", "--instance", instance,
                           "--junitxml", str(junit)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 1, proc.stdout[-3000:]
    workers: dict[str, set[str]] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("[gw") and "lab.yaml::" in line:
            worker, lab = line.split("]")[0], line.split("/lab.yaml::")[0].rsplit("/", 1)[-1]
            workers.setdefault(lab, set()).add(worker)
    assert {lab: len(w) for lab, w in workers.items()} == {
        "broken-lab": 1, "echo-lab": 1, "udp-lab": 1}
    assert "::check 3: 3-way handshake client → server:50007" in proc.stdout
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert "no node named 'clinet'" in cases["lab file is valid"].find("failure").get(
        "message", "") + (cases["lab file is valid"].find("failure").text or "")
    checks = [c for name, c in cases.items() if name.startswith("check ")]
    assert len([c for c in checks if float(c.get("time")) > 0.001]) >= len(checks) // 2
    assert left_over(api, instance) == []


def test_labctl_test_refuses_a_running_lab_and_leaves_it_up(engine, lab_up, instance):
    lab_up("echo-lab")
    result = run_labctl("test", "echo-lab", "--instance", instance)
    assert result.returncode == 2
    assert f"echo-lab is already up as instance '{instance}'" in result.stderr
    assert all(n.running for n in engine.status("echo-lab", instance))
    assert len(engine.status("echo-lab", instance)) == 2
