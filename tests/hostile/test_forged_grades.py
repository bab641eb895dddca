"""Issue 18, item 7: grades forged from inside a node.

A student is root in their own node. Modules left in /root (the nodes' working
directory) used to shadow the standard library for every `python3 -c` labctl ran
there, so `check` said PASS for a port nothing listened on, and for a connection
that never happened. labctl's Python in a node is now isolated (-I: no cwd, no user
site, no PYTHON* variables), runs from a fixed path, from /.
"""

from __future__ import annotations

import pytest

from labctl.checks.run import LabState, run_checks
from labctl.lab import loader
from tests.hostile import node_attacks

pytestmark = pytest.mark.docker

LAB = """\
name: forge-lab
description: Nothing listens on 8080; two checks say so.
nodes:
  server: {}
  client: {}
checks:
  - listening: {node: server, port: 8080, proto: tcp}
  - reachable: {from: client, to: server, port: 8080}
"""


@pytest.fixture
def forge_lab(engine, lab_up, instance, tmp_path):
    (tmp_path / "lab.yaml").write_text(LAB)
    lab = loader.load(tmp_path)
    lab_up(lab)
    return lab, engine.running_nodes(lab.name, lab.nodes, instance)


def _results(engine, lab, nodes) -> dict[str, bool]:
    return {r.kind: r.passed for r in run_checks(LabState(engine.runtime, nodes), lab.checks)}


def test_modules_in_root_do_not_forge_checks(engine, forge_lab):
    lab, nodes = forge_lab
    assert _results(engine, lab, nodes) == {"listening": False, "reachable": False}
    runtime = engine.runtime
    node_attacks.write(runtime, nodes["server"].container, "/root/subprocess.py",
                       node_attacks.FAKE_SUBPROCESS)
    node_attacks.write(runtime, nodes["client"].container, "/root/socket.py",
                       node_attacks.FAKE_SOCKET)
    # the forgeries work on a plain `python3 -c` started in /root, as labctl's used to be
    code, out, _ = runtime.run(nodes["client"].container, ["sh", "-c", (
        "cd /root && python3 -c 'import socket; s = socket.socket(); "
        "s.connect((\"server\", 8080)); print(\"connected\")'")])
    assert (code, out.strip()) == (0, b"connected")
    assert _results(engine, lab, nodes) == {"listening": False, "reachable": False}


def test_a_user_site_hook_is_not_run_by_checks(engine, forge_lab):
    lab, nodes = forge_lab
    runtime = engine.runtime
    for node in nodes.values():
        site = node_attacks.user_site(runtime, node.container)
        node_attacks.write(runtime, node.container, f"{site}/usercustomize.py",
                           node_attacks.FAKE_SOCKET.replace("_real_socket", "_real_sock2")
                           + "\nimport sys\nsys.modules['socket'] = sys.modules[__name__]\n")
    assert _results(engine, lab, nodes) == {"listening": False, "reachable": False}
