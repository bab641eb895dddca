from pathlib import Path

import pytest

from labctl.errors import LabInvalid, LabNotFound
from labctl.lab import loader

ROOT = Path(__file__).resolve().parents[2]


def test_bundled_labs_are_valid():
    labs = loader.available_labs(ROOT)
    assert "handshake-lab" in labs
    for name in labs:
        assert loader.load(name, ROOT).name == name


def test_resolve_by_name_directory_and_file(tmp_path):
    by_name = loader.resolve("handshake-lab", ROOT)
    assert by_name == ROOT / "labs" / "handshake-lab" / "lab.yaml"
    assert loader.resolve(ROOT / "labs" / "handshake-lab") == by_name
    assert loader.resolve(by_name) == by_name


def test_unknown_lab_suggests_the_closest_name():
    with pytest.raises(LabNotFound, match="did you mean 'handshake-lab'"):
        loader.resolve("handshake-lb", ROOT)


def test_directory_without_lab_file(tmp_path):
    with pytest.raises(LabNotFound, match="no lab.yaml"):
        loader.resolve(tmp_path)


def test_on_key_is_text_not_boolean():
    lab = loader.parse("name: x\nnodes:\n  a: {}\nsteps:\n  - on: a\n    run: ls\n", "f")
    assert lab.steps[0].on == "a"


def test_service_shorthand_and_defaults():
    lab = loader.parse("name: x\nnodes:\n  s:\n    services: [echo, udp, http]\n", "f")
    ports = [(s.kind, s.proto, s.port) for s in lab.nodes["s"].services]
    assert ports == [("echo", "tcp", 50007), ("udp", "udp", 50000), ("http", "tcp", 80)]


def test_same_port_on_tcp_and_udp_is_fine():
    lab = loader.parse("name: x\nnodes:\n  s:\n    services:\n      - echo: {port: 5000}\n"
                       "      - udp: {port: 5000}\n", "f")
    assert len(lab.nodes["s"].services) == 2


def test_file_not_utf8(tmp_path):
    bad = tmp_path / "lab.yaml"
    bad.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(LabInvalid, match="not UTF-8"):
        loader.load(bad)
