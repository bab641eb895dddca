"""The lab catalogue: every lab passes, and each lab's checks fail when its concept
does not happen (the impairment removed, the flood not sent, ...)."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from labctl.lab import naming
from labctl.service.sequence import verify
from tests.conftest import ROOT, run_labctl

pytestmark = pytest.mark.docker

LABS = sorted(p.parent.name for p in (ROOT / "labs").glob("*/lab.yaml"))


def test_catalogue_has_the_ten_labs_each_with_sheets():
    assert sorted(["handshake-lab", "echo-lab", "udp-lab", "ports-lab", "multiplex-lab",
                           "teardown-lab", "mtu-mss-lab", "loss-lab", "syn-flood-lab",
                           "nat-lab"]) == LABS
    for lab in LABS:
        assert (ROOT / "labs" / lab / "README.md").is_file()
        assert (ROOT / "labs" / lab / "INSTRUCTOR.md").is_file()


def test_labctl_verify_passes_every_lab_and_leaves_nothing(api, node_image, tmp_path):
    junit = tmp_path / "junit.xml"
    # Its own process id names its instances (verifyPID-N): other runs may share the engine.
    proc = subprocess.Popen([sys.executable, "-m", "labctl.cli", "verify", "--junit", str(junit),
                             "--workers", "3"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    stdout, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, stdout[-4000:]
    suites = {s.get("name"): s for s in ET.parse(junit).getroot().findall("testsuite")}
    assert sorted(suites) == LABS
    assert all(s.get("failures") == "0" for s in suites.values())
    left = api.containers(all=True, filters={"label": naming.LAB})
    mine = f"verify{proc.pid}-"
    assert [c for c in left if c["Labels"].get(naming.INSTANCE, "").startswith(mine)] == []


# lab, text replacements that take the concept away, check kinds or titles that must fail
BROKEN = [
    ("loss-lab", [("    links: {lan: {loss_percent: 10}}\n", "")],
     {"retransmissions", "fewer than 100 datagrams reached the UDP receiver",
      "the server's capture shows fewer than the 100 datagrams the client sent"}),
    ("mtu-mss-lab", [("links: {lan: {mtu: 1492}}", "links: {lan: {mtu: 1500}}")],
     {"mss", "command"}),
    ("syn-flood-lab", [("-c 200", "-c 1")],
     {"sockets", "the legitimate client is refused by the flooded victim",
      "the protected server sent SYN cookies"}),
    ("teardown-lab", [('"abort!" --abort', '"abort!"')], {"teardown"}),
    ("nat-lab", [("    masquerade: outside\n", "")], {"handshake"}),
    ("ports-lab", [("- http: {port: 80}          # a well-known port", "- http: {port: 8080}")],
     {"listening", "nmap finds 80 and 50007 open, 22, 443 and 8080 closed"}),
    ("echo-lab", [("- echo: {port: 50007}", "- udp: {port: 50007}")],
     {"listening", "handshake", "teardown", "echo", "process"}),
    ("multiplex-lab", [("'app C' --hold 120", "'app C' --hold 0")],
     {"sockets", "three distinct (client IP, client port) pairs"}),
]


def copy_broken(tmp_path: Path, lab: str, replacements) -> Path:
    text = (ROOT / "labs" / lab / "lab.yaml").read_text()
    for old, new in replacements:
        assert old in text, f"{lab}: {old!r} not in lab.yaml"
        text = text.replace(old, new)
    directory = tmp_path / lab
    directory.mkdir()
    (directory / "lab.yaml").write_text(text.replace(f"name: {lab}", f"name: broken-{lab}"))
    return directory / "lab.yaml"


def test_checks_fail_when_the_concept_does_not_happen(engine, tmp_path, api):
    paths = [copy_broken(tmp_path, lab, repl) for lab, repl, _ in BROKEN]
    reports = verify(engine, paths, "tbroken", workers=3)
    for (lab, _, must_fail), report in zip(BROKEN, reports, strict=True):
        assert report.error is None, (lab, report.error)
        failed = {c.kind for c in report.failed_checks} | {c.title for c in report.failed_checks}
        assert not report.passed, lab
        missing = {m for m in must_fail if m not in failed}
        assert not missing, (lab, missing, [(c.title, c.message) for c in report.failed_checks])
    leftovers = api.containers(all=True, filters={"label": naming.LAB})
    assert not [c for c in leftovers if c["Labels"].get(naming.LAB, "").startswith("broken-")]


def test_a_lab_written_from_the_authoring_guide_passes_verify(api, node_image, tmp_path):
    import re

    doc = (ROOT / "docs" / "authoring.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    lab_dir = tmp_path / "sockets-lab"
    lab_dir.mkdir()
    (lab_dir / "lab.yaml").write_text("".join(blocks[:3]))
    result = run_labctl("verify", str(lab_dir), timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
