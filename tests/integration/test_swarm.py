"""The test swarm (labctl/testing/swarm.py): engines that form a swarm, hold labctl's
node image, and answer only a client with a certificate of the cluster's own CA."""

from __future__ import annotations

import socket
import ssl

import pytest

from labctl.runtime import images

pytestmark = pytest.mark.docker


def test_the_engines_form_a_swarm_and_hold_the_node_image(swarm_cluster):
    manager = swarm_cluster.client()
    hosts = {n["Description"]["Hostname"]: n for n in manager.nodes()}
    assert set(hosts) == {e.name for e in swarm_cluster.engines}
    assert all(n["Status"]["State"] == "ready" for n in hosts.values())
    ref = images.node_ref()
    for engine in swarm_cluster.engines:
        labels = swarm_cluster.client(engine).inspect_image(ref)["Config"]["Labels"]
        assert labels[images.HASH_LABEL] == images.node_hash()


def _handshake(addr: str, context: ssl.SSLContext) -> bytes:
    """A request over TLS; what the engine answers (b"" if it closed the connection)."""
    with socket.create_connection((addr, 2376), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=addr) as tls:
        tls.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
        return tls.recv(200)


def test_no_engine_answers_a_client_without_a_certificate_of_the_clusters_ca(swarm_cluster,
                                                                             tmp_path):
    from labctl.testing import tls
    intruder = tls.Authority("stranger").client("intruder")
    (tmp_path / "cert.pem").write_bytes(intruder.cert)
    (tmp_path / "key.pem").write_bytes(intruder.key)
    for engine in swarm_cluster.engines:
        # The right CA, no client certificate; then a certificate of another CA.
        for cert in (None, tmp_path):
            context = ssl.create_default_context(cafile=str(swarm_cluster.certs / "ca.pem"))
            if cert is not None:
                context.load_cert_chain(str(cert / "cert.pem"), str(cert / "key.pem"))
            try:
                answer = _handshake(engine.addr, context)
            except (ssl.SSLError, ConnectionError):
                answer = b""
            assert b"200 OK" not in answer and answer.split(b"\r\n\r\n")[-1] != b"OK"
        # Plain HTTP: the engine speaks only TLS.
        with socket.create_connection((engine.addr, 2376), timeout=10) as raw:
            raw.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            assert b"HTTP request to an HTTPS server" in raw.recv(200)
        # With the cluster's client certificate, it answers.
        context = ssl.create_default_context(cafile=str(swarm_cluster.certs / "ca.pem"))
        context.load_cert_chain(str(swarm_cluster.certs / "cert.pem"),
                                str(swarm_cluster.certs / "key.pem"))
        assert _handshake(engine.addr, context).startswith(b"HTTP/1.0 200 OK")


def test_the_client_key_is_private(swarm_cluster):
    assert (swarm_cluster.certs.stat().st_mode & 0o777) == 0o700
    assert ((swarm_cluster.certs / "key.pem").stat().st_mode & 0o777) == 0o600


def test_down_leaves_nothing_behind(api):
    """Engines, what they ran (and the cgroups they made), the network, the certificates."""
    import glob

    from labctl.testing import swarm
    from tests.conftest import SESSION_PREFIX
    name = f"labctl-swarm-{SESSION_PREFIX}down"
    cluster = swarm.up(1, name, progress=lambda _: None)
    engine = cluster.client()
    made = engine.create_container(images.node_ref(), command=["sleep", "60"])
    engine.start(made["Id"])
    assert glob.glob(f"/sys/fs/cgroup/*/{name}-1") or glob.glob(f"/sys/fs/cgroup/{name}-1")
    assert swarm.down(name, progress=lambda _: None)
    assert api.containers(all=True, filters={"label": f"{swarm.LABEL}={name}"}) == []
    assert api.networks(filters={"label": f"{swarm.LABEL}={name}"}) == []
    assert not cluster.certs.exists()
    assert glob.glob(f"/sys/fs/cgroup/*/{name}-1") + glob.glob(f"/sys/fs/cgroup/{name}-1") == []
    assert swarm.find(name) is None


# -- the swarm runtime (labctl/runtime/swarm.py) through the command line -------------
def _placed(cluster, instance: str) -> dict[str, str]:
    """node -> the engine that runs it, asked of every engine directly."""
    found = {}
    for engine in cluster.engines:
        for c in cluster.client(engine).containers(
                all=True, filters={"label": f"labctl.instance={instance}"}):
            found[c["Labels"]["labctl.node"]] = engine.name
    return found


