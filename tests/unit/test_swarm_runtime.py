"""The swarm runtime's own decisions, without a swarm: names, ranges, placement, settings."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from labctl.errors import InvalidInput
from labctl.lab import naming
from labctl.runtime.swarm import HOST, SwarmConfig, SwarmRuntime, overlay_name, swarm_range


def test_overlay_names_are_one_dns_label_ordered_by_the_labs_network_names():
    longest = "n" * 32
    name = overlay_name("l" * 32, "i" * 31, longest)
    assert len(name) <= 63 and "." not in name and name.endswith(f"-{longest}")
    a, b = overlay_name("lab", "x", "back"), overlay_name("lab", "x", "front")
    assert a < b and a.rsplit("-", 1)[0] == b.rsplit("-", 1)[0]  # one prefix per lab
    assert overlay_name("lab", "x", "lan") != overlay_name("lab", "y", "lan")


@pytest.mark.parametrize("subnet", ["10.213.7.0/24", "10.213.0.0/16", "10.213.7.0/27"])
def test_the_swarms_own_addresses_never_meet_the_planned_ones(subnet):
    net = ipaddress.IPv4Network(subnet)
    swarm = ipaddress.IPv4Network(swarm_range(subnet))
    assert swarm.subnet_of(net) and swarm.broadcast_address == net.broadcast_address
    planned = list(net.hosts())[1:][: net.num_addresses * 7 // 8 - 2]  # .2 upward
    assert not any(ip in swarm for ip in planned)


def test_settings_come_from_the_environment_and_are_checked(monkeypatch, tmp_path):
    monkeypatch.delenv("LABCTL_SWARM_MANAGER", raising=False)
    with pytest.raises(InvalidInput, match="LABCTL_SWARM_MANAGER"):
        SwarmConfig.from_env()
    monkeypatch.setenv("LABCTL_SWARM_MANAGER", "tcp://10.0.0.11:2377")
    monkeypatch.setenv("LABCTL_SWARM_CERTS", str(tmp_path))
    config = SwarmConfig.from_env()
    assert config.port == 2377 and config.placement == "lab"
    with pytest.raises(InvalidInput, match="lacks ca.pem, cert.pem, key.pem"):
        config.check()
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    config.check()
    with pytest.raises(InvalidInput, match="tcp://"):
        SwarmConfig("https://host:2376", tmp_path).check()
    with pytest.raises(InvalidInput, match="placement"):
        SwarmConfig("tcp://host:2376", tmp_path, "random").check()


def test_labctl_runtime_chooses_the_runtime(monkeypatch):
    from labctl import runtime
    monkeypatch.setenv("LABCTL_RUNTIME", "kubernetes")
    with pytest.raises(InvalidInput, match="docker or swarm"):
        runtime.connect()
    monkeypatch.setenv("LABCTL_RUNTIME", "swarm")
    monkeypatch.delenv("LABCTL_SWARM_MANAGER", raising=False)
    with pytest.raises(InvalidInput, match="LABCTL_SWARM_MANAGER"):
        runtime.connect()


class _Manager:
    """The manager's answers the placement reads: its hosts and labelled networks."""

    def __init__(self, hosts: dict[str, str], labs: list[tuple[str, str, str, int]]):
        self._hosts, self._labs = hosts, labs

    def nodes(self):
        return [{"Description": {"Hostname": name}, "Spec": {"Availability": "active"},
                 "Status": {"State": state, "Addr": f"10.0.0.{i}"}}
                for i, (name, state) in enumerate(self._hosts.items(), 1)]

    def networks(self, filters=None, ids=None):
        wanted = dict(f.split("=", 1) for f in (filters or {}).get("label", []) if "=" in f)
        found = []
        for lab, instance, host, nodes in self._labs:
            labels = {naming.LAB: lab, naming.INSTANCE: instance, naming.NETWORK: "lan",
                      naming.LAB_NODES: ",".join(f"n{i}" for i in range(nodes)), HOST: host}
            if all(labels.get(k) == v for k, v in wanted.items()):
                found.append({"Id": f"{lab}-{instance}", "Name": "x", "Labels": labels,
                              "IPAM": {"Config": []}})
        return found


def _runtime(manager: _Manager) -> SwarmRuntime:
    return SwarmRuntime(SwarmConfig("tcp://10.0.0.1:2376", Path("/nonexistent")),
                        client=lambda url: manager)


def test_a_new_lab_goes_to_the_ready_host_with_the_fewest_lab_nodes():
    manager = _Manager({"h1": "ready", "h2": "ready", "h3": "down"},
                       [("a", "s1", "h1", 3), ("b", "s2", "h2", 2), ("c", "s3", "h3", 0)])
    runtime = _runtime(manager)
    assert runtime._lab_nodes_per_host() == {"h1": 3, "h2": 2, "h3": 0}
    ready = runtime._ready_hosts()
    assert [h.name for h in ready] == ["h1", "h2"]  # h3 is down: never chosen
    assert runtime._emptiest(ready, runtime._lab_nodes_per_host()) == "h2"
    assert runtime._lab_host("a", "s1") == "h1"  # a lab stays where it was placed
    assert runtime._lab_host("a", "nobody") is None
