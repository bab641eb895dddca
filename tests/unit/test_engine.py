"""The engine's up, down, rollback and gc paths on the in-memory runtime."""

from __future__ import annotations

import ipaddress

import pytest
from fakelab import up

from labctl.errors import (
    ImageMissing,
    InvalidInput,
    NodeFailed,
    NodeStopped,
    NotRunning,
    RuntimeFailure,
)
from labctl.lab import loader
from labctl.runtime.fake import FakeRuntime
from labctl.service.engine import Engine

LAB = """
name: demo
networks:
  front: {}
  back: {}
nodes:
  router: {networks: [front, back], sysctls: {net.ipv4.ip_forward: 1}}
  server: {networks: [back], services: [http], capture: {}}
  client: {networks: [front], routes: [{to: back, via: router}]}
"""


def test_up_plans_networks_then_nodes_on_the_allocated_subnets():
    engine, _, nodes = up(LAB)
    nets = {n.name: ipaddress.IPv4Network(n.subnet) for n in engine.runtime.networks("demo")}
    assert set(nets) == {"front", "back"}
    assert ipaddress.IPv4Address(nodes["client"].ip) in nets["front"]
    assert ipaddress.IPv4Address(nodes["server"].ip) in nets["back"]
    assert set(nodes["router"].addresses) == {"front", "back"}
    assert all(n.running for n in nodes.values())
    calls = [m for m, _ in engine.runtime.calls]
    # every network exists before the first node starts: planned once, in that order
    assert calls.index("start_node") > max(i for i, m in enumerate(calls)
                                           if m == "create_network")
    assert calls.count("create_network") == 2


def test_up_twice_is_idempotent_and_up_after_a_crash_starts_clean():
    engine, lab, nodes = up(LAB)
    assert engine.up(lab, "t") == sorted(nodes.values(), key=lambda n: n.node)
    engine.runtime.stop(nodes["server"].container)
    again = engine.up(lab, "t")
    assert all(n.running for n in again) and len(again) == 3
    assert len(engine.runtime.networks("demo", "t")) == 2


def test_a_node_that_fails_rolls_the_whole_lab_back():
    fake = FakeRuntime()
    bad = LAB.replace("services: [http]", "services: [{http: {port: 80, user: nobody}}]")
    with pytest.raises(NodeFailed, match="node 'server' failed to start: http exited"):
        up(bad, fake=fake)
    assert fake.nodes() == [] and fake.networks() == []


def test_an_engine_error_mid_way_rolls_back_too():
    fake = FakeRuntime()
    fake.fail_on["start_node"] = RuntimeFailure("Docker engine: no space left")
    with pytest.raises(RuntimeFailure, match="no space left"):
        up(LAB, fake=fake)
    assert fake.nodes() == [] and fake.networks() == []


def test_an_interrupt_during_up_rolls_back():
    fake = FakeRuntime()
    fake.fail_on["wait_ready"] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        up(LAB, fake=fake)
    assert fake.nodes() == [] and fake.networks() == []


def test_a_fixed_subnet_held_elsewhere_names_its_holder_and_creates_nothing():
    fake = FakeRuntime(held={"10.77.0.0/16": "Docker network 'bridge'"})
    lab = "name: clash\nnetworks:\n  lan: {subnet: 10.77.1.0/24}\nnodes:\n  a: {}\n"
    with pytest.raises(InvalidInput, match="network 'lan' wants 10.77.1.0/24, which overlaps "
                                           "10.77.0.0/16 held by Docker network 'bridge'"):
        up(lab, fake=fake)
    assert fake.networks() == []


def test_pooled_subnets_avoid_what_the_host_holds(monkeypatch):
    monkeypatch.setenv("LABCTL_SUBNET_POOL", "10.50.0.0/23")
    fake = FakeRuntime(held={"10.50.0.0/24": "Docker network 'other'"})
    engine, _, _ = up("name: a\nnodes:\n  n: {}\n", fake=fake)
    assert [n.subnet for n in fake.networks()] == ["10.50.1.0/24"]


def test_a_missing_custom_image_is_refused_before_anything_starts():
    fake = FakeRuntime()
    with pytest.raises(ImageMissing, match="image 'mine:1' is not on this host"):
        up("name: a\nnodes:\n  n: {image: 'mine:1'}\n", fake=fake)
    assert fake.networks() == []


def test_down_removes_exactly_one_instance():
    fake = FakeRuntime()
    up(LAB, "alice", fake)
    up(LAB, "bob", fake)
    assert Engine(fake).down("demo", "alice") == (3, 2)
    assert {n.instance for n in fake.nodes()} == {"bob"}
    assert Engine(fake).down("demo", "alice") == (0, 0)


def test_gc_removes_stopped_nodes_and_networks_no_node_uses():
    engine, _, nodes = up(LAB)
    engine.runtime.stop(nodes["server"].container)
    assert engine.gc("t") == (1, 0)  # the router still uses "back"
    engine.runtime.stop(nodes["router"].container)
    assert engine.gc("t") == (1, 1)  # now nothing running uses "back"
    assert [n.node for n in engine.runtime.nodes()] == ["client"]
    assert [n.name for n in engine.runtime.networks()] == ["front"]


def test_running_nodes_says_how_to_bring_the_lab_up(monkeypatch):
    monkeypatch.setenv("LABCTL_INSTANCE", "me")
    engine = Engine(FakeRuntime())
    lab = loader.parse(LAB, "lab.yaml")
    with pytest.raises(NotRunning) as not_up:
        engine.running_nodes("demo", lab.nodes, "me")
    assert str(not_up.value) == ("demo is not fully running (instance 'me'; missing: router, "
                                 "server, client): run `labctl up demo -i me` first")
    engine.up(lab, "other")
    engine.runtime.stop(engine.find_node("demo", "other", "client").container)
    with pytest.raises(NodeStopped) as partly:  # the lab was there: not bad input
        engine.running_nodes("demo", lab.nodes, "other")
    assert partly.value.exit_code == 3
    assert str(partly.value) == ("node client of demo (instance other) stopped: "
                                 "`labctl up demo -i other` repairs it")


def test_find_node_names_the_nodes_there_are():
    engine, _, _ = up(LAB)
    with pytest.raises(InvalidInput, match=r"demo has no node 'web' \(nodes: client, router, "):
        engine.find_node("demo", "t", "web")


def test_down_removes_a_node_that_joined_after_its_listing():
    """A concurrent `up` may start a node between `down`'s listing and the network's
    removal: down removes it too instead of failing on a network in use."""
    engine, _, nodes = up(LAB)
    runtime = engine.runtime
    late = nodes["client"]
    listed = runtime.nodes

    def first_without_the_late_node(lab=None, instance=None):
        runtime.nodes = listed  # only the first listing misses it
        return [n for n in listed(lab, instance) if n.container != late.container]

    runtime.nodes = first_without_the_late_node
    assert engine.down("demo", "t") == (3, 2)
    assert runtime.nodes("demo", "t") == [] and runtime.networks("demo", "t") == []
