"""A shared classroom host: many instances side by side, isolation, interrupts."""

import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from labctl.errors import RuntimeFailure
from labctl.lab import loader, naming
from tests.conftest import ROOT, run_labctl

pytestmark = pytest.mark.docker


def labelled(api, instance):
    filters = {"label": naming.label_filters(None, instance)}
    return api.containers(all=True, filters=filters), api.networks(filters=filters)


def test_ten_instances_each_reach_their_own_server_and_no_other(engine, instance):
    lab = loader.load("handshake-lab", ROOT)
    instances = [f"{instance}-{i}" for i in range(10)]
    try:
        with ThreadPoolExecutor(max_workers=5) as pool:
            results = list(pool.map(lambda inst: engine.up(lab, inst), instances))
        servers = {inst: next(n for n in nodes if n.node == "server")
                   for inst, nodes in zip(instances, results, strict=True)}
        assert len({s.ip for s in servers.values()}) == 10
        for inst, nodes in zip(instances, results, strict=True):
            client = next(n for n in nodes if n.node == "client")
            code, out, _ = engine.runtime.run(client.container,
                                              ["curl", "-s", "-m", "3", "http://server/"])
            assert code == 0 and b"Hello World!" in out
            assert client.ip.rsplit(".", 1)[0] == servers[inst].ip.rsplit(".", 1)[0]
            others = " ".join(s.ip for i, s in servers.items() if i != inst)
            # Try every other instance's server at once; print the ones that answered.
            probe = (f"for ip in {others}; do (nc -z -w 1 $ip 80 && echo $ip) & done; wait")
            _, reached, _ = engine.runtime.run(client.container, ["sh", "-c", probe])
            assert reached.strip() == b"", f"{inst} reached {reached!r}"
    finally:
        for inst in instances:
            engine.down(lab.name, inst)


def test_interrupted_ups_leave_nothing_behind(api, node_image, instance):
    """30 `up`s interrupted at random moments by SIGINT, SIGTERM or SIGKILL."""
    rng = random.Random(42)
    outcomes = {"rolled back": 0, "finished": 0, "killed": 0, "died starting": 0}
    for run in range(30):
        inst = f"{instance}-f{run}"
        sig = rng.choice([signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
        delay = rng.uniform(0.05, 1.2)
        proc = subprocess.Popen([sys.executable, "-m", "labctl.cli", "up", "handshake-lab",
                                 "-i", inst], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        if sig == signal.SIGKILL:
            outcomes["killed"] += 1
            down = run_labctl("down", "handshake-lab", "-i", inst)
            assert down.returncode == 0, down.stderr
        elif proc.returncode == 0:
            outcomes["finished"] += 1  # the signal came after up returned
            run_labctl("down", "handshake-lab", "-i", inst)
        elif proc.returncode < 0:
            # The signal came while Python was still starting, before labctl ran.
            outcomes["died starting"] += 1
        else:
            assert proc.returncode == 130, err
            assert "Traceback" not in err
            outcomes["rolled back"] += 1
        assert labelled(api, inst) == ([], []), (run, sig, delay, err)
    assert outcomes["rolled back"] > 0 and outcomes["killed"] > 0, outcomes
    stray = subprocess.run(["pgrep", "-f", f"labctl.cli up handshake-lab -i {instance}-f"],
                           capture_output=True, text=True)
    assert stray.stdout.strip() == ""


def test_bad_subnet_pool_is_a_clear_error(instance, tmp_path):
    result = run_labctl("up", "handshake-lab", "-i", instance,
                        env={"LABCTL_SUBNET_POOL": "not-a-cidr"})
    assert result.returncode == 2
    assert "LABCTL_SUBNET_POOL" in result.stderr


def test_fixed_subnet_overlapping_another_network_names_it(api, node_image, instance, tmp_path,
                                                             lab_up):
    running = lab_up("echo-lab")
    taken = api.inspect_network(naming.network_name("echo-lab", instance, "lan"))
    subnet = taken["IPAM"]["Config"][0]["Subnet"]
    (tmp_path / "lab.yaml").write_text(
        f"name: clash-lab\nnetworks:\n  lan: {{subnet: {subnet}}}\nnodes:\n  a: {{}}\n")
    result = run_labctl("up", str(tmp_path), "-i", instance)
    assert result.returncode == 2
    assert f"held by Docker network 'labctl.{instance}.echo-lab.lan'" in result.stderr
    assert api.networks(filters={"label": naming.LAB + "=clash-lab"}) == []
    assert running


def test_pid_and_memory_limits_hold(engine, lab_up, instance):
    nodes = {n.node: n for n in lab_up("handshake-lab")}
    client = nodes["client"].container
    # Runaway process creation stops at the pids limit (256) instead of filling the host;
    # near it the node's agent kills what labctl did not start, this spawner included.
    spawn = ("import subprocess\nprocs = []\ntry:\n    for _ in range(400):\n"
             "        procs.append(subprocess.Popen(['sleep', '30']))\n"
             "except OSError:\n    pass\nprint(len(procs))\n"
             "for p in procs:\n    p.kill()\n")
    code, out, _ = engine.runtime.run(client, ["python3", "-c", spawn])
    assert code == 137 or (code == 0 and 100 < int(out) < 256), (code, out)
    deadline = time.monotonic() + 5  # the agent reaps (and, near the limit, kills) them
    while True:
        try:
            code, out, _ = engine.runtime.run(client, ["cat", "/sys/fs/cgroup/pids/pids.current"])
            if int(out) < 32:
                break
        except RuntimeFailure as exc:  # at the limit nothing starts, exec included
            assert "process limit" in str(exc)
        assert time.monotonic() < deadline
        time.sleep(0.2)
    code, _, _ = engine.runtime.run(client, ["python3", "-c", "b = bytearray(512 * 2**20)"])
    assert code != 0  # killed or MemoryError past 128 MiB
