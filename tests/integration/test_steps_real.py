"""Steps against the real engine: background output in the node's log, names, regexes."""

import time

import pytest

from labctl.lab import loader
from labctl.service.steps import run_steps

pytestmark = pytest.mark.docker

LAB = """
name: steps-lab
nodes:
  client: {}
steps:
  - name: a listener in the background
    on: client
    background: true
    run: echo "listening on {{ client.ip }}"; echo oops >&2
  - name: the regex sees the address
    on: client
    run: ip -4 -br addr show eth0
    stdout_matches: '^eth0\\S* +UP +{{ client.ip }}/'
  - on: client
    run: echo "no such thing"; exit 3
"""


def test_background_output_reaches_labctl_logs_and_failures_show_output(
        engine, lab_up, instance, tmp_path):
    (tmp_path / "lab.yaml").write_text(LAB)
    lab = loader.load(tmp_path)
    lab_up(lab)
    nodes = engine.running_nodes(lab.name, lab.nodes, instance)
    results = run_steps(engine.runtime, lab.steps, nodes)
    assert [r.passed for r in results] == [True, True, False]
    assert results[1].name == "the regex sees the address"
    assert results[2].message == "exited with 3, expected 0"
    assert results[2].output == "no such thing\n"
    client = nodes["client"]
    deadline = time.monotonic() + 5
    while True:
        log = b"".join(engine.runtime.logs(client.container, follow=False, tail=50)).decode()
        if "[step 1] oops" in log or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert f"[step 1] listening on {client.ip}" in log
    assert "[step 1] oops" in log
