"""No packet leaves a lab: from every node with NET_RAW or NET_ADMIN, of every lab and
of a router lab, try every way out toward a test host of the test's own (a network
namespace beside the lab) and to the host itself; nothing may arrive.

The control removes labctl's host guard for a moment and shows that the same
attempt from nat-lab's router then does reach the test host: the test can fail.
Traffic only ever goes to 198.18.0.2 and fd00:198:18::2 (the test host) and
198.18.0.1 and fd00:198:18::1 (the test's own veth addresses on the host, where
the test listens).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from labctl.lab import loader, naming
from labctl.runtime import host_guard as isolation
from tests.conftest import ROOT, SESSION_PREFIX

pytestmark = pytest.mark.docker

HERE = Path(__file__).parent
HOST_SIDE, TEST_HOST = "198.18.0.1", "198.18.0.2"
HOST_SIDE6, TEST_HOST6 = "fd00:198:18::1", "fd00:198:18::2"  # a prefix of the test's own
PORT = 9  # discard: nothing on the test host answers (its output is dropped anyway)
LABS = sorted(p.parent.name for p in (ROOT / "labs").glob("*/lab.yaml"))
ROUTER_LAB = """
name: escape-router-lab
networks: {left: {}, right: {}}
nodes:
  left: {networks: [left], routes: [{to: right, via: router}]}
  router: {networks: [left, right], sysctls: {net.ipv4.ip_forward: 1}}
  right: {networks: [right], routes: [{to: left, via: router}]}
"""
INSTANCE = f"{SESSION_PREFIX}escape"

if os.geteuid() != 0 and os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
    pytest.skip("needs root: the test host is a network namespace", allow_module_level=True)


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


class TargetHost:
    """198.18.0.2 in a namespace of its own, behind a veth whose host side is .1/30."""

    def __init__(self) -> None:
        tag = os.getpid()
        self.netns, self.outer, self.inner = f"labctl-escape-{tag}", f"esc{tag}h", f"esc{tag}n"

    def create(self) -> None:
        sh("ip", "netns", "add", self.netns)
        sh("ip", "link", "add", self.outer, "type", "veth", "peer", "name", self.inner,
           "netns", self.netns)
        sh("ip", "addr", "add", f"{HOST_SIDE}/30", "dev", self.outer)
        sh("ip", "addr", "add", f"{HOST_SIDE6}/64", "dev", self.outer, "nodad")
        sh("ip", "link", "set", self.outer, "up")
        ns = ("ip", "-n", self.netns)
        sh(*ns, "addr", "add", f"{TEST_HOST}/30", "dev", self.inner)
        sh(*ns, "addr", "add", f"{TEST_HOST6}/64", "dev", self.inner, "nodad")
        sh(*ns, "link", "set", self.inner, "up")
        sh(*ns, "route", "add", "default", "via", HOST_SIDE)
        # It only listens: an answer would go to a lab address the host routes elsewhere.
        sh("ip", "netns", "exec", self.netns, "nft",
           "table inet testhost {\n chain output {\n type filter hook output priority 0; "
           "policy drop;\n }\n}")

    def remove(self) -> None:
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.outer], capture_output=True)

    def capture(self) -> Capture:
        return Capture(self)


class Capture:
    """`dst host 198.18.0.2` on the test host's side, plus a UDP listener on .1."""

    def __init__(self, host: TargetHost) -> None:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", host.netns, sys.executable, "-u",
             str(HERE / "escape_capture.py"), host.inner, TEST_HOST, TEST_HOST6],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        self.listeners = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
                          socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)]
        for listener, address in zip(self.listeners, (HOST_SIDE, HOST_SIDE6), strict=True):
            listener.bind((address, PORT))
            listener.setblocking(False)

    def stop(self) -> tuple[list[str], list[str]]:
        time.sleep(0.5)  # anything still in flight arrives
        self.proc.stdin.close()
        seen = self.proc.stdout.read().splitlines()
        self.proc.wait(timeout=10)
        received = []
        for listener in self.listeners:
            while True:
                try:
                    _, sender = listener.recvfrom(2048)
                except BlockingIOError:
                    break
                received.append(f"{sender[0]} > {listener.getsockname()[0]} udp/{PORT}")
            listener.close()
        return seen, received


@pytest.fixture(scope="module")
def test_host():
    host = TargetHost()
    try:
        host.create()
        yield host
    finally:
        host.remove()


@pytest.fixture(scope="module")
def labs_up(engine_for_module):
    """Every catalogue lab and the router lab, up at once, in one instance."""
    models = [loader.load(ROOT / "labs" / name / "lab.yaml") for name in LABS]
    models.append(loader.parse(ROUTER_LAB, "escape-router-lab.yaml"))
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda m: engine_for_module.up(m, INSTANCE), models))
        yield {m.name: m for m in models}
    finally:
        for model in models:
            engine_for_module.down(model.name, INSTANCE)


@pytest.fixture(scope="module")
def engine_for_module(api, node_image):
    from labctl.runtime.docker import connect as docker_runtime
    from labctl.service.engine import Engine

    return Engine(docker_runtime())


