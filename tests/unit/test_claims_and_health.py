"""One `up` per lab instance (claims.py), and half-made labs as `status` marks them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from fakelab import up

from labctl.runtime.fake import FakeRuntime
from labctl.service import locks as claims
from labctl.service.lab_service import LabService

LAB = """
name: demo
networks:
  front: {}
  back: {}
nodes:
  router: {networks: [front, back]}
  server: {networks: [back], services: [http]}
  client: {networks: [front]}
"""


@pytest.fixture(autouse=True)
def lock_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCTL_LOCK_DIR", str(tmp_path / "locks"))


def test_a_second_claim_waits_for_the_first():
    heard: list[str] = []
    order: list[str] = []
    held = threading.Event()

    def first():
        with claims.claimed("demo", "x", heard.append):
            held.set()
            time.sleep(0.3)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(5)
    with claims.claimed("demo", "x", heard.append):
        order.append("second in")
    thread.join()
    assert order == ["first done", "second in"]
    assert heard == ["demo (instance x) is being brought up by another labctl: waiting for it"]


def test_other_instances_do_not_wait():
    heard: list[str] = []
    with claims.claimed("demo", "x", heard.append), claims.claimed("demo", "y", heard.append):
        pass
    assert heard == []


def test_a_killed_holder_does_not_block_the_next():
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom labctl.service import locks as claims\n"
         "with claims.claimed('demo', 'x', print):\n    print('held', flush=True)\n"
         "    time.sleep(60)"], stdout=subprocess.PIPE, text=True, env=os.environ)
    assert holder.stdout.readline() == "held\n"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    heard: list[str] = []
    with claims.claimed("demo", "x", heard.append):
        pass
    assert heard == []


def test_the_lock_directory_is_shared_between_users():
    with claims.claimed("demo", "x", print):
        pass
    assert claims.lock_dir().stat().st_mode & 0o1777 == 0o1777
    assert (claims.lock_dir() / "x.demo.lock").stat().st_mode & 0o666 == 0o666


def _status(engine):
    return {(lab.lab, lab.instance): lab.broken
            for lab in LabService(engine.runtime).status(None, None).labs}


def test_status_marks_half_made_labs_and_up_repairs_them():
    engine, lab, nodes = up(LAB)
    assert _status(engine) == {("demo", "t"): None}
    engine.runtime.remove_node(nodes["client"])
    assert _status(engine) == {("demo", "t"): "half-made: missing: client; "
                                             "`labctl up demo -i t` repairs it"}
    engine.runtime.stop(nodes["server"].container)
    assert "missing: client; not running: server;" in _status(engine)[("demo", "t")]
    engine.up(lab, "t")
    assert _status(engine) == {("demo", "t"): None}
    assert {n.node for n in engine.status("demo", "t") if n.running} == {"router", "server",
                                                                          "client"}


def test_status_shows_networks_left_without_nodes():
    engine, _, nodes = up(LAB)
    for info in nodes.values():
        engine.runtime.remove_node(info)
    assert _status(engine) == {("demo", "t"): "half-made: networks without nodes (back, front)"
                                             "; `labctl up demo -i t` repairs it"}


def test_up_waits_for_a_concurrent_up_of_the_same_instance_then_finds_it_up():
    from labctl.lab import blueprint, loader
    from labctl.service.engine import Engine
    runtime = FakeRuntime()
    lab = loader.parse(LAB, "lab.yaml")
    heard: list[str] = []
    second = Engine(runtime, heard.append)
    with claims.claimed("demo", "t", print):  # the first `up` holds the claim
        waiter = threading.Thread(target=second.up, args=(lab, "t"))
        waiter.start()
        deadline = time.monotonic() + 5
        while not heard and time.monotonic() < deadline:
            time.sleep(0.01)
        assert runtime.nodes() == []  # waiting, touching nothing
        Engine(runtime)._up(blueprint.of(lab), "t")  # the first `up` does its work
    waiter.join(5)
    assert heard == ["demo (instance t) is being brought up by another labctl: waiting for it",
                     "demo (t) is already up"]
