"""The swarm runtime's own decisions, without a swarm: names, ranges, placement, settings."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from labctl.errors import EngineUnavailable, InvalidInput
from labctl.lab import naming
from labctl.runtime import swarm_labs
from labctl.runtime.swarm import HOST_DOWN, SwarmConfig, SwarmRuntime
from labctl.runtime.swarm_labs import HOST, overlay_name, swarm_range


def test_overlay_names_are_one_dns_label_ordered_by_the_labs_network_names():
    longest = "n" * 32
    name = overlay_name("l" * 32, "i" * 31, longest)
    assert len(name) <= 63 and "." not in name and name.endswith(f"-{longest}")
    a, b = overlay_name("lab", "x", "back"), overlay_name("lab", "x", "front")
    assert a < b and a.rsplit("-", 1)[0] == b.rsplit("-", 1)[0]  # one prefix per lab
    assert overlay_name("lab", "x", "lan") != overlay_name("lab", "y", "lan")
    assert overlay_name("lab", "x", "lan", 2) != overlay_name("lab", "x", "lan")


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
    """The manager's answers: its hosts, and the labelled networks of labs placed on them."""

    def __init__(self, hosts: dict[str, str], labs: list[tuple[str, str, str, int, int]]):
        self._hosts, self._labs = hosts, labs

    def nodes(self):
        return [{"Description": {"Hostname": name}, "Spec": {"Availability": "active"},
                 "Status": {"State": state, "Addr": f"10.0.0.{i}"}}
                for i, (name, state) in enumerate(self._hosts.items(), 1)]

    def networks(self, filters=None, ids=None):
        wanted = dict(f.split("=", 1) for f in (filters or {}).get("label", []) if "=" in f)
        found = []
        for lab, instance, host, nodes, generation in self._labs:
            labels = {naming.LAB: lab, naming.INSTANCE: instance, naming.NETWORK: "lan",
                      naming.LAB_NODES: ",".join(f"n{i}" for i in range(nodes)), HOST: host,
                      swarm_labs.GENERATION: str(generation)}
            if all(labels.get(k) == v for k, v in wanted.items()):
                found.append({"Id": f"{lab}-{instance}-{generation}",
                              "Name": overlay_name(lab, instance, "lan", generation),
                              "Labels": labels, "IPAM": {"Config": []}})
        return found

    def remove_network(self, handle):
        self.removed = [*getattr(self, "removed", []), handle]


class _Engine:
    """A host's engine that lists no node (or does not answer)."""

    def __init__(self, answers: bool):
        self._answers = answers

    def containers(self, **_):
        if not self._answers:  # as an engine client says it (EngineClient's errors)
            raise EngineUnavailable("cannot reach the Docker engine: timed out")
        return []


def _runtime(manager: _Manager, silent: tuple[str, ...] = ()) -> SwarmRuntime:
    def client(url, timeout):
        if url == "tcp://10.0.0.1:2376" and timeout == 60:
            return manager
        return _Engine(not any(url.startswith(f"tcp://{a}:") for a in silent))
    return SwarmRuntime(SwarmConfig("tcp://10.0.0.1:2376", Path("/nonexistent")), client=client)


def test_a_new_lab_goes_to_the_ready_host_with_the_fewest_lab_nodes():
    labs = swarm_labs.by_lab(_Manager({}, [("a", "s1", "h1", 3, 0), ("b", "s2", "h2", 2, 0),
                                           ("c", "s3", "h3", 9, 0)]).networks())
    counts = swarm_labs.nodes_per_host(labs)
    assert counts == {"h1": 3, "h2": 2, "h3": 9}
    assert swarm_labs.emptiest(["h1", "h2"], counts) == "h2"  # h3 is down: not offered
    assert swarm_labs.emptiest(["h1", "h4"], counts) == "h4"


def test_the_newest_generation_of_a_labs_networks_is_the_live_one():
    labs = swarm_labs.by_lab(_Manager({}, [("a", "s1", "h1", 2, 0),
                                           ("a", "s1", "h2", 2, 1)]).networks())
    record = labs[("a", "s1")]
    assert (record.host, record.generation, record.nodes) == ("h2", 1, ("n0", "n1"))
    assert [n["Id"] for n in record.retired] == ["a-s1-0"]
    assert record.names() == {"lan": overlay_name("a", "s1", "lan", 1)}


def test_a_lab_on_a_host_that_is_down_or_silent_shows_its_nodes_there_as_host_down():
    manager = _Manager({"h1": "ready", "h2": "down", "h3": "ready"},
                       [("a", "s1", "h2", 2, 0), ("b", "s2", "h3", 1, 0)])
    found = _runtime(manager, silent=("10.0.0.3",)).nodes()
    assert sorted((n.lab, n.node, n.status, n.host) for n in found) == [
        ("a", "n0", HOST_DOWN, "h2"), ("a", "n1", HOST_DOWN, "h2"),
        ("b", "n0", HOST_DOWN, "h3")]
    assert not any(n.running for n in found)


def test_retired_networks_are_not_listed_and_are_removed_when_seen():
    manager = _Manager({"h1": "ready"}, [("a", "s1", "h2", 2, 0), ("a", "s1", "h1", 2, 1)])
    listed = _runtime(manager).networks("a", "s1")
    assert [n.handle for n in listed] == ["a-s1-1"] and manager.removed == ["a-s1-0"]


def test_status_says_which_host_a_broken_lab_is_on():
    from labctl.runtime.base import NetworkInfo, NodeInfo
    from labctl.service.half_made import half_made
    nodes = [NodeInfo("a", "s1", n, f"labctl.s1.a.{n}", HOST_DOWN, "", "", "", host="h2")
             for n in ("client", "server")]
    broken = half_made(nodes, [NetworkInfo("a", "s1", "lan", "10.213.1.0/24", "x",
                                           ("client", "server"))])
    assert "not running: client, server on h2 (host down);" in broken[("a", "s1")]
