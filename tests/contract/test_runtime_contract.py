"""The runtime contract: what every Runtime (runtime/base.py) must do, run against each.

The same tests run against the in-memory fake and against Docker (marked
`docker`); a new runtime (Kubernetes) joins by adding one parameter. Nodes
are planned with labctl's own planner, so the tests speak labctl's terms.
"""

from __future__ import annotations

import ipaddress

import pytest

from labctl.errors import (
    ImageMissing,
    LabctlError,
    NetworkInUse,
    NodeFailed,
    RuntimeFailure,
    SubnetTaken,
)
from labctl.lab import loader
from labctl.lab.plan import NetworkPlan, plan_nodes
from labctl.runtime.agent_protocol import READY
from labctl.runtime.base import ExecResult, NodeInfo, Runtime

LAB = """
name: contract-lab
networks:
  front: {}
  back: {}
nodes:
  server:
    networks: [front, back]
    services: [{echo: {port: 50007}}]
    capture: {}
  client:
    networks: [front]
"""
SCRIPT = "echo out; echo err >&2; exit 3"


@pytest.fixture(params=["fake", pytest.param("docker-sdk", marks=pytest.mark.docker),
                        pytest.param("docker-engine-api", marks=pytest.mark.docker),
                        pytest.param("swarm", marks=pytest.mark.docker)])
def runtime(request) -> Runtime:
    """The fake; Docker through the SDK (runtime/engine_sdk.py); Docker through labctl's
    own Engine API client over the local socket (runtime/engine_api.py, what `labctl up`
    uses); a Docker Swarm (the session's test swarm, over mutual TLS: runtime/swarm.py)."""
    if request.param == "fake":
        from labctl.runtime.fake import FakeRuntime
        fake = FakeRuntime()
        # The fake answers commands only as told: this one as a shell would.
        fake.answer(ExecResult(3, b"out\n", b"err\n"), contains=SCRIPT)
        return fake
    if request.param == "swarm":
        from labctl.runtime.swarm import SwarmConfig, SwarmRuntime
        cluster = request.getfixturevalue("swarm_cluster")
        rt = SwarmRuntime(SwarmConfig(cluster.manager.url, cluster.certs))
        rt.ensure_image()
        return rt
    from labctl.runtime import DockerRuntime
    from labctl.runtime.engine_api import EngineAPI, unix_socket
    from labctl.runtime.engine_sdk import SdkEngine
    api = request.getfixturevalue("api")  # an engine answers (or CI fails here)
    if request.param == "docker-engine-api":
        path = unix_socket(None)
        if path is None:
            pytest.skip("the Engine API client speaks to a local Unix socket only")
        rt = DockerRuntime(EngineAPI(path))
    else:
        rt = DockerRuntime(SdkEngine(api))
    rt.ensure_image()
    return rt


@pytest.fixture
def lab_space(runtime, instance):
    """Networks and nodes made by a test; removed afterwards whatever happened."""
    yield runtime, instance
    for node in runtime.nodes("contract-lab", instance):
        runtime.remove_node(node)
    for net in runtime.networks("contract-lab", instance):
        runtime.remove_network(net)


def _up(runtime: Runtime, instance: str, text: str = LAB) -> dict[str, NodeInfo]:
    lab = loader.parse(text, "lab.yaml")
    subnets = {}
    for name in lab.networks:
        net = runtime.create_network(NetworkPlan(lab.name, instance, name))
        subnets[name] = net.subnet
    for node in plan_nodes(lab, instance, subnets, runtime.ensure_image()):
        container = runtime.start_node(node)
        runtime.wait_ready(container, node.name)
    return {n.node: n for n in runtime.nodes(lab.name, instance)}


def test_networks_get_free_subnets_from_the_pool_and_are_listed(lab_space):
    runtime, instance = lab_space
    front = runtime.create_network(NetworkPlan("contract-lab", instance, "front"))
    back = runtime.create_network(NetworkPlan("contract-lab", instance, "back"))
    pool = ipaddress.IPv4Network("10.213.0.0/16")
    assert ipaddress.IPv4Network(front.subnet).subnet_of(pool)
    assert not ipaddress.IPv4Network(front.subnet).overlaps(ipaddress.IPv4Network(back.subnet))
    listed = {(n.name, n.subnet) for n in runtime.networks("contract-lab", instance)}
    assert listed == {("front", front.subnet), ("back", back.subnet)}
    assert runtime.networks("contract-lab", instance + "x") == []


