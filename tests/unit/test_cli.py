"""The command line's exit codes and outputs, on the in-memory runtime."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clirun import labctl
from fakelab import Shell, install

from labctl.errors import RuntimeFailure
from labctl.runtime.fake import FakeRuntime

LAB = """
name: demo
nodes:
  server: {services: [http]}
  client: {}
steps:
  - {on: client, run: "curl -s http://server/", stdout_contains: Hello}
checks:
  - command: {on: server, run: "cat /srv/ok", stdout_contains: "yes"}
"""


@pytest.fixture
def fake(monkeypatch):
    runtime = FakeRuntime()
    monkeypatch.setattr("labctl.runtime.connect", lambda: runtime)
    monkeypatch.setenv("LABCTL_INSTANCE", "me")
    install(runtime, {"client": Shell({"curl": (0, "Hello World!")}),
                      "server": Shell({"cat /srv/ok": (0, "yes\n"), "exit 7": (7, "")})})
    return runtime


@pytest.fixture
def lab(tmp_path):
    (tmp_path / "lab.yaml").write_text(LAB)
    return str(tmp_path)


def test_up_status_down(fake, lab, capsys):
    code, out, _ = labctl(capsys, "up", lab)
    assert code == 0 and "demo is up (instance me)" in out and "labctl down demo" in out
    code, out, _ = labctl(capsys, "status", "--json")
    [listed] = json.loads(out)["labs"]
    assert code == 0 and (listed["lab"], listed["instance"]) == ("demo", "me")
    assert {n["node"] for n in listed["nodes"]} == {"server", "client"}
    code, _, err = labctl(capsys, "down", "demo")
    assert code == 0 and "removed demo: 2 containers, 1 networks" in err
    assert fake.nodes() == []


def test_every_json_report_has_one_shape(fake, lab, capsys):
    keys = {"lab", "instance", "path", "passed", "error", "broken", "nodes", "steps", "checks",
            "seconds", "problems", "started"}
    # test on an instance of its own: it refuses a lab that is already up
    for command in (["up", lab], ["status"], ["check", lab], ["test", lab, "-i", "ci"],
                    ["verify", lab]):
        code, out, _ = labctl(capsys, *command, "--json")
        data = json.loads(out)
        assert code == 0, command
        assert set(data) == {"schema", "command", "passed", "labs"}
        assert data["schema"] == "labctl.service.report/1" and data["command"] == command[0]
        assert data["passed"] is True and len(data["labs"]) == 1
        assert set(data["labs"][0]) == keys, command
        assert data["labs"][0]["lab"] == "demo"
    assert [n["node"] for n in data["labs"][0]["nodes"]] == ["client", "server"]


def test_invalid_lab_exits_2_naming_file_line_and_key(fake, tmp_path, capsys):
    (tmp_path / "lab.yaml").write_text("name: demo\nnodes:\n  a: {privileged: true}\n")
    code, _, err = labctl(capsys, "up", str(tmp_path))
    assert code == 2 and "lab.yaml:3: nodes.a" in err
    assert fake.calls == []  # nothing asked of the runtime


def test_check_exit_codes(fake, lab, capsys):
    code, _, err = labctl(capsys, "check", lab)
    assert code == 2 and ("demo is not fully running (instance 'me'; missing: server, "
                          "client): run `labctl up demo -i me` first") in err
    labctl(capsys, "up", lab)
    code, out, _ = labctl(capsys, "check", lab, "--json")
    assert code == 0 and json.loads(out)["passed"] is True
    install(fake, {"server": Shell({"cat /srv/ok": (0, "no\n")})})
    code, out, _ = labctl(capsys, "check", lab)
    assert code == 1 and "did not print 'yes'" in out


def test_exec_passes_the_exit_code_on(fake, lab, capsys):
    labctl(capsys, "up", lab)
    code, _, _ = labctl(capsys, "exec", lab, "server", "--", "sh", "-c", "exit 7")
    assert code == 7
    code, _, err = labctl(capsys, "exec", lab, "web", "--", "true")
    assert code == 2 and "demo has no node 'web'" in err


def test_test_runs_the_whole_lab_and_leaves_nothing(fake, lab, capsys):
    code, out, _ = labctl(capsys, "test", lab)
    assert code == 0 and "PASS step 1 on client" in out
    assert fake.nodes() == [] and fake.networks() == []
    install(fake, {"client": Shell({"curl": (7, "")})})
    code, out, _ = labctl(capsys, "test", lab, "--json")
    report = json.loads(out)
    assert code == 1 and report["passed"] is False
    assert report["labs"][0]["steps"][0]["message"] == "exited with 7, expected 0"
    assert fake.nodes() == [] and fake.networks() == []


def test_verify_reports_every_lab(fake, lab, tmp_path, capsys):
    junit = tmp_path / "junit.xml"
    code, out, _ = labctl(capsys, "verify", lab, lab, "--junit", str(junit))
    assert code == 0 and out.count("PASS") == 2
    assert junit.read_text().count("<testcase") == 4
    assert fake.nodes() == []


def test_an_engine_failure_exits_3_in_one_line(fake, lab, capsys):
    fake.fail_on["nodes"] = RuntimeFailure("Docker engine: connection refused")
    code, _, err = labctl(capsys, "status")
    assert code == 3 and err == "labctl: error: Docker engine: connection refused\n"


def test_verify_reports_an_invalid_lab_as_a_failed_case_and_runs_the_others(
        fake, tmp_path, capsys):
    import xml.etree.ElementTree as ET

    import xmlschema
    for name, text in (("a-lab", LAB.replace("demo", "a-lab")),
                       ("b-lab", "name: b-lab\nnodes:\n  server: {privileged: true}\n"),
                       ("c-lab", LAB.replace("demo", "c-lab"))):
        (tmp_path / "labs" / name).mkdir(parents=True)
        (tmp_path / "labs" / name / "lab.yaml").write_text(text)
    junit = tmp_path / "x.xml"
    code, out, _ = labctl(capsys, "verify", str(tmp_path / "labs"), "--instance", "ci",
                          "--junit", str(junit), "--json")
    report = json.loads(out)
    assert code == 1
    assert [(r["lab"], r["instance"], r["passed"]) for r in report["labs"]] == [
        ("a-lab", "ci-0", True), ("b-lab", "ci-1", False), ("c-lab", "ci-2", True)]
    [problem] = report["labs"][1]["problems"]
    assert "b-lab/lab.yaml:3: nodes.server" in problem
    xmlschema.XMLSchema(str(Path(__file__).parents[1] / "data" / "junit.xsd")).validate(
        str(junit))
    suites = ET.parse(junit).getroot().findall("testsuite")
    invalid = suites[1].find("testcase")
    assert invalid.get("name") == "lab file is valid" and "lab.yaml:3" in \
        invalid.find("failure").text
    assert suites[0].get("id") == "ci-0" and suites[0].get("failures") == "0"
    assert fake.nodes() == []


def test_status_in_a_pipe_prints_every_value_whole(fake, tmp_path, capsys, monkeypatch):
    """A script greps `labctl status | grep LAB`: never `handshak…` at 80 columns."""
    from labctl import console
    name = "handshake-lab-long-name"
    (tmp_path / "lab.yaml").write_text(LAB.replace("name: demo", f"name: {name}"))
    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.setattr(console.out, "_width", 60)  # rich reads COLUMNS once
    assert labctl(capsys, "up", str(tmp_path))[0] == 0
    code, out, _ = labctl(capsys, "status")
    assert code == 0 and "…" not in out
    lines = out.splitlines()
    assert lines[0].split() == ["Lab", "Instance", "Node", "State", "IP", "MAC", "Services"]
    report = json.loads(labctl(capsys, "status", "--json")[1])
    for node in report["labs"][0]["nodes"]:
        line = next(x for x in lines if f" {node['node']} " in x)
        assert line.split()[:6] == [name, "me", node["node"], node["status"], node["ip"],
                                    node["mac"]]
