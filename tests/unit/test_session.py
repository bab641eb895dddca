"""A session never takes down a lab it did not bring up."""

from __future__ import annotations

import pytest
from fakelab import up

from labctl.errors import LabBusy
from labctl.lab import loader
from labctl.service import sequence as runner
from labctl.service.lab_run import lab_session

LAB = """
name: busy
nodes:
  server: {}
"""


def test_a_running_lab_is_refused_and_left_running(tmp_path):
    engine, lab, _ = up(LAB, instance="class")  # an instructor's running lab
    with pytest.raises(LabBusy, match="busy is already up as instance 'class'"), \
            lab_session(engine, lab, "class"):
        pass
    (tmp_path / "lab.yaml").write_text(LAB)
    report = runner.test_lab(engine, loader.load(tmp_path / "lab.yaml"), "class",
                             lab_path=tmp_path / "lab.yaml")
    assert "labctl check busy --instance class" in report.error
    assert [n.status for n in engine.status("busy", "class")] == ["running"]


def test_a_fresh_instance_is_brought_up_and_taken_down(tmp_path):
    engine, lab, _ = up(LAB, instance="class")
    (tmp_path / "lab.yaml").write_text(LAB)
    report = runner.test_lab(engine, loader.load(tmp_path / "lab.yaml"), "ci-1",
                             lab_path=tmp_path / "lab.yaml")
    assert report.error is None and report.nodes
    assert engine.status("busy", "ci-1") == []
    assert len(engine.status("busy", "class")) == 1
