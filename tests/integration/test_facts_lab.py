"""Node facts against the real engine: ports-lab fetches http://{{ server.ip }}:6789/."""

import pytest

from labctl.checks.run import LabState, run_checks
from labctl.lab import loader
from labctl.service.steps import run_steps
from tests.conftest import ROOT

pytestmark = pytest.mark.docker


def test_server_ip_in_a_step_and_the_http_check(engine, lab_up, instance):
    lab = loader.load("ports-lab", ROOT)
    lab_up(lab)
    nodes = engine.running_nodes(lab.name, lab.nodes, instance)
    steps = run_steps(engine.runtime, lab.steps, nodes)
    assert [s.message for s in steps if not s.passed] == []
    assert f"http://{nodes['server'].ip}:6789/" in steps[1].command
    facts = [c for c in lab.checks if "{{" in str(c.spec)]
    assert facts and all(r.passed for r in run_checks(LabState(engine.runtime, nodes), facts))
