"""The agent's fork-bomb guard keeps labctl's own processes and nothing else."""

import os

from labctl.node import agent


def test_the_guard_keeps_the_agent_its_children_and_their_descendants_only(monkeypatch):
    me = os.getpid()
    monkeypatch.setattr(agent, "children", {10: ("http", None), 11: ("tcpdump", None)})
    parents = {me: 0, 10: me, 11: me, 12: 10,  # a service's own helper process
               20: 0, 21: 20, 22: 21,  # an exec'd shell and its fork bomb
               30: me}  # an orphan the agent inherited
    assert agent.labctl_processes(parents) == {me, 10, 11, 12}


def test_the_pids_limit_reads_max_as_unlimited(tmp_path):
    (tmp_path / "max").write_text("max\n")
    (tmp_path / "n").write_text("256\n")
    assert agent.read_number(tmp_path / "max") is None
    assert agent.read_number(tmp_path / "n") == 256