def test_labs_run_on_the_swarm_each_on_one_host_and_pass_their_checks(swarm_cluster):
    from tests.conftest import SESSION_PREFIX, run_labctl
    env = swarm_cluster.env()
    first, second = f"{SESSION_PREFIX}sw1", f"{SESSION_PREFIX}sw2"
    try:
        for instance in (first, second):  # up, the lab's steps and checks; kept up
            tested = run_labctl("test", "handshake-lab", "-i", instance, "--keep", env=env)
            assert tested.returncode == 0, tested.stdout + tested.stderr
        one, two = _placed(swarm_cluster, first), _placed(swarm_cluster, second)
        assert set(one) == set(two) == {"client", "server"}
        assert len(set(one.values())) == 1 and len(set(two.values())) == 1  # one host each
        assert set(one.values()) != set(two.values())  # the emptiest host takes the next
        # No route out of a lab: not to the engines, nor to another lab.
        other = run_labctl("exec", "handshake-lab", "-i", second, "server", "--",
                           "hostname", "-i", env=env).stdout.split()[0]
        for target in (swarm_cluster.manager.addr, swarm_cluster.engines[1].addr, other):
            probe = run_labctl("exec", "handshake-lab", "-i", first, "client", "--",
                               "ping", "-c1", "-W1", target, env=env)
            assert probe.returncode != 0 and "unreachable" in probe.stdout + probe.stderr
    finally:
        for instance in (first, second):
            run_labctl("down", "handshake-lab", "-i", instance, env=env)
    assert _placed(swarm_cluster, first) == {} and _placed(swarm_cluster, second) == {}


def test_a_spread_lab_talks_across_hosts_with_ethernets_mtu(swarm_cluster):
    """LABCTL_SWARM_PLACEMENT=spread: the nodes of one lab on two hosts, through VXLAN;
    the course's MSS of 1460 still holds (the test swarm's own network has MTU 1550)."""
    from tests.conftest import SESSION_PREFIX, run_labctl
    env = {**swarm_cluster.env(), "LABCTL_SWARM_PLACEMENT": "spread"}
    instance = f"{SESSION_PREFIX}spread"
    try:
        tested = run_labctl("test", "handshake-lab", "-i", instance, "--keep", env=env)
        assert tested.returncode == 0, tested.stdout + tested.stderr
        assert len(set(_placed(swarm_cluster, instance).values())) == 2
    finally:
        run_labctl("down", "handshake-lab", "-i", instance, env=env)


