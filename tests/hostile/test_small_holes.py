"""Issue 18, item 10: small holes.

- `labctl up /etc/shadow` by a user who may not read it said `internal error:
  PermissionError`; it now names the file and says it cannot be read.
- `image: ""` was accepted in a lab; it is refused with file:line and the key.
- GET /v1/labs validated every lab at every call (20 large uploaded labs: 2.5 s of
  CPU per call); a lab is now validated once per content.
(Refused web requests audited with their lab: tests/hostile/test_web_sessions.py.)
"""

from __future__ import annotations

import os

import pytest

from labctl.errors import LabInvalid
from labctl.lab import loader
from tests.conftest import SESSION_PREFIX
from tests.integration import server_harness


@pytest.fixture(scope="module")
def server():
    srv = server_harness.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="creates Unix users: needs root")
@pytest.mark.parametrize("through", ["docker", "server"])
def test_an_unreadable_lab_file_is_named_not_an_internal_error(server, through):
    user = server.add_user(f"{SESSION_PREFIX}h10{through[0]}")
    env = {"LABCTL_SERVER": f"unix://{server.socket}"} if through == "server" else {}
    code, out, err = server_harness.cli_as(user, "up", "/etc/shadow", env=env)
    text = err.decode()
    assert code == 2, (code, out, text)
    assert "internal error" not in text
    assert "/etc/shadow" in text and "permission denied" in text.lower(), text


def test_an_empty_image_is_refused_with_its_line_and_key(tmp_path):
    (tmp_path / "lab.yaml").write_text("name: empty-image\nnodes:\n  box:\n    image: \"\"\n")
    with pytest.raises(LabInvalid) as refused:
        loader.load(tmp_path)
    assert f"{tmp_path / 'lab.yaml'}:4: nodes.box.image:" in str(refused.value)


def test_labs_are_validated_once_per_content(monkeypatch, tmp_path):
    calls = []
    real = loader.parse

    def counted(text, file):
        calls.append(file)
        return real(text, file)

    monkeypatch.setattr(loader, "parse", counted)
    lab = tmp_path / "one" / "lab.yaml"
    lab.parent.mkdir()
    lab.write_text("name: one\ndescription: first\nnodes:\n  box: {}\n")
    for _ in range(5):
        assert loader.load_once(lab).description == "first"
    assert len(calls) == 1
    lab.write_text("name: one\ndescription: second\nnodes:\n  box: {}\n")
    assert loader.load_once(lab).description == "second"  # new content: validated again
    assert len(calls) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nnodes: 3\n")
    for _ in range(3):
        with pytest.raises(LabInvalid):
            loader.load_once(bad)
    assert len(calls) == 3  # an invalid lab too: refused once, remembered


def test_listing_labs_twice_validates_each_uploaded_lab_once(monkeypatch, tmp_path):
    """20 large uploaded labs, GET /v1/labs three times: each lab parsed once."""
    from fastapi.testclient import TestClient

    from labctl.classroom.server.app import create_app
    from labctl.classroom.server.config import ServerConfig
    from labctl.classroom.server.tokens import TokenStore
    config = ServerConfig(socket=None, state_dir=tmp_path, instructors="no-such-group-here",
                          lab_dirs=[])
    app = create_app(config)
    token = TokenStore(config.tokens_file).add("mal")
    api = TestClient(app, base_url="http://testserver",
                     headers={"authorization": f"Bearer {token}"})
    nodes = "".join(f"  n{i}: {{}}\n" for i in range(8))  # the most a student may run
    steps = "".join(f"  - {{on: n{i % 8}, run: 'echo {i}'}}\n" for i in range(300))
    for i in range(20):
        sent = api.post("/v1/labs", json={"yaml": f"name: big-{i}\nnodes:\n{nodes}"
                                                  f"steps:\n{steps}"})
        assert sent.status_code == 201, sent.text
    parsed = []
    real = loader.parse
    monkeypatch.setattr(loader, "parse", lambda text, file: parsed.append(file) or real(
        text, file))
    for _ in range(3):
        listed = api.get("/v1/labs")
        assert listed.status_code == 200
        assert len([lab for lab in listed.json() if lab["source"] == "yours"]) == 20
    # the first listing validates each; the next two reuse what it found
    assert len([file for file in parsed if "big-" in file]) == 20
