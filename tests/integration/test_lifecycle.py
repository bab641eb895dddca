"""up/down as whole commands: idempotence, labels-only down, bad input, rollback."""

import os
import signal
import subprocess
import sys
import time

import pytest

from labctl.lab import naming
from tests.conftest import ROOT, run_labctl

pytestmark = pytest.mark.docker


def labelled(api, instance):
    filters = {"label": naming.label_filters(None, instance)}
    return api.containers(all=True, filters=filters), api.networks(filters=filters)


def test_cli_up_then_down_leaves_nothing(api, node_image, instance):
    up = run_labctl("up", "handshake-lab", "-i", instance)
    assert up.returncode == 0, up.stderr
    assert "labctl shell handshake-lab client" in up.stdout
    containers, networks = labelled(api, instance)
    assert len(containers) == 2 and len(networks) == 1
    again = run_labctl("up", "handshake-lab", "-i", instance)
    assert again.returncode == 0 and "already up" in again.stderr
    down = run_labctl("down", "handshake-lab", "-i", instance)
    assert down.returncode == 0, down.stderr
    assert labelled(api, instance) == ([], [])
    twice = run_labctl("down", "handshake-lab", "-i", instance)
    assert twice.returncode == 0 and "nothing to remove" in twice.stderr


def test_down_works_from_labels_when_the_yaml_is_gone(api, node_image, instance, tmp_path):
    lab_dir = tmp_path / "gone-lab"
    lab_dir.mkdir()
    (lab_dir / "lab.yaml").write_text("name: gone-lab\nnodes:\n  solo:\n    services: [echo]\n")
    assert run_labctl("up", str(lab_dir), "-i", instance).returncode == 0
    (lab_dir / "lab.yaml").unlink()
    down = run_labctl("down", "gone-lab", "-i", instance)
    assert down.returncode == 0
    assert labelled(api, instance) == ([], [])


def test_invalid_lab_exits_2_with_location_and_creates_nothing(api, instance, tmp_path):
    bad = tmp_path / "lab.yaml"
    bad.write_text("name: bad\nnodes:\n  server:\n    services:\n      - http: {port: 70000}\n")
    result = run_labctl("up", str(bad), "-i", instance)
    assert result.returncode == 2
    assert f"{bad}:5: nodes.server.services[0].http.port: must be at most 65535" in result.stderr
    assert "Traceback" not in result.stderr
    assert labelled(api, instance) == ([], [])
    assert run_labctl("validate", str(bad)).returncode == 2


def test_failing_service_rolls_back(api, node_image, instance, tmp_path):
    # nobody may not bind port 80 (privileged): the service dies, up fails and rolls back.
    (tmp_path / "lab.yaml").write_text(
        "name: clash\nnodes:\n  server:\n    services:\n"
        "      - http: {port: 80, user: nobody}\n  client: {}\n")
    result = run_labctl("up", str(tmp_path), "-i", instance)
    assert result.returncode == 3
    assert "node 'server' failed to start: http exited with code 1" in result.stderr
    assert "PermissionError" in result.stderr
    assert labelled(api, instance) == ([], [])


def test_sigint_during_up_rolls_back(api, node_image, instance):
    proc = subprocess.Popen([sys.executable, "-m", "labctl.cli", "up", "handshake-lab", "-i",
                             instance], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ})
    # Interrupt once the network exists, i.e. in the middle of bringing nodes up.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not labelled(api, instance)[1]:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 130), err
    if proc.returncode == 130:
        assert "interrupted" in err
        assert labelled(api, instance) == ([], [])
    else:  # it finished before the signal landed; still must come down cleanly
        run_labctl("down", "handshake-lab", "-i", instance)
        assert labelled(api, instance) == ([], [])


def test_validate_needs_no_docker(tmp_path):
    env = {"DOCKER_HOST": "unix:///nonexistent.sock"}
    result = run_labctl("validate", "handshake-lab", env=env)
    assert result.returncode == 0, result.stderr


def test_a_node_from_a_custom_image_counts_as_ready_when_running(api, node_image, instance,
                                                                 tmp_path):
    # Any local image works as a node; with no labctl agent inside, running is ready.
    api.tag(node_image, "labctl-test/custom", "v1")
    try:
        (tmp_path / "lab.yaml").write_text(
            "name: custom-lab\nnodes:\n  plain:\n    image: labctl-test/custom:v1\n")
        up = run_labctl("up", str(tmp_path), "-i", instance, timeout=60)
        assert up.returncode == 0, up.stderr
        assert run_labctl("down", "custom-lab", "-i", instance).returncode == 0
    finally:
        api.remove_image("labctl-test/custom:v1")
