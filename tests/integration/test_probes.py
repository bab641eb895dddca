"""labctl's own probes never make a wire check pass (the real engine).

A lab with one check of every wire kind beside every active check: on an
untouched lab, `check` three times fails every wire check three times
(the active checks' own connections are left out); after the student's
steps it passes three times, and the counts (`at_most: 1`) prove the
probes' connections were not counted.
"""

import pytest

from labctl.checks.run import LabState, run_checks
from labctl.lab import loader
from labctl.lab.check_kinds import KINDS
from labctl.service.steps import run_steps
from tests.conftest import ROOT

pytestmark = pytest.mark.docker

LAB = """
name: probe-lab
nodes:
  server:
    services: [http, echo, udp]
    capture: {}
  client: {}
steps:
  - on: client
    run: python3 /opt/labctl/clients/tcp_client.py server 50007 "Hello, world"
  - on: client
    run: python3 /opt/labctl/clients/udp_client.py server 50000 hello 1
  - on: client
    run: curl -s http://server/
checks:
  - handshake: {client: client, server: server, port: 50007}
  - teardown: {client: client, server: server, port: 50007, kind: fin}
  - mss: {client: client, server: server, port: 50007, mss: 1460}
  - connections: {client: client, server: server, port: 50007, at_least: 1, at_most: 1}
  - retransmissions: {client: client, server: server, port: 50007, at_least: 0, at_most: 0}
  - handshake: {client: client, server: server, port: 80}
  - datagrams: {client: client, server: server, port: 50000, at_least: 1, at_most: 1}
  - no_handshake: {client: client, server: server, port: 50000}
  - echo: {from: client, to: server}
  - udp_delivered: {from: client, to: server, message: probe}
  - reachable: {from: client, to: server, port: 50007}
  - reachable: {from: client, to: server, port: 80}
  - http: {from: client, url: "http://server/"}
"""


def test_checks_judge_only_the_students_traffic(engine, lab_up, instance, tmp_path):
    (tmp_path / "lab.yaml").write_text(LAB)
    lab = loader.load(tmp_path)
    wire_kinds = {k for k, kind in KINDS.items() if kind.reads_captures}
    assert {c.kind for c in lab.checks} >= wire_kinds
    lab_up(lab)
    nodes = engine.running_nodes(lab.name, lab.nodes, instance)
    for _ in range(3):
        results = run_checks(LabState(engine.runtime, nodes), lab.checks)
        assert [r.title for r in results if r.kind in wire_kinds and r.passed] == []
        assert [r.title for r in results if r.kind not in wire_kinds and not r.passed] == []
    assert all(s.passed for s in run_steps(engine.runtime, lab.steps, nodes))
    for _ in range(3):
        results = run_checks(LabState(engine.runtime, nodes), lab.checks)
        assert [(r.title, r.message) for r in results if not r.passed] == []


def test_every_node_reserves_the_probe_range(engine, lab_up, instance):
    lab = loader.load("echo-lab", ROOT)
    lab_up(lab)
    nodes = engine.running_nodes(lab.name, lab.nodes, instance)
    for info in nodes.values():
        code, out, _ = engine.runtime.run(
            info.container, ["cat", "/proc/sys/net/ipv4/ip_local_reserved_ports"])
        assert (code, out.decode().strip()) == (0, "61000-61999")