def probes(api, lab: str) -> list[tuple[str, dict]]:
    """(container, probe spec) for every node with NET_RAW or NET_ADMIN."""
    nets = {n["Name"]: n for n in api.networks(filters={"label": naming.label_filters(
        lab, INSTANCE)})}
    found = []
    for summary in api.containers(filters={"label": naming.label_filters(lab, INSTANCE)}):
        inspect = api.inspect_container(summary["Id"])
        caps = {c.removeprefix("CAP_") for c in inspect["HostConfig"]["CapAdd"] or []}
        if not caps & {"NET_RAW", "NET_ADMIN"}:
            continue
        endpoints = inspect["NetworkSettings"]["Networks"]
        order = summary["Labels"][naming.NETWORKS].split(",")
        interfaces = []
        for logical in order:
            docker_name = naming.network_name(lab, INSTANCE, logical)
            net = api.inspect_network(nets[docker_name]["Id"])
            endpoint = endpoints[docker_name]
            bridge = (net["Options"] or {}).get(isolation.BRIDGE_OPTION) or f"br-{net['Id'][:12]}"
            peers = [c["IPv4Address"].split("/")[0] for c in net["Containers"].values()]
            interfaces.append({
                "mac": endpoint["MacAddress"], "ip": endpoint["IPAddress"],
                "gateway": net["IPAM"]["Config"][0]["Gateway"],
                "bridge": bridge,
                "bridge_mac": Path(f"/sys/class/net/{bridge}/address").read_text().strip(),
                "peers": [p for p in peers if p != endpoint["IPAddress"]]})
        found.append((summary["Id"], {"admin": "NET_ADMIN" in caps, "interfaces": interfaces,
                                      "target": TEST_HOST, "host": HOST_SIDE, "port": PORT,
                                      "target6": TEST_HOST6, "host6": HOST_SIDE6}))
    return found


def run_probe(api, container: str, spec: dict, phase: str) -> dict:
    source = (HERE / "escape_probe.py").read_text()
    exec_id = api.exec_create(container, ["python3", "-c", source,
                                          json.dumps({**spec, "phase": phase})])["Id"]
    output = api.exec_start(exec_id).decode()
    code = api.exec_inspect(exec_id)["ExitCode"]
    assert code == 0, f"the probe failed in {container[:12]} ({code}): {output}"
    return json.loads(output.strip().splitlines()[-1])


def try_every_way_out(api, found: list[tuple[str, dict]]) -> int:
    """Set neighbours and routes in every admin node first, then send from all."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda f: run_probe(api, f[0], f[1], "setup"),
                      [f for f in found if f[1]["admin"]]))
        results = list(pool.map(lambda f: run_probe(api, f[0], f[1], "send"), found))
    for (container, _), result in zip(found, results, strict=True):
        assert result["sent"] > 0, f"{container[:12]} sent nothing: {result['errors']}"
    return sum(r["sent"] for r in results)


def bridges_have_no_route(found: list[tuple[str, dict]]) -> None:
    """The host cannot route into a lab: no IPv4 route, only IPv6 link-local."""
    for bridge in {i["bridge"] for _, spec in found for i in spec["interfaces"]}:
        v4 = subprocess.run(["ip", "-4", "route", "show", "table", "all", "dev", bridge],
                            capture_output=True, text=True, check=True).stdout
        assert v4.strip() == "", (bridge, v4)
        v6 = subprocess.run(["ip", "-6", "route", "show", "table", "all", "dev", bridge],
                            capture_output=True, text=True, check=True).stdout
        for line in v6.splitlines():
            dest = line.split()[1] if line.split()[0] in ("local", "multicast") else line.split()[0]
            assert dest.startswith(("fe80:", "ff00:")), (bridge, line)


@pytest.mark.parametrize("lab", [*LABS, "escape-router-lab"])
def test_nothing_leaves_the_lab(api, labs_up, test_host, lab):
    found = probes(api, lab)
    assert found, f"{lab}: no node with NET_RAW or NET_ADMIN?"
    capture = test_host.capture()
    try:
        sent = try_every_way_out(api, found)
    finally:
        seen, received = capture.stop()
    assert sent > 0
    assert seen == [], f"{lab}: {len(seen)} packets reached the test host: {seen[:5]}"
    assert received == [], f"{lab}: the host itself received {received[:5]}"
    bridges_have_no_route(found)


def test_control_without_the_guard_the_router_gets_out(api, labs_up, test_host, node_image,
                                                       engine_for_module):
    """The same attempt, the guard removed for a moment: the test can fail."""
    router = [f for f in probes(api, "nat-lab") if f[1]["admin"] and len(f[1]["interfaces"]) > 1]
    assert len(router) == 1
    runtime = engine_for_module.runtime
    capture = test_host.capture()
    try:
        isolation.remove(runtime, lambda: node_image)
        try_every_way_out(api, router)
    finally:
        isolation.install(runtime, lambda: node_image)
        seen, received = capture.stop()
    assert seen, "without the guard nothing reached the test host: the test proves nothing"
    families = {"IPv6" if ":" in r.split(" > ")[1] else "IPv4" for r in received}
    assert families == {"IPv4", "IPv6"}, f"without the guard the host received {received}"

