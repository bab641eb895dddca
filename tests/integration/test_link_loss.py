"""A lossy link looks like one (the real engine): loss-lab's server captures fewer
datagrams than the client sent, and nothing in the server drops packets itself."""

import pytest

from labctl.lab import loader
from labctl.runtime import link_loss as linkloss
from labctl.service.steps import run_steps
from labctl.trace.analysis import analyse
from tests.conftest import ROOT

pytestmark = pytest.mark.docker


def datagrams(engine, info) -> int:
    result = analyse(engine.runtime.read_file(info.container, info.capture))
    return sum(len(f.datagrams) for f in result.udp_flows if f.dst[1] == 50001)


@pytest.mark.skipif(not linkloss.available(), reason="host-side loss needs root and nft")
def test_the_servers_capture_misses_what_the_link_lost(engine, lab_up, instance):
    lab = loader.load("loss-lab", ROOT)
    lab_up(lab)
    nodes = engine.running_nodes(lab.name, lab.nodes, instance)
    code, out, _ = engine.runtime.run(nodes["server"].container, ["iptables", "-S", "INPUT"])
    assert code == 0 and b"DROP" not in out  # the drop is on the host, not in the node
    steps = run_steps(engine.runtime, lab.steps, nodes)
    assert all(s.passed for s in steps), [s.message for s in steps]
    sent, captured = datagrams(engine, nodes["client"]), datagrams(engine, nodes["server"])
    received = int(engine.runtime.run(nodes["server"].container,
                                      ["cat", "/tmp/udp_count"])[1])
    assert sent == 100
    assert 60 <= captured < 100
    assert received == captured  # what the server's capture shows is what arrived
