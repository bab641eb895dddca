"""Issue 18, item 5: a student steered the host's root. The host placed its link-loss
drop on the interface a node named for itself (its address's device, that device's
`iflink`), so a student who moved the address to an interface of a chosen index got the
drop installed on another student's veth. Now the host finds the port from the engine's
side only (the container's sandbox, the lab network's own bridge): a node that lies
leaves every other interface untouched."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from labctl.lab import loader, naming
from labctl.runtime import host_guard, link_loss

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(not link_loss.available(),
                                 reason="host-side loss needs root and nft beside the engine")]

LIAR = """
name: liar-lab
description: a node that lies about its interfaces
nodes:
  server:
    links: {lan: {loss_percent: 50}}
  client: {}
"""


def _port(runtime, info, lab: str, instance: str) -> str:
    sandbox = runtime._api.inspect_container(info.container)["NetworkSettings"]["SandboxKey"]
    bridge = host_guard.bridge_name(naming.network_name(lab, instance, "lan"))
    found = link_loss.node_port(sandbox, bridge)
    assert found is not None
    return found[0]


def _rules() -> str:
    return subprocess.run(["nft", "list", "table", "bridge", link_loss.TABLE],
                          capture_output=True, text=True).stdout


def test_a_node_that_lies_about_its_interface_never_steers_the_host(
        engine, lab_up, instance, tmp_path):
    runtime = engine.runtime
    victim_instance = f"{instance}v"
    victim_lab = loader.load("handshake-lab")
    engine.up(victim_lab, victim_instance)
    try:
        victim = engine.running_nodes("handshake-lab", victim_lab.nodes, victim_instance)
        victim_port = _port(runtime, victim["server"], "handshake-lab", victim_instance)
        victim_index = int(Path(f"/sys/class/net/{victim_port}/ifindex").read_text())

        (tmp_path / "lab.yaml").write_text(LIAR)
        liar_lab = loader.load(tmp_path)
        lab_up(liar_lab)
        liar = engine.running_nodes("liar-lab", liar_lab.nodes, instance)["server"]
        own_port = _port(runtime, liar, "liar-lab", instance)
        assert f'oifname "{own_port}"' in _rules()  # placed where it belongs at `up`

        # The student, root in the node: the address moves to a bridge whose index is the
        # victim's veth, and the agent's in-node drop is made for that dummy.
        ip = liar.addresses["lan"]
        lie = (f"ip link add fake index {victim_index} type bridge && ip link set fake up && "
               f"ip addr del {ip}/24 dev eth0 && ip addr add {ip}/24 dev fake && "
               "iptables -A INPUT -i fake -m statistic --mode random --probability 0.500000 "
               "-j DROP && iptables -A INPUT -i eth0 -m statistic --mode random "
               "--probability 0.500000 -j DROP")
        code, out, err = runtime.run(liar.container, ["sh", "-c", lie])
        assert code == 0, err
        assert runtime.run(liar.container, ["cat", "/sys/class/net/fake/iflink"])[1].strip() \
            == str(victim_index).encode()

        runtime.place_link_loss(liar, "lan", 50)
        rules = _rules()
        assert f'oifname "{victim_port}"' not in rules, rules
        other_ports = [p for p in link_loss.bridge_ports(host_guard.bridge_name(
            naming.network_name("handshake-lab", victim_instance, "lan"))).values()]
        assert not any(f'oifname "{p}"' in rules for p in other_ports), rules
    finally:
        engine.down("handshake-lab", victim_instance)
