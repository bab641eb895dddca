"""Lab files are read as YAML 1.2 (the core schema, as editors and check-jsonschema read them)."""

from pathlib import Path

import pytest

from labctl.errors import LabInvalid
from labctl.lab import loader
from labctl.lab.yaml_reader import MAX_BYTES, YamlProblem, load_text, read_bounded


@pytest.mark.parametrize(("text", "value"), [
    ("yes", "yes"), ("on", "on"), ("No", "No"), ("2024-01-01", "2024-01-01"), ("1:30", "1:30"),
    ("true", True), ("FALSE", False), ("0755", 755), ("0o17", 15), ("0x1F", 31), ("1_000", 1000),
    ("1e3", 1000.0), (".5", 0.5), ("~", None), ("", None), ("'80'", "80"), ("!!str 80", "80"),
])
def test_scalars_are_typed_as_yaml_1_2(text, value):
    assert load_text(f"v: {text}\n", "f").data == {"v": value}


def test_a_date_is_a_description_not_a_timestamp():
    lab = loader.parse("name: x\ndescription: 2024-01-01\nnodes: {a: {}}\n", "f")
    assert lab.description == "2024-01-01"


def test_size_is_refused_before_reading(tmp_path):
    big = tmp_path / "lab.yaml"
    with big.open("wb") as handle:  # sparse: 2 GB on paper, nothing on disk
        handle.truncate(2 * 1024**3)
    with pytest.raises(LabInvalid, match="larger than 256 KiB"):
        loader.load(big)


def test_a_device_is_not_read():
    with pytest.raises(YamlProblem, match="not a regular file"):
        read_bounded(Path("/dev/zero"))


def test_read_stops_at_the_limit(tmp_path):
    path = tmp_path / "lab.yaml"
    path.write_text("a" * (MAX_BYTES + 1))
    with pytest.raises(YamlProblem, match="larger than"):
        read_bounded(path)


def test_one_duplicate_key_hides_nothing_else():
    with pytest.raises(LabInvalid) as info:
        loader.parse("name: x\nname: y\nnodes: {a: {bad: 1}}\n", "f")
    assert [p.line for p in info.value.problems] == [2, 3]


def test_a_duplicate_key_keeps_the_first_value_checked():
    with pytest.raises(LabInvalid) as info:
        loader.parse("name: x\nnodes:\n  a: {bad: 1}\n  a: {}\n", "f")
    assert [str(p) for p in info.value.problems] == [
        "f:3: nodes.a.bad: unknown key (allowed: cap_add, capture, image, links, masquerade, "
        "networks, resources, routes, services, sysctls)",
        "f:4: nodes.a: duplicate key (first defined on line 3)"]