def test_a_fixed_subnet_already_held_is_refused_naming_the_holder(lab_space):
    runtime, instance = lab_space
    held = runtime.create_network(NetworkPlan("contract-lab", instance, "front"))
    with pytest.raises(SubnetTaken) as taken:
        runtime.create_network(NetworkPlan("contract-lab", instance, "back", held.subnet))
    assert taken.value.held == held.subnet and "front" in taken.value.holder
    assert [n.name for n in runtime.networks("contract-lab", instance)] == ["front"]


def test_a_network_with_a_node_on_it_is_not_removed(lab_space):
    """NetworkInUse, so `down` can remove a node a concurrent `up` put there, then retry."""
    runtime, instance = lab_space
    _up(runtime, instance)
    front = next(n for n in runtime.networks("contract-lab", instance) if n.name == "front")
    with pytest.raises(NetworkInUse):
        runtime.remove_network(front)
    assert "front" in {n.name for n in runtime.networks("contract-lab", instance)}


def test_nodes_start_on_their_planned_addresses_and_report_them(lab_space):
    runtime, instance = lab_space
    nodes = _up(runtime, instance)
    server, client = nodes["server"], nodes["client"]
    assert server.running and client.running
    assert set(server.addresses) == {"front", "back"} and set(client.addresses) == {"front"}
    assert server.ip == server.addresses["front"]
    assert server.services == "echo/tcp/50007"
    assert server.capture == "/captures/server.pcap" and client.capture == ""
    assert (server.lab, server.instance) == ("contract-lab", instance)


def test_commands_run_to_completion_with_exit_code_and_both_streams(lab_space):
    runtime, instance = lab_space
    client = _up(runtime, instance)["client"]
    assert runtime.run(client.container, ["sh", "-c", SCRIPT]) == (3, b"out\n", b"err\n")
    stream = runtime.exec_stream(client.container, ["sh", "-c", SCRIPT])
    chunks = list(stream)
    assert b"".join(o for o, _ in chunks if o) == b"out\n"
    assert b"".join(e for _, e in chunks if e) == b"err\n"
    assert stream.exit_code == 3
    runtime.start_background(client.container, ["sh", "-c", "sleep 30"])  # returns at once


def test_files_and_logs_of_a_node(lab_space):
    runtime, instance = lab_space
    server = _up(runtime, instance)["server"]
    assert runtime.read_file(server.container, "/etc/hostname") == b"server\n"
    with pytest.raises(RuntimeFailure):
        runtime.read_file(server.container, "/no/such/file")
    logs = b"".join(runtime.logs(server.container, follow=False)).decode()
    assert READY in logs


def test_a_node_whose_service_cannot_start_fails_readiness(lab_space):
    runtime, instance = lab_space
    bad = LAB.replace("services: [{echo: {port: 50007}}]",
                      "services: [{http: {port: 80, user: nobody}}]")
    with pytest.raises(NodeFailed, match="failed to start: http exited"):
        _up(runtime, instance, bad)


def test_removal_is_idempotent_and_leaves_nothing(lab_space):
    runtime, instance = lab_space
    nodes = _up(runtime, instance)
    for node in nodes.values():
        runtime.remove_node(node)
        runtime.remove_node(node)  # already gone: not an error
    assert runtime.nodes("contract-lab", instance) == []
    for net in runtime.networks("contract-lab", instance):
        runtime.remove_network(net)
        runtime.remove_network(net)
    assert runtime.networks("contract-lab", instance) == []


def test_errors_are_labctls_own(lab_space):
    runtime, instance = lab_space
    gone = f"labctl.{instance}.contract-lab.nobody"
    for call in (lambda: runtime.run(gone, ["true"]),
                 lambda: runtime.read_file(gone, "/etc/hostname"),
                 lambda: runtime.start_background(gone, ["true"])):
        with pytest.raises(LabctlError):
            call()
    with pytest.raises(ImageMissing):
        runtime.ensure_image("labctl-test/no-such-image:never")
