"""Issue 18, item 6: flooding the audit log.

28 refused execs with 320 KiB command lines (20 arguments of 16 KiB, what the API
takes) wrote 9.2 MB to the audit log; `class status` read only its last 8 MiB, so a
student who had acted before vanished from the class. Now every audit line is bounded
(long fields cut, their length noted), the roster is kept as data (roster.json), and
the log rotates by size.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from labctl.classroom.client.api import ServerError
from labctl.classroom.client.class_api import ClassClient
from labctl.classroom.server import audit as audit_mod
from tests.conftest import SESSION_PREFIX
from tests.integration import server_harness

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creates Unix users: needs root")

COMMAND = ["x" * 16_384] * 20  # 320 KiB: 20 arguments at the API's limit


@pytest.fixture
def state():
    where = Path(tempfile.mkdtemp(prefix="labctl-hostile-state-"))
    try:
        yield where / "state"
    finally:
        shutil.rmtree(where, ignore_errors=True)


def _flood(client) -> int:
    refused = 0
    for _ in range(28):
        try:
            client.exec("handshake-lab", "client", COMMAND)
        except ServerError:
            refused += 1
    return refused


def _students(server: server_harness.Server) -> dict[str, dict]:
    with ClassClient(f"unix://{server.socket}") as root:
        return {s["student"]: s for s in root.class_status()}


@pytest.mark.docker
def test_a_flood_of_long_execs_neither_bloats_the_log_nor_hides_a_student(state):
    server = server_harness.start(instructors=f"{SESSION_PREFIX}h6t", state=state)
    again = None
    try:
        ann = server.add_user(f"{SESSION_PREFIX}h6a")
        mal = server.add_user(f"{SESSION_PREFIX}h6m")
        assert "value" in server.as_user(ann, lambda c: c.whoami())
        assert server.as_user(mal, _flood)["value"] == 28  # no lab: every exec refused

        log = state / "audit.jsonl"
        assert log.stat().st_size < 256 * 1024, "28 refused execs fill the audit log"
        floods = [e for e in server.audit() if e["user"] == mal and e["action"] == "exec"]
        assert len(floods) == 28
        for entry in floods:
            assert len(json.dumps(entry)) < 8 * 1024
            assert entry["command"][0].endswith("… [cut: 16384 characters]")
        assert ann in _students(server)

        # The roster is data, not the log's tail: with the log gone, ann is still known.
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=30)
        log.unlink()
        again = server_harness.start(state=state)
        found = _students(again)
        assert ann in found and found[ann]["last_activity"]
    finally:
        if again is not None:
            again.stop()
        server.stop()


def test_the_log_rotates_by_size_and_keeps_a_few(tmp_path):
    log = audit_mod.AuditLog(tmp_path / "audit.jsonl", max_bytes=4096, keep=3)
    for i in range(200):
        log.record(user="mal", action="exec", lab="l", instance="mal", result="error 409",
                   command=["y" * 500, str(i)])
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3"]
    for path in tmp_path.iterdir():
        assert path.stat().st_size <= 4096
    newest = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[-1])
    assert newest["command"] == ["y" * 200 + "… [cut: 500 characters]", "199"]


def test_fields_are_cut_with_their_length_noted(tmp_path):
    log = audit_mod.AuditLog(tmp_path / "audit.jsonl", tmp_path / "roster.json")
    log.record(user="mal", action="upload", lab="z" * 5000, instance=None,
               result="error 422: " + "w" * 100_000, command=["a"] * 300)
    log.close()
    entry = json.loads((tmp_path / "audit.jsonl").read_text())
    assert entry["lab"].endswith("… [cut: 5000 characters]") and len(entry["lab"]) < 1100
    assert entry["result"].endswith("[cut: 100011 characters]")
    assert len(entry["command"]) == 21 and entry["command"][-1] == "… [cut: 300 items]"
    roster = json.loads((tmp_path / "roster.json").read_text())
    assert list(roster["last"]) == ["mal"]
