"""Commands racing each other on the real engine, started as real processes.

Two `up`s of one lab instance, a `down` during an `up`, a node removed or
killed under `check` and `exec`, and what an `up` killed with SIGKILL left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from labctl.lab import naming
from tests.conftest import ROOT, run_labctl

pytestmark = pytest.mark.docker

RAW_ENGINE_TEXT = ("Docker engine:", "No such exec instance", "409", "AssertionError",
                   "can not get logs", "Traceback", "internal error")

SLOW_CHECK_LAB = """\
name: slow-lab
nodes:
  server: {services: [http]}
  client: {}
checks:
  - command: {on: server, run: "sleep 4; echo yes", stdout_contains: "yes"}
"""


def labctl(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "labctl.cli", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ})


def labelled(api, instance):
    filters = {"label": naming.label_filters(None, instance)}
    return api.containers(all=True, filters=filters), api.networks(filters=filters)


def wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def assert_clear(err: str) -> None:
    assert not [text for text in RAW_ENGINE_TEXT if text in err], err


@pytest.mark.parametrize("attempt", range(3))
def test_two_ups_together_one_brings_the_lab_up_the_other_waits(api, node_image, instance,
                                                                 attempt):
    first, second = (labctl("up", "handshake-lab", "-i", instance) for _ in range(2))
    results = [(p.wait(timeout=120), *p.communicate()) for p in (first, second)]
    try:
        for code, out, err in results:
            assert code == 0, err
            assert "handshake-lab is up" in out
        errs = " ".join(err for _, _, err in results)
        assert "waiting for it" in errs and "already up" in errs
        containers, networks = labelled(api, instance)
        assert len(containers) == 2 and all(c["State"] == "running" for c in containers)
        assert len(networks) == 1
    finally:
        run_labctl("down", "handshake-lab", "-i", instance)


@pytest.mark.parametrize("when", ["network", "container", "container+0.1s"])
def test_a_down_during_an_up_is_reported_as_such(api, node_image, instance, when):
    up = labctl("up", "handshake-lab", "-i", instance)
    if when == "network":
        wait_for(lambda: labelled(api, instance)[1])
    else:
        wait_for(lambda: labelled(api, instance)[0])
        time.sleep(0.1 if "+" in when else 0)
    down = run_labctl("down", "handshake-lab", "-i", instance)
    assert down.returncode == 0, down.stderr
    code = up.wait(timeout=120)
    _, err = up.communicate()
    if code == 0:  # the up won: it was ready before the down listed anything, so the
        # down removed a whole, finished lab; neither command broke the other
        assert labelled(api, instance) == ([], []), err
        return
    assert code == 3, err
    assert f"handshake-lab (instance {instance}) was removed by a concurrent down" in err, err
    assert_clear(err)
    run_labctl("down", "handshake-lab", "-i", instance)
    assert labelled(api, instance) == ([], [])


@pytest.mark.parametrize("how", ["rm", "kill"])
def test_a_node_lost_during_check_is_named(api, node_image, instance, tmp_path, how):
    (tmp_path / "lab.yaml").write_text(SLOW_CHECK_LAB)
    assert run_labctl("up", str(tmp_path), "-i", instance).returncode == 0
    try:
        check = labctl("check", str(tmp_path), "-i", instance)
        time.sleep(1.5)  # inside the 4 s check
        server = naming.container_name("slow-lab", instance, "server")
        if how == "rm":
            api.remove_container(server, force=True)
        else:
            api.kill(server)
        code = check.wait(timeout=60)
        _, err = check.communicate()
        assert code == 3, err
        assert (f"node server of slow-lab (instance {instance}) stopped during check: "
                f"`labctl up slow-lab -i {instance}` repairs it") in err
        assert_clear(err)
        again = run_labctl("check", str(tmp_path), "-i", instance)  # now, before it starts
        assert again.returncode == 3
        assert f"node server of slow-lab (instance {instance}) stopped during check" in (
            again.stderr)
    finally:
        run_labctl("down", "slow-lab", "-i", instance)


def test_a_node_removed_during_exec_is_named(api, node_image, instance):
    assert run_labctl("up", "handshake-lab", "-i", instance).returncode == 0
    try:
        exec_ = labctl("exec", "handshake-lab", "server", "-i", instance, "--", "sleep", "10")
        time.sleep(1.5)
        api.remove_container(naming.container_name("handshake-lab", instance, "server"),
                             force=True)
        code = exec_.wait(timeout=60)
        _, err = exec_.communicate()
        assert code == 3, err
        assert (f"node server of handshake-lab (instance {instance}) stopped during exec"
                in err)
        assert_clear(err)
    finally:
        run_labctl("down", "handshake-lab", "-i", instance)


def test_status_marks_what_a_killed_up_left_and_up_repairs_it(api, node_image, instance):
    up = labctl("up", "handshake-lab", "-i", instance)
    wait_for(lambda: labelled(api, instance)[0])  # a node exists, the up is not done
    up.send_signal(signal.SIGKILL)
    up.wait(timeout=30)
    try:
        containers, networks = labelled(api, instance)
        if len(containers) == 2:  # the second node came before the kill: make it half
            api.remove_container(naming.container_name("handshake-lab", instance, "client"),
                                 force=True)
        status = run_labctl("status", "handshake-lab", "-i", instance, env={"COLUMNS": "200"})
        assert status.returncode == 0, status.stderr
        assert f"handshake-lab (instance {instance}) is half-made: missing: client" in (
            status.stdout)
        assert f"`labctl up handshake-lab -i {instance}` repairs it" in status.stdout
        repair = run_labctl("up", "handshake-lab", "-i", instance)
        assert repair.returncode == 0, repair.stderr
        containers, _ = labelled(api, instance)
        assert sorted(c["State"] for c in containers) == ["running", "running"]
        assert "half-made" not in run_labctl("status", "handshake-lab", "-i", instance).stdout
    finally:
        run_labctl("down", "handshake-lab", "-i", instance)