def test_shells_and_live_captures_reach_a_node_on_a_worker(swarm_cluster):
    """An interactive session and a followed file, over the worker engine's TLS."""
    import select
    import time

    from labctl.lab import loader
    from labctl.paths import lab_search_dirs
    from labctl.runtime.swarm import SwarmConfig, SwarmRuntime
    from labctl.service.engine import Engine
    from tests.conftest import SESSION_PREFIX
    runtime = SwarmRuntime(SwarmConfig(swarm_cluster.manager.url, swarm_cluster.certs,
                                       "spread"))
    engine = Engine(runtime)
    instance = f"{SESSION_PREFIX}shell"
    lab = loader.load(next(d for d in lab_search_dirs() if (d / "handshake-lab").is_dir())
                      / "handshake-lab")
    try:
        nodes = {n.node: n for n in engine.up(lab, instance)}
        placed = _placed(swarm_cluster, instance)
        on_worker = next(n for n, e in placed.items() if e != swarm_cluster.manager.name)
        session = runtime.open_session(nodes[on_worker].container, ["/bin/bash", "-i"])
        session.send(b"echo $((6 * 7))-$(hostname)\n")
        seen, deadline = b"", time.monotonic() + 20
        while f"42-{on_worker}".encode() not in seen and time.monotonic() < deadline:
            if select.select([session], [], [], 1)[0]:
                seen += session.recv(4096)
        session.send(b"exit\n")
        session.close()
        assert f"42-{on_worker}".encode() in seen
        server = nodes["server"]
        follower = runtime.follow_file(server.container, server.capture)
        assert next(iter(follower))[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4")
        follower.close()
        left = runtime.run(server.container, ["pgrep", "-f", "tail -c"])
        assert left.exit_code == 1  # the follower is gone from the node
    finally:
        engine.down(lab.name, instance)


def test_the_classroom_server_runs_a_students_labs_on_the_swarm(swarm_cluster, api):
    """labctl serve --runtime swarm: a student's up, exec, status and down, on the swarm
    (nothing on the server's own engine)."""
    from labctl.lab import naming
    from tests.conftest import SESSION_PREFIX
    from tests.integration import server_harness
    server = server_harness.start("--runtime", "swarm",
                                  "--swarm-manager", swarm_cluster.manager.url,
                                  "--swarm-certs", str(swarm_cluster.certs))
    try:
        student = server.add_user(f"{SESSION_PREFIX}sws")

        def work(client):
            up = client.up("handshake-lab")
            step = client.exec("handshake-lab", "client",
                               ["curl", "-s", "--compressed", "http://server/"])
            status = client.status()
            return up, step, status

        up, step, status = server.as_user(student, work)["value"]
        assert {n["node"] for n in up["labs"][0]["nodes"]} == {"client", "server"}
        assert "Hello World!" in step["stdout"]
        assert [lab["instance"] for lab in status["labs"]] == [student]
        assert set(_placed(swarm_cluster, student)) == {"client", "server"}
        assert api.containers(all=True, filters={
            "label": naming.label_filters("handshake-lab", student)}) == []
        down = server.as_user(student, lambda client: client.down("handshake-lab"))["value"]
        assert down["containers"] == 2 and _placed(swarm_cluster, student) == {}
    finally:
        server.stop()


def test_a_host_that_goes_down_marks_its_labs_broken_and_up_moves_them(swarm_cluster, api):
    """A worker stops answering (its engine frozen: `docker pause`): its lab shows its
    nodes as "host down" there; `up` makes the lab again on a ready host. When the worker
    is back, what it still ran of the lab, and the lab's old networks, are removed."""
    import json
    import time

    from labctl.runtime.swarm import SwarmConfig, SwarmRuntime
    from tests.conftest import SESSION_PREFIX, run_labctl
    env = swarm_cluster.env()
    runtime = SwarmRuntime(SwarmConfig(swarm_cluster.manager.url, swarm_cluster.certs))
    worker = swarm_cluster.engines[1]
    instances = [f"{SESSION_PREFIX}hd{i}" for i in range(2)]
    paused = False

    def status(instance):
        done = run_labctl("status", "handshake-lab", "-i", instance, "--json", env=env)
        return json.loads(done.stdout)["labs"][0]

    def until(condition, what, seconds=90):
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
            time.sleep(1)

    try:
        for instance in instances:  # the second goes to the other host (the emptiest)
            assert run_labctl("up", "handshake-lab", "-i", instance, env=env).returncode == 0
        moved = next(i for i in instances
                     if set(_placed(swarm_cluster, i).values()) == {worker.name})
        api.pause(worker.name)
        paused = True
        broken = status(moved)
        assert {(n["status"], n["host"]) for n in broken["nodes"]} == {("host down",
                                                                        worker.name)}
        assert f"on {worker.name} (host down)" in broken["broken"]
        until(lambda: not next(h for h in runtime.hosts() if h.name == worker.name).ready,
              "the manager to mark the worker down")
        repaired = run_labctl("up", "handshake-lab", "-i", moved, env=env)
        assert repaired.returncode == 0, repaired.stderr
        again = status(moved)
        assert again["broken"] is None
        assert {n["host"] for n in again["nodes"]} == {swarm_cluster.manager.name}
        page = run_labctl("exec", "handshake-lab", "-i", moved, "client", "--", "curl", "-s",
                          "--compressed", "http://server/", env=env)
        assert "Hello World!" in page.stdout
        api.unpause(worker.name)
        paused = False
        until(lambda: next(h for h in runtime.hosts() if h.name == worker.name).ready,
              "the worker to be back")
        # A listing of every host (here: the instance's labs) clears what the worker
        # still ran of the lab.
        assert run_labctl("status", "-i", moved, env=env).returncode == 0
        assert _placed(swarm_cluster, moved) == {"client": swarm_cluster.manager.name,
                                                 "server": swarm_cluster.manager.name}
        until(lambda: len(swarm_cluster.client().networks(
            filters={"label": f"labctl.instance={moved}"})) == 1 or status(moved) is None,
              "the lab's old network to go")
    finally:
        if paused:
            api.unpause(worker.name)
        for instance in instances:
            run_labctl("down", "handshake-lab", "-i", instance, env=env)
